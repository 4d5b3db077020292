/**
 * State changes as they cross the thread boundary: every value concatenated in one transferred
 * ArrayBuffer, with the keys and the end offset of each value beside it. A checkpoint or a restore chunk
 * of thousands of keys is then two transfers and one array of strings, instead of thousands of small
 * structured-cloned byte arrays. The main side reads values back as views, never copies.
 */
import type { StateChanges } from "./state-store.ts";

export interface ChangeBatch {
  /** Run-length table names: `[table, count, table, count, ...]` in the order of `keys`. */
  tables: (string | number)[];
  keys: string[];
  /** End offset of each value in `bytes`; -1 for a deletion. */
  ends: Int32Array;
  bytes: ArrayBuffer;
}

const INITIAL_BYTES = 64 * 1024;

export class ChangeBatchBuilder {
  readonly #tables: (string | number)[] = [];
  readonly #keys: string[] = [];
  readonly #ends: number[] = [];
  #bytes = new Uint8Array(INITIAL_BYTES);
  #length = 0;
  #table: string | null = null;

  get count(): number {
    return this.#keys.length;
  }

  /** Bytes of the values added so far. */
  get byteLength(): number {
    return this.#length;
  }

  /** Adds one change; `value` is copied at once (it may be a view on an encoder's reused buffer). */
  add(table: string, key: string, value: Uint8Array | null): void {
    if (table !== this.#table) {
      this.#table = table;
      this.#tables.push(table, 0);
    }
    const last = this.#tables.length - 1;
    this.#tables[last] = (this.#tables[last] as number) + 1;
    this.#keys.push(key);
    if (value === null) {
      this.#ends.push(-1);
      return;
    }
    const end = this.#length + value.length;
    if (end > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(end, this.#bytes.length * 2));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    this.#bytes.set(value, this.#length);
    this.#length = end;
    this.#ends.push(end);
  }

  /** The batch, with buffers of exact size that the caller may transfer. */
  finish(): ChangeBatch {
    return {
      tables: this.#tables,
      keys: this.#keys,
      ends: Int32Array.from(this.#ends),
      bytes: this.#bytes.slice(0, this.#length).buffer,
    };
  }
}

/** The buffers to list as transferables when posting a batch. */
export function batchTransfer(batch: ChangeBatch): ArrayBuffer[] {
  return [batch.ends.buffer as ArrayBuffer, batch.bytes];
}

/** Calls `each` for every change in order; values are views on the batch's buffer. */
export function forEachChange(
  batch: ChangeBatch,
  each: (table: string, key: string, value: Uint8Array | null) => void,
): void {
  const bytes = new Uint8Array(batch.bytes);
  let index = 0;
  let offset = 0;
  for (let t = 0; t < batch.tables.length; t += 2) {
    const table = batch.tables[t] as string;
    const end = index + (batch.tables[t + 1] as number);
    for (; index < end; index++) {
      const valueEnd = batch.ends[index] as number;
      if (valueEnd < 0) {
        each(table, batch.keys[index] as string, null);
      } else {
        each(table, batch.keys[index] as string, bytes.subarray(offset, valueEnd));
        offset = valueEnd;
      }
    }
  }
}

export function batchToChanges(batch: ChangeBatch): StateChanges {
  const changes: StateChanges = new Array(batch.keys.length * 3);
  let i = 0;
  forEachChange(batch, (table, key, value) => {
    changes[i++] = table;
    changes[i++] = key;
    changes[i++] = value;
  });
  return changes;
}

export function changesToBatch(changes: StateChanges): ChangeBatch {
  const builder = new ChangeBatchBuilder();
  for (let i = 0; i < changes.length; i += 3) {
    builder.add(changes[i] as string, changes[i + 1] as string, changes[i + 2] as Uint8Array | null);
  }
  return builder.finish();
}

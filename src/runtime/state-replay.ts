/**
 * Segments replayed into the latest value of every key, table by table, in the tables' iteration order:
 * what a worker restores its tables from (it then decodes the values with each table's codec). A store
 * folds its log with state-compaction.ts instead, which decodes nothing.
 *
 * Per key it keeps where its value is (a number: segment index × 2^32 + the offset of the value's length
 * prefix), not a view: a view per record was a fifth of a replay's time. A base that comes first (its
 * chunks say so) holds each key once, in order: its keys are listed, not set in a Map, and the segments
 * after it are kept per key as changes to that list, merged when the values are handed over: setting
 * every record's key in a Map was most of a replay's time (an analyzer's 358k base keys: 120 ms in a Map,
 * 45 ms listed, plus ~55 ms for the merge's lookups when changes follow the base).
 */
import { openSegment } from "./segment-compression.ts";
import { isBaseSegment, locateSegment, RecordKind, valueBytesAt } from "./state-segment.ts";

/** Where a restored value lies: segment index × this + offset in the segment. */
const SEGMENT_SHIFT = 2 ** 32;

/** A change's mark for a key deleted since the base. */
const DELETED = -1;

/** One table's restored values, to decode: the segments and, per live key in order, where its value is. */
export interface RestoredValues {
  readonly segments: readonly Uint8Array[];
  readonly keys: readonly string[];
  readonly positions: readonly number[];
}

/** One table's records: the leading base's keys, then what the later segments did to them. */
interface TableReplay {
  /** The base's keys and where their values are, in order; each key once. */
  readonly keys: string[];
  readonly positions: number[];
  /**
   * Per key changed since the base: where its value is now, ≥ 0 when it goes at the end of the order (added,
   * or deleted and added again: in the order of this Map), `-position - 2` when it is a base key updated in
   * its place, {@link DELETED} when it is gone.
   */
  readonly changes: Map<string, number>;
}

export class SegmentReplay {
  readonly #segments: Uint8Array[] = [];
  readonly #tables = new Map<string, TableReplay>();
  /** The tables' live keys in order, once asked for (until the next segment is fed). */
  #merged: Map<string, RestoredValues> | null = null;
  /** A segment other than a leading base's chunk was fed: records change what is there. */
  #changes = false;

  /** Applies one stored segment's records, in order. */
  feed(stored: Uint8Array): void {
    const segment = openSegment(stored);
    const index = this.#segments.push(segment) - 1;
    const base = index * SEGMENT_SHIFT;
    const leadingBase = !this.#changes && isBaseSegment(segment);
    if (!leadingBase) this.#changes = true;
    this.#merged = null;
    // The records are read first, then applied: as with a table's load (durable-table.ts), the keys'
    // decoding and the Maps' lookups took longer interleaved than one after the other (~10%, measured).
    const names: string[] = [];
    const kinds: RecordKind[] = [];
    const keys: string[] = [];
    const positions: number[] = [];
    locateSegment(segment, (tableName, kind, key, valueAt) => {
      names.push(tableName);
      kinds.push(kind);
      keys.push(key);
      positions.push(base + valueAt);
    });
    let name = "";
    let table: TableReplay | undefined;
    for (let i = 0; i < keys.length; i++) {
      const tableName = names[i] as string;
      if (tableName !== name || !table) {
        name = tableName;
        table = this.#table(tableName);
      }
      const key = keys[i] as string;
      const position = positions[i] as number;
      if (leadingBase) {
        table.keys.push(key);
        table.positions.push(position);
      } else change(table.changes, kinds[i] as RecordKind, key, position);
    }
  }

  /** Live keys over every table. */
  get keys(): number {
    let keys = 0;
    for (const values of this.#merge().values()) keys += values.keys.length;
    return keys;
  }

  /** Per table, the live keys' values (views on the segments fed) in the table's order: for inspection. */
  get tables(): Map<string, Map<string, Uint8Array>> {
    const out = new Map<string, Map<string, Uint8Array>>();
    for (const [name, restored] of this.#merge()) {
      const values = new Map<string, Uint8Array>();
      for (let i = 0; i < restored.keys.length; i++)
        values.set(restored.keys[i] as string, this.#bytesAt(restored.positions[i] as number));
      out.set(name, values);
    }
    return out;
  }

  /** Hands over a table's values to decode (and forgets them); undefined when none were restored. */
  take(table: string): RestoredValues | undefined {
    const values = this.#merge().get(table);
    if (!values) return undefined;
    this.#merged?.delete(table);
    this.#tables.delete(table);
    return values;
  }

  #table(name: string): TableReplay {
    let table = this.#tables.get(name);
    if (!table) {
      table = { keys: [], positions: [], changes: new Map() };
      this.#tables.set(name, table);
    }
    return table;
  }

  /** Every table's live keys in order: the base's that stay, then the ones added since. */
  #merge(): Map<string, RestoredValues> {
    if (this.#merged) return this.#merged;
    const merged = new Map<string, RestoredValues>();
    for (const [name, table] of this.#tables) {
      const { changes } = table;
      if (changes.size === 0) {
        merged.set(name, { segments: this.#segments, keys: table.keys, positions: table.positions });
        continue;
      }
      const keys: string[] = [];
      const positions: number[] = [];
      for (let i = 0; i < table.keys.length; i++) {
        const key = table.keys[i] as string;
        const change = changes.get(key);
        if (change === undefined) {
          keys.push(key);
          positions.push(table.positions[i] as number);
        } else if (change <= -2) {
          keys.push(key);
          positions.push(-change - 2);
        }
      }
      for (const [key, change] of changes) {
        if (change < 0) continue;
        keys.push(key);
        positions.push(change);
      }
      merged.set(name, { segments: this.#segments, keys, positions });
    }
    this.#merged = merged;
    return merged;
  }

  #bytesAt(position: number): Uint8Array {
    const segment = this.#segments[Math.floor(position / SEGMENT_SHIFT)] as Uint8Array;
    return valueBytesAt(segment, position % SEGMENT_SHIFT);
  }
}

/**
 * One record after the base, kept as a change: `update` sets a key in its place, `insert` puts it at the
 * end (deleted first when it was there), `delete` deletes it (state-segment.ts).
 */
function change(changes: Map<string, number>, kind: RecordKind, key: string, position: number): void {
  if (kind === RecordKind.delete) {
    changes.set(key, DELETED);
    return;
  }
  if (kind === RecordKind.update) {
    const was = changes.get(key);
    // A key not changed since the base is in the base; one added since keeps its place among those; one
    // deleted goes to the end, as a Map's set would put it.
    if (was === undefined || was <= -2) {
      changes.set(key, -position - 2);
      return;
    }
    if (was >= 0) {
      changes.set(key, position);
      return;
    }
  }
  // Most inserts add a key: one lookup tells it, and the rare key already there moves to the end.
  const size = changes.size;
  if (changes.set(key, position).size === size) {
    changes.delete(key);
    changes.set(key, position);
  }
}

/** Calls `visit` per restored key, in order, with its value's segment and the offset of its length prefix. */
export function eachValue(
  values: RestoredValues,
  visit: (key: string, segment: Uint8Array, at: number) => void,
): void {
  const { segments, keys, positions } = values;
  for (let i = 0; i < keys.length; i++) {
    const position = positions[i] as number;
    visit(
      keys[i] as string,
      segments[Math.floor(position / SEGMENT_SHIFT)] as Uint8Array,
      position % SEGMENT_SHIFT,
    );
  }
}

/**
 * Durable tables: the part of an actor's state that survives a crash. Each table is a Map-like store of
 * string keys that records which keys were touched since the last checkpoint, so a checkpoint writes only
 * those keys' current values (or their deletion): its size follows the keys touched, not the state size.
 * Tables are restored before `initialState` runs, so it can rebuild derived indexes from them.
 *
 * An actor spawned without a state store gets the same tables, unpersisted and untracked: one actor
 * module runs with or without durability (tests, inline evaluation, memory-only demos).
 */
import { TroupeError } from "../errors.ts";
import { eachValue, type RestoredValues, SegmentReplay } from "./state-replay.ts";
import {
  RecordKind,
  type SegmentWriter,
  ValueReader,
  type ValueWriter,
  valueBytesAt,
} from "./state-segment.ts";
import { valueCodec } from "./value-codec.ts";

/** How a table's values become bytes in a checkpoint and back. */
export interface TableCodec<V> {
  encode(value: V): Uint8Array;
  decode(bytes: Uint8Array): V;
  /** Optional: writes the value straight into the checkpoint's segment (no buffer of its own to copy). */
  encodeInto?(value: V, out: ValueWriter): void;
  /** Optional: reads a value `encodeInto` wrote (a restore then reuses one reader for every value). */
  decodeFrom?(input: ValueReader): V;
}

/** Where an actor declares its durable tables: `ctx.tables.table<V>(name)` in `initialState`. */
export interface Tables {
  /** The table named `name` (the same one on every call), with its restored contents. */
  table<V>(name: string, codec?: TableCodec<V>): DurableTable<V>;
  /**
   * Calls `write` as each checkpoint completes, before its last changes are collected: state that lives
   * outside the tables between checkpoints (a short-lived buffer not worth a table write per change) is
   * put into them then, and the checkpoint, which covers every message handled so far, holds it.
   */
  beforeCheckpoint(write: () => void): void;
}

/** Records written between two looks at the clock while a checkpoint is written in slices. */
const CLOCK_CHECK_EVERY = 32;

/** A table's keys set aside for the checkpoint under way. */
interface Frozen {
  readonly touched: Set<string>;
  readonly inserted: Map<string, boolean>;
  /** Where writing stands: in `touched` (deletions and updates), then in `inserted`. */
  pending: SetIterator<string> | MapIterator<string>;
  inserts: boolean;
}

export class DurableTable<V> implements Iterable<[string, V]> {
  readonly name: string;
  readonly #map = new Map<string, V>();
  readonly #codec: TableCodec<V>;
  /** Keys changed since the last checkpoint; null when the table is not persisted. */
  #touched: Set<string> | null;
  /**
   * Keys added (absent before) since the last checkpoint, in the order they were added: written as
   * `insert` records in that order, so a replay puts them at the end of the table's order as the Map did.
   * True for a key added between two checkpoints and not changed before in that interval: no checkpoint
   * has it, so if it goes again before the next one, nothing needs writing (a tenth of the analyzers' keys
   * per checkpoint: open buys, trade windows and chain links that live less than one).
   */
  #inserted: Map<string, boolean> | null;
  /** A checkpoint began (its keys may be in a segment already) and its last slice has not been collected. */
  #checkpointing = false;
  /** The touched and inserted keys when the checkpoint under way began, while they are being written. */
  #frozen: Frozen | null = null;
  /**
   * The key last added to `#touched`: a third of the analyzers' touches repeat their table's previous key
   * (a handler changes a value in several steps), and a string compare is cheaper than a Set's hash probe.
   */
  #lastTouched: string | undefined;

  /** @internal Created by {@link Tables.table}. */
  constructor(name: string, codec: TableCodec<V>, tracked: boolean) {
    this.name = name;
    this.#codec = codec;
    this.#touched = tracked ? new Set() : null;
    this.#inserted = tracked ? new Map() : null;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  set(key: string, value: V): this {
    const map = this.#map;
    const touched = this.#touched;
    if (!touched) {
      map.set(key, value);
      return this;
    }
    // A grown size tells an insert from an update without a lookup of its own, and the touched keys' grown
    // size a key not changed before since the last checkpoint.
    const size = map.size;
    map.set(key, value);
    if (map.size !== size) {
      const touchedBefore = touched.size;
      touched.add(key);
      this.#lastTouched = key;
      (this.#inserted as Map<string, boolean>).set(
        key,
        touched.size !== touchedBefore && !this.#checkpointing,
      );
    } else if (key !== this.#lastTouched) {
      touched.add(key);
      this.#lastTouched = key;
    }
    return this;
  }

  delete(key: string): boolean {
    const had = this.#map.delete(key);
    const touched = this.#touched;
    if (had && touched) {
      const inserted = this.#inserted as Map<string, boolean>;
      // Added again later, it goes to the end of the order, as in a Map.
      const fresh = inserted.get(key);
      if (fresh !== undefined) inserted.delete(key);
      if (fresh === true) {
        touched.delete(key);
        this.#lastTouched = undefined;
      } else {
        touched.add(key);
        this.#lastTouched = key;
      }
    }
    return had;
  }

  /** Marks a value changed in place (`table.get(k).count++`): the next checkpoint writes it. */
  touch(key: string): void {
    if (key === this.#lastTouched) return;
    const touched = this.#touched;
    if (!touched) return;
    touched.add(key);
    this.#lastTouched = key;
  }

  clear(): void {
    if (this.#touched) for (const key of this.#map.keys()) this.#touched.add(key);
    this.#inserted?.clear();
    this.#map.clear();
  }

  keys(): MapIterator<string> {
    return this.#map.keys();
  }

  values(): MapIterator<V> {
    return this.#map.values();
  }

  entries(): MapIterator<[string, V]> {
    return this.#map.entries();
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.#map.entries();
  }

  forEach(fn: (value: V, key: string, table: this) => void): void {
    for (const [key, value] of this.#map) fn(value, key, this);
  }

  /**
   * @internal Loads the restored values, in the table's order (a replay keeps it, state-replay.ts). All
   * are decoded first, then set: decoding and filling the Map in one pass took about twice as long for the
   * analyzers' wallet entries (190 against 92 ms at 177k; measured, the cause not pinned down).
   */
  load(values: RestoredValues): void {
    const codec = this.#codec;
    const decodeFrom = codec.decodeFrom;
    const decoded: V[] = [];
    let reader: ValueReader | null = null;
    eachValue(values, (_key, segment, at) => {
      if (!decodeFrom) decoded.push(codec.decode(valueBytesAt(segment, at)));
      else {
        reader ??= new ValueReader(segment);
        decoded.push(decodeFrom.call(codec, reader.resetAt(segment, at)));
      }
    });
    const map = this.#map;
    const keys = values.keys;
    for (let i = 0; i < keys.length; i++) map.set(keys[i] as string, decoded[i] as V);
  }

  /**
   * @internal Writes the touched keys to a checkpoint's segment and forgets them: deletions and updates in
   * place first, then the keys added since the last checkpoint, in the order they were added. Keys frozen
   * by {@link freeze} and not yet written go first.
   */
  collect(into: SegmentWriter): void {
    this.collectFrozen(into, Number.POSITIVE_INFINITY);
    this.#checkpointing = false;
    const touched = this.#touched;
    if (!touched || touched.size === 0) return;
    into.section(this.name);
    this.#writeTouched(into, touched, this.#inserted as Map<string, boolean>);
    touched.clear();
    (this.#inserted as Map<string, boolean>).clear();
    this.#lastTouched = undefined;
  }

  /** @internal Keys touched since the last checkpoint began (or its last round: see {@link freeze}). */
  get touchedKeys(): number {
    return this.#touched?.size ?? 0;
  }

  /**
   * @internal A checkpoint begins: the keys touched so far are set aside to be written in slices
   * ({@link collectFrozen}) while messages go on being handled; what they touch meanwhile is tracked anew.
   */
  freeze(): void {
    const touched = this.#touched;
    if (!touched) return;
    this.#checkpointing = true;
    if (touched.size === 0 || this.#frozen) return;
    const inserted = this.#inserted as Map<string, boolean>;
    this.#frozen = { touched, inserted, pending: touched.values(), inserts: false };
    this.#touched = new Set();
    this.#inserted = new Map();
    this.#lastTouched = undefined;
  }

  /**
   * @internal Writes frozen keys with their current values until `deadline` (performance.now() ms); true
   * once none is left. A key changed again after it was written is touched anew, so the checkpoint's last
   * slice ({@link collect}) writes it again: the segment ends with every key's value at that last slice.
   */
  collectFrozen(into: SegmentWriter, deadline: number): boolean {
    const frozen = this.#frozen;
    if (!frozen) return true;
    const map = this.#map;
    into.section(this.name);
    let budget = CLOCK_CHECK_EVERY;
    for (;;) {
      const next = frozen.pending.next();
      if (next.done) {
        if (frozen.inserts) break;
        frozen.inserts = true;
        frozen.pending = frozen.inserted.keys();
        continue;
      }
      const key = next.value;
      // One lookup per key in the table's Map (large, so each probe is likely a cache miss): `has` only
      // for a value stored as undefined.
      const value = map.get(key);
      const live = value !== undefined || map.has(key);
      if (frozen.inserts) {
        if (live) this.#write(into, RecordKind.insert, key, value as V);
      } else if (!live) into.add(RecordKind.delete, key);
      else if (!frozen.inserted.has(key)) this.#write(into, RecordKind.update, key, value as V);
      if (--budget === 0) {
        if (performance.now() >= deadline) return false;
        budget = CLOCK_CHECK_EVERY;
      }
    }
    this.#frozen = null;
    return true;
  }

  #writeTouched(into: SegmentWriter, touched: Set<string>, inserted: Map<string, boolean>): void {
    const map = this.#map;
    for (const key of touched) {
      const value = map.get(key);
      if (value === undefined && !map.has(key)) into.add(RecordKind.delete, key);
      else if (!inserted.has(key)) this.#write(into, RecordKind.update, key, value as V);
    }
    for (const key of inserted.keys()) {
      const value = map.get(key);
      if (value !== undefined || map.has(key)) this.#write(into, RecordKind.insert, key, value as V);
    }
  }

  #write(into: SegmentWriter, kind: RecordKind, key: string, value: V): void {
    const codec = this.#codec;
    try {
      if (codec.encodeInto) into.addEncoded(kind, key, value, codec.encodeInto);
      else into.add(kind, key, codec.encode(value));
    } catch (cause) {
      throw new TroupeError(
        "ERR_ENCODE",
        `table ${this.name}, key ${key}: value cannot be encoded: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
}

/** The worker's tables of one incarnation. */
export class DurableTables implements Tables {
  readonly #persisted: boolean;
  readonly #tables = new Map<string, DurableTable<unknown>>();
  /** The restored segments replayed, until `initialState` returned; values are decoded as tables are declared. */
  #restored: SegmentReplay | null = new SegmentReplay();
  readonly #beforeCheckpoint: (() => void)[] = [];

  constructor(persisted: boolean) {
    this.#persisted = persisted;
  }

  get persisted(): boolean {
    return this.#persisted;
  }

  /** Live keys restored (over every table, declared or not): what the restore stats report. */
  get restoredKeys(): number {
    return this.#restored?.keys ?? 0;
  }

  table<V>(name: string, codec?: TableCodec<V>): DurableTable<V> {
    const existing = this.#tables.get(name);
    if (existing) return existing as DurableTable<V>;
    if (typeof name !== "string" || name.length === 0) {
      throw new TroupeError("ERR_INVALID_OPTION", `a table name must be a non-empty string, got ${name}`);
    }
    // Declared later, its restored contents would be gone (dropped at `sealed`): refuse rather than lose it.
    if (this.#persisted && !this.#restored) {
      throw new TroupeError(
        "ERR_INVALID_OPTION",
        `table ${name}: durable tables are declared in initialState, before the first message`,
      );
    }
    const table = new DurableTable<V>(name, codec ?? (valueCodec as TableCodec<V>), this.#persisted);
    const restored = this.#restored?.take(name);
    if (restored) table.load(restored);
    this.#tables.set(name, table as DurableTable<unknown>);
    return table;
  }

  beforeCheckpoint(write: () => void): void {
    this.#beforeCheckpoint.push(write);
  }

  /** @internal One segment of the last durable checkpoint, received before `initialState`. */
  restore(segment: Uint8Array): void {
    if (!this.#restored)
      throw new TroupeError("ERR_INVALID_OPTION", "tables are restored before initialState only");
    this.#restored.feed(segment);
  }

  /**
   * @internal `initialState` returned: restored tables it did not declare are dropped from memory (they
   * stay in the store untouched), nothing can be restored any more, and no durable table be declared.
   */
  sealed(): void {
    this.#restored = null;
  }

  /** @internal Every table's touched keys (the frozen ones left first), as one checkpoint. */
  collect(into: SegmentWriter): void {
    for (const write of this.#beforeCheckpoint) write();
    for (const table of this.#tables.values()) table.collect(into);
  }

  /** @internal Keys touched over every table since the last {@link freeze}. */
  get touchedKeys(): number {
    let keys = 0;
    for (const table of this.#tables.values()) keys += table.touchedKeys;
    return keys;
  }

  /**
   * @internal A checkpoint begins, or its next round once the frozen keys are written: every table's
   * touched keys are set aside to be written in slices. A round's records follow the previous round's, as
   * the last slice's follow them all, so the segment replays to the tables as they were at its end.
   */
  freeze(): void {
    for (const table of this.#tables.values()) table.freeze();
  }

  /** @internal Writes frozen keys until `deadline` (performance.now() ms); true once none is left. */
  collectFrozen(into: SegmentWriter, deadline: number): boolean {
    for (const table of this.#tables.values()) if (!table.collectFrozen(into, deadline)) return false;
    return true;
  }
}

/** Tables for running an actor's handler outside the runtime (tests, inline evaluation): never persisted. */
export function memoryTables(): Tables {
  const tables = new DurableTables(false);
  tables.sealed();
  return tables;
}

/**
 * Segments replayed into the latest value of every key, table by table, in the tables' iteration order:
 * what a worker restores its tables from (it then decodes the values with each table's codec). A store
 * folds its log with state-compaction.ts instead, which decodes nothing.
 *
 * Per key it keeps where its value is (a number: segment index × 2^32 + the offset of the value's length
 * prefix), not a view: a view per record was a fifth of a replay's time. A base that comes first (its
 * chunks say so) holds each key once: its inserts are set without a lookup first.
 */
import { openSegment } from "./segment-compression.ts";
import { isBaseSegment, locateSegment, RecordKind, valueBytesAt } from "./state-segment.ts";

/** Where a restored value lies: segment index × this + offset in the segment. */
const SEGMENT_SHIFT = 2 ** 32;

/** One table's restored values, to decode: the segments and, per live key in order, where its value is. */
export interface RestoredValues {
  readonly segments: readonly Uint8Array[];
  readonly positions: ReadonlyMap<string, number>;
}

export class SegmentReplay {
  readonly #segments: Uint8Array[] = [];
  readonly #positions = new Map<string, Map<string, number>>();
  /** A segment other than a leading base's chunk was fed: inserts must move keys already there. */
  #changes = false;

  /** Applies one stored segment's records, in order. */
  feed(stored: Uint8Array): void {
    const segment = openSegment(stored);
    const index = this.#segments.push(segment) - 1;
    const base = index * SEGMENT_SHIFT;
    const leadingBase = !this.#changes && isBaseSegment(segment);
    if (!leadingBase) this.#changes = true;
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
    const tables = this.#positions;
    let name = "";
    let table: Map<string, number> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const tableName = names[i] as string;
      if (tableName !== name || !table) {
        name = tableName;
        table = tables.get(tableName);
        if (!table) {
          table = new Map();
          tables.set(tableName, table);
        }
      }
      const kind = kinds[i];
      const key = keys[i] as string;
      const position = positions[i] as number;
      if (kind === RecordKind.delete) table.delete(key);
      else if (kind === RecordKind.update || leadingBase) table.set(key, position);
      else {
        // Most inserts add a key: one lookup tells it, and the rare key already there moves to the end.
        const size = table.size;
        if (table.set(key, position).size === size) {
          table.delete(key);
          table.set(key, position);
        }
      }
    }
  }

  /** Live keys over every table. */
  get keys(): number {
    let keys = 0;
    for (const table of this.#positions.values()) keys += table.size;
    return keys;
  }

  /** Per table, the live keys' values (views on the segments fed) in the table's order: for inspection. */
  get tables(): Map<string, Map<string, Uint8Array>> {
    const out = new Map<string, Map<string, Uint8Array>>();
    for (const [name, positions] of this.#positions) {
      const values = new Map<string, Uint8Array>();
      for (const [key, position] of positions) values.set(key, this.#bytesAt(position));
      out.set(name, values);
    }
    return out;
  }

  /** Hands over a table's values to decode (and forgets them); undefined when none were restored. */
  take(table: string): RestoredValues | undefined {
    const positions = this.#positions.get(table);
    if (!positions) return undefined;
    this.#positions.delete(table);
    return { segments: this.#segments, positions };
  }

  #bytesAt(position: number): Uint8Array {
    const segment = this.#segments[Math.floor(position / SEGMENT_SHIFT)] as Uint8Array;
    return valueBytesAt(segment, position % SEGMENT_SHIFT);
  }
}

/** Calls `visit` per restored key, in order, with its value's segment and the offset of its length prefix. */
export function eachValue(
  values: RestoredValues,
  visit: (key: string, segment: Uint8Array, at: number) => void,
): void {
  const segments = values.segments;
  for (const [key, position] of values.positions)
    visit(key, segments[Math.floor(position / SEGMENT_SHIFT)] as Uint8Array, position % SEGMENT_SHIFT);
}

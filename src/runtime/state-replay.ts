/**
 * Segments replayed into the latest value of every key, table by table, in the tables' iteration order.
 * One replay serves both ends of the changelog: a worker restoring its tables (it then decodes the values)
 * and a store compacting its log (it then writes the live keys back as a base of `insert` records, which is
 * Kafka's log compaction: by key, without reading the values).
 */
import { RecordKind, readSegment, SegmentWriter } from "./state-segment.ts";

/** Bytes per base chunk a compaction writes: one store value each, small enough not to stall Redis. */
export const BASE_CHUNK_BYTES = 1 << 20;

export class SegmentReplay {
  /** Per table, the live keys' values (views on the segments fed) in the table's order. */
  readonly tables = new Map<string, Map<string, Uint8Array>>();

  /** Applies one segment's records, in order. */
  feed(segment: Uint8Array): void {
    const tables = this.tables;
    let name = "";
    let table: Map<string, Uint8Array> | undefined;
    readSegment(segment, (tableName, kind, key, value) => {
      if (tableName !== name || !table) {
        name = tableName;
        table = tables.get(tableName);
        if (!table) {
          table = new Map();
          tables.set(tableName, table);
        }
      }
      if (kind === RecordKind.delete) table.delete(key);
      else {
        if (kind === RecordKind.insert) table.delete(key);
        table.set(key, value as Uint8Array);
      }
    });
  }

  /** Live keys over every table. */
  get keys(): number {
    let keys = 0;
    for (const table of this.tables.values()) keys += table.size;
    return keys;
  }

  /** The live state as segments of `insert` records of at most about `chunkBytes` each. */
  *chunks(chunkBytes = BASE_CHUNK_BYTES): Generator<Uint8Array> {
    const writer = new SegmentWriter();
    for (const [name, table] of this.tables) {
      if (table.size === 0) continue;
      writer.section(name);
      for (const [key, value] of table) {
        writer.add(RecordKind.insert, key, value);
        if (writer.byteLength >= chunkBytes) {
          yield writer.finish() as Uint8Array;
          writer.section(name);
        }
      }
    }
    const last = writer.finish();
    if (last) yield last;
  }
}

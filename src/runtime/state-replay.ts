/**
 * Segments replayed into the latest value of every key, table by table, in the tables' iteration order:
 * what a worker restores its tables from (it then decodes the values with each table's codec). A store
 * folds its log with state-compaction.ts instead, which decodes nothing.
 */
import { RecordKind, readSegment } from "./state-segment.ts";

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
}

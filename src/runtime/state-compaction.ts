/**
 * Compaction of a changelog by key (Kafka's log compaction): the base and the segments after it folded
 * into a new base of `insert` records, the live keys in their tables' order. Nothing is decoded but the
 * keys' bytes (as Latin-1: one character per byte, as unique as the bytes and cheaper than UTF-8), and
 * each live record is copied from where it was last written: per record, one Map entry holding its
 * position (a number, no object). The stores run it on the compaction thread (compaction-thread.ts); it is
 * kept cheap all the same: measured, decoding keys as UTF-8 and keeping a view per value made compaction a
 * fifth of the main thread's time in the durable scanner bench when it ran there.
 */
import { openSegment } from "./segment-compression.ts";
import { RecordKind, SegmentWriter, scanSegment } from "./state-segment.ts";

/** Bytes per base chunk a compaction writes: one store value each, small enough not to stall Redis. */
const BASE_CHUNK_BYTES = 1 << 20;

/** Where a live record was last written: segment index × 2^32 + offset of its key. */
const SEGMENT_SHIFT = 2 ** 32;

interface Table {
  /** The table's name as its UTF-8 bytes, for the output sections. */
  readonly name: Uint8Array;
  readonly records: Map<string, number>;
}

export class SegmentCompaction {
  readonly #segments: Uint8Array[] = [];
  readonly #tables = new Map<string, Table>();

  /** Applies one segment's records, in order (the segment is kept until the chunks are written). */
  feed(stored: Uint8Array): void {
    const segment = openSegment(stored);
    const index = this.#segments.push(segment) - 1;
    const base = index * SEGMENT_SHIFT;
    const tables = this.#tables;
    let name = "";
    let records: Map<string, number> | undefined;
    scanSegment(segment, (tableName, kind, key, keyStart) => {
      if (tableName !== name || !records) {
        name = tableName;
        let table = tables.get(tableName);
        if (!table) {
          table = { name: Buffer.from(tableName, "latin1"), records: new Map() };
          tables.set(tableName, table);
        }
        records = table.records;
      }
      // As a Map replays them: an insert moves its key to the end, an update keeps its place.
      if (kind !== RecordKind.update) records.delete(key);
      if (kind !== RecordKind.delete) records.set(key, base + keyStart);
    });
  }

  /** Live keys over every table. */
  get keys(): number {
    let keys = 0;
    for (const table of this.#tables.values()) keys += table.records.size;
    return keys;
  }

  /** The live state as segments of `insert` records of at most about `chunkBytes` each. */
  *chunks(chunkBytes = BASE_CHUNK_BYTES): Generator<Uint8Array> {
    const writer = new SegmentWriter();
    const segments = this.#segments;
    for (const table of this.#tables.values()) {
      if (table.records.size === 0) continue;
      writer.sectionBytes(table.name);
      for (const position of table.records.values()) {
        const segment = segments[Math.floor(position / SEGMENT_SHIFT)] as Uint8Array;
        const start = position % SEGMENT_SHIFT;
        writer.addRaw(RecordKind.insert, segment.subarray(start, recordEnd(segment, start)));
        if (writer.byteLength >= chunkBytes) {
          yield writer.finish(true) as Uint8Array;
          writer.sectionBytes(table.name);
        }
      }
    }
    const last = writer.finish(true);
    if (last) yield last;
  }
}

/** Where the record whose key starts at `at` ends: after its key and its value, each a varint length and bytes. */
function recordEnd(segment: Uint8Array, at: number): number {
  for (let field = 0; field < 2; field++) {
    let length = 0;
    let scale = 1;
    let byte: number;
    do {
      byte = segment[at++] as number;
      length += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte >= 0x80);
    at += length;
  }
  return at;
}

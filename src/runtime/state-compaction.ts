/**
 * Compaction of a changelog by key (Kafka's log compaction): the base and the segments after it folded
 * into a new base of `insert` records, the live keys in their tables' order. Nothing is decoded: keys are
 * compared as bytes where they lie (record-index.ts), and each live record is copied from where it was last
 * written. The stores run it on the compaction thread (compaction-thread.ts); it is kept cheap all the same:
 * on a 2-core box that thread competes with the actors (the durable scanner spent ~10% of its CPU there).
 */
import { hashBytes, RecordIndex, SEGMENT_SHIFT } from "./record-index.ts";
import { openSegment } from "./segment-compression.ts";
import { isBaseSegment, RecordKind, SegmentWriter, scanSegment } from "./state-segment.ts";

/** Bytes per base chunk a compaction writes: one store value each, small enough not to stall Redis. */
const BASE_CHUNK_BYTES = 1 << 20;

export class SegmentCompaction {
  readonly #segments: Uint8Array[] = [];
  readonly #tables = new Map<string, RecordIndex>();
  /** A segment that is not a base chunk was fed: keys may repeat from here on. */
  #pastBase = false;

  /** Applies one segment's records, in order (the segment is kept until the chunks are written). */
  feed(stored: Uint8Array): void {
    const segment = openSegment(stored);
    const index = this.#segments.push(segment) - 1;
    const segments = this.#segments;
    const tables = this.#tables;
    // A base's chunks hold each key once: fed before anything else, their keys need no lookup.
    if (!isBaseSegment(segment)) this.#pastBase = true;
    const fresh = !this.#pastBase;
    let table: RecordIndex | undefined;
    scanSegment(segment, {
      section(name) {
        table = tables.get(name);
        if (!table) {
          table = new RecordIndex(Buffer.from(name));
          tables.set(name, table);
        }
      },
      record(kind, keyStart, keyAt, keyLength, _valueAt, end) {
        const hash = hashBytes(segment, keyAt, keyLength);
        const length = end - keyStart;
        (table as RecordIndex).apply(segments, index, keyStart, length, keyAt, keyLength, hash, kind, fresh);
      },
    });
  }

  /** Live keys over every table. */
  get keys(): number {
    let keys = 0;
    for (const table of this.#tables.values()) keys += table.size;
    return keys;
  }

  /** The live state as segments of `insert` records of at most about `chunkBytes` each. */
  *chunks(chunkBytes = BASE_CHUNK_BYTES): Generator<Uint8Array> {
    const writer = new SegmentWriter();
    const segments = this.#segments;
    for (const table of this.#tables.values()) {
      if (table.size === 0) continue;
      writer.sectionBytes(table.name);
      const { positions, lengths } = table.ordered();
      for (let i = 0; i < positions.length; i++) {
        const position = positions[i] as number;
        const segment = segments[Math.floor(position / SEGMENT_SHIFT)] as Uint8Array;
        const start = position % SEGMENT_SHIFT;
        writer.addRaw(RecordKind.insert, segment.subarray(start, start + (lengths[i] as number)));
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

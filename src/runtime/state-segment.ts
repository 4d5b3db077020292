/**
 * The bytes of durable state: a segment is one checkpoint's changes (or one chunk of a compacted state),
 * written by the worker into one buffer and stored as one value, so a store writes a checkpoint with one
 * command whatever its size, and keeps a changelog of segments (Kafka Streams' changelog topic) that
 * compaction folds back into a base (state-compaction.ts).
 *
 * A segment replays as operations on Maps, one per table, so the restored tables iterate in the order
 * the live ones did: `update` sets a key in place, `insert` deletes it then sets it (a key added, or
 * deleted and added again, goes to the end, as in a Map), `delete` deletes it. No insertion ranks are
 * stored: the log's order is the order.
 *
 * Layout: a version byte, the record count (u32 LE, so counting needs no parse), then sections until the
 * end: table name (varint length, UTF-8), record count (varint), records (kind byte, key as varint length
 * and UTF-8, and for `update` / `insert` the value as varint length and bytes). The version byte of a
 * compaction's base chunk says so ({@link isBaseSegment}): its records are inserts of keys that appear
 * once in the whole base, which a replay that starts with the base can set without looking them up first.
 */
import { TroupeError } from "../errors.ts";
import { decodeText, encodeTextInto } from "./wtf8.ts";

const SEGMENT_VERSION = 1;
/** Version 1's layout, written by a compaction: a base chunk. */
const BASE_SEGMENT_VERSION = 2;
const HEADER_BYTES = 5;

export const RecordKind = { update: 0, insert: 1, delete: 2 } as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/**
 * Where a codec that writes in place (`TableCodec.encodeInto`) puts a value's bytes: straight into the
 * segment, with no intermediate buffer or copy.
 */
export interface ValueWriter {
  u8(value: number): void;
  /** A non-negative safe integer, in 1–8 bytes (7 bits each). */
  varint(value: number): void;
  f64(value: number): void;
  /** UTF-8, after its byte length as a varint. */
  string(text: string): void;
  bytes(value: Uint8Array): void;
}

/** Builds one segment; a builder is reused across checkpoints (its buffer grows once, to the largest). */
export class SegmentWriter implements ValueWriter {
  #bytes = new Uint8Array(64 * 1024);
  #view = new DataView(this.#bytes.buffer);
  #length = HEADER_BYTES;
  #records = 0;
  /** Where the current section's record count goes (a fixed-width varint), or -1 before any section. */
  #countAt = -1;
  /** Where the current section's name begins: an empty section is cut off there. */
  #sectionStart = HEADER_BYTES;
  #sectionRecords = 0;

  get records(): number {
    return this.#records;
  }

  get byteLength(): number {
    return this.#length;
  }

  /** Starts the records of `table`. */
  section(table: string): void {
    this.#closeSection();
    this.#sectionStart = this.#length;
    this.#string(table);
    this.#countAt = this.#length;
    this.#reserve(5);
    this.#length += 5;
    this.#sectionRecords = 0;
  }

  /** Starts a section whose name is given as its UTF-8 bytes (a compaction copying names it never decoded). */
  sectionBytes(name: Uint8Array): void {
    this.#closeSection();
    this.#sectionStart = this.#length;
    this.#varint(name.byteLength);
    this.bytes(name);
    this.#countAt = this.#length;
    this.#reserve(5);
    this.#length += 5;
    this.#sectionRecords = 0;
  }

  /** One record whose key and value come as they were encoded in another segment (see {@link scanSegment}). */
  addRaw(kind: RecordKind, keyAndValue: Uint8Array): void {
    if (this.#countAt < 0) throw new TroupeError("ERR_INVALID_OPTION", "segment record outside a section");
    this.#reserve(1);
    this.#bytes[this.#length++] = kind;
    this.bytes(keyAndValue);
    this.#records++;
    this.#sectionRecords++;
  }

  /** One record of the current section; `value` (not for `delete`) is copied at once. */
  add(kind: RecordKind, key: string, value?: Uint8Array): void {
    if (this.#countAt < 0) throw new TroupeError("ERR_INVALID_OPTION", "segment record outside a section");
    this.#reserve(1);
    this.#bytes[this.#length++] = kind;
    this.#string(key);
    if (kind !== RecordKind.delete) {
      const bytes = value as Uint8Array;
      this.#varint(bytes.byteLength);
      this.#reserve(bytes.byteLength);
      this.#bytes.set(bytes, this.#length);
      this.#length += bytes.byteLength;
    }
    this.#records++;
    this.#sectionRecords++;
  }

  /**
   * One record whose value `encodeInto` writes in place (through this writer's {@link ValueWriter} methods).
   * Its length prefix is written after it: one byte is set aside, the value moved up the rare time it
   * needs more.
   */
  addEncoded<V>(
    kind: RecordKind,
    key: string,
    value: V,
    encodeInto: (value: V, out: ValueWriter) => void,
  ): void {
    if (this.#countAt < 0) throw new TroupeError("ERR_INVALID_OPTION", "segment record outside a section");
    this.#reserve(1);
    this.#bytes[this.#length++] = kind;
    this.#string(key);
    this.#reserve(1);
    const lengthAt = this.#length;
    this.#length++;
    encodeInto(value, this);
    const length = this.#length - lengthAt - 1;
    if (length < 0x80) {
      this.#bytes[lengthAt] = length;
      this.#records++;
      this.#sectionRecords++;
      return;
    }
    const width = varintWidth(length);
    if (width > 1) {
      this.#reserve(width - 1);
      this.#bytes.copyWithin(lengthAt + width, lengthAt + 1, this.#length);
      this.#length += width - 1;
    }
    writeVarint(this.#bytes, lengthAt, length);
    this.#records++;
    this.#sectionRecords++;
  }

  u8(value: number): void {
    this.#reserve(1);
    this.#bytes[this.#length++] = value;
  }

  varint(value: number): void {
    this.#varint(value);
  }

  f64(value: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.#length, value, true);
    this.#length += 8;
  }

  string(text: string): void {
    this.#string(text);
  }

  bytes(value: Uint8Array): void {
    this.#reserve(value.byteLength);
    this.#bytes.set(value, this.#length);
    this.#length += value.byteLength;
  }

  /**
   * The segment as a fresh buffer of its exact size (the caller may transfer it), or null when no
   * record was added; the writer is then empty and ready for the next one. `base`: a compaction's chunk.
   */
  finish(base = false): Uint8Array | null {
    this.#closeSection();
    const records = this.#records;
    let out: Uint8Array | null = null;
    if (records > 0) {
      this.#bytes[0] = base ? BASE_SEGMENT_VERSION : SEGMENT_VERSION;
      this.#view.setUint32(1, records, true);
      out = this.#bytes.slice(0, this.#length);
    }
    this.#length = HEADER_BYTES;
    this.#records = 0;
    this.#countAt = -1;
    return out;
  }

  #closeSection(): void {
    if (this.#countAt < 0) return;
    if (this.#sectionRecords === 0) {
      // An empty section is dropped: rewind to before its name.
      this.#length = this.#sectionStart;
    } else {
      writeFixedVarint(this.#bytes, this.#countAt, this.#sectionRecords);
    }
    this.#countAt = -1;
  }

  #string(text: string): void {
    const n = text.length;
    // Keys and most strings are short ASCII (addresses, ids): a byte loop beats encodeInto's view on them.
    if (n < 128) {
      this.#reserve(1 + n);
      const bytes = this.#bytes;
      const at = this.#length + 1;
      let i = 0;
      for (; i < n; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) break;
        bytes[at + i] = code;
      }
      if (i === n) {
        bytes[at - 1] = n;
        this.#length = at + n;
        return;
      }
    }
    // UTF-8 (WTF-8 for a lone surrogate) takes at most 3 bytes per UTF-16 unit.
    this.#reserve(5 + n * 3);
    const lengthAt = this.#length;
    const written = encodeTextInto(text, this.#bytes, lengthAt + 5);
    const width = varintWidth(written);
    if (width !== 5) this.#bytes.copyWithin(lengthAt + width, lengthAt + 5, lengthAt + 5 + written);
    writeVarint(this.#bytes, lengthAt, written);
    this.#length = lengthAt + width + written;
  }

  #varint(value: number): void {
    this.#reserve(8);
    // Most are one byte (lengths, small counts): no call for those.
    if (value < 0x80) this.#bytes[this.#length++] = value;
    else this.#length = writeVarint(this.#bytes, this.#length, value);
  }

  #reserve(bytes: number): void {
    const need = this.#length + bytes;
    if (need <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(need, this.#bytes.length * 2));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }
}

/**
 * Reads back what a {@link ValueWriter} wrote, from a record's value bytes. One reader can read value after
 * value ({@link resetAt}): a restore decodes a segment's values one after another, and keeping the views on
 * their common buffer spares three allocations per value.
 */
export class ValueReader {
  #bytes: Buffer;
  #view: DataView;
  /** Where the next read starts, in the buffer the value lies in. */
  at: number;
  #end: number;

  constructor(bytes: Uint8Array) {
    this.#bytes = Buffer.from(bytes.buffer);
    this.#view = new DataView(bytes.buffer);
    this.at = bytes.byteOffset;
    this.#end = bytes.byteOffset + bytes.byteLength;
  }

  /** Reads the value whose length prefix is at `at` in `segment` (see {@link locateSegment}). */
  resetAt(segment: Uint8Array, at: number): this {
    if (segment.buffer !== this.#bytes.buffer) {
      this.#bytes = Buffer.from(segment.buffer);
      this.#view = new DataView(segment.buffer);
    }
    this.at = segment.byteOffset + at;
    const length = readVarint(this.#bytes, this);
    this.#end = this.at + length;
    return this;
  }

  get done(): boolean {
    return this.at >= this.#end;
  }

  u8(): number {
    if (this.at >= this.#end) throw corrupt("value past the end");
    return this.#bytes[this.at++] as number;
  }

  varint(): number {
    return this.#within(readVarint(this.#bytes, this));
  }

  f64(): number {
    if (this.at + 8 > this.#end) throw corrupt("value past the end");
    const value = this.#view.getFloat64(this.at, true);
    this.at += 8;
    return value;
  }

  string(): string {
    return this.#within(readText(this.#bytes, this));
  }

  bytes(length: number): Uint8Array {
    if (this.at + length > this.#end) throw corrupt("value past the end");
    const out = this.#bytes.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  /** The error for bytes that do not read as the value they should be. */
  corrupt(why: string): TroupeError {
    return corrupt(why);
  }

  #within<T>(read: T): T {
    if (this.at > this.#end) throw corrupt("value past the end");
    return read;
  }
}

/** Records in a segment, from its header. */
export function segmentRecords(segment: Uint8Array): number {
  checkHeader(segment);
  return new DataView(segment.buffer, segment.byteOffset, segment.byteLength).getUint32(1, true);
}

/** What {@link readSegment} calls per record; `value` is a view on the segment (null for `delete`). */
export type RecordVisitor = (table: string, kind: RecordKind, key: string, value: Uint8Array | null) => void;

/** Calls `visit` for every record of `segment`, in order. */
export function readSegment(bytes: Uint8Array, visit: RecordVisitor): void {
  const segment = bufferOf(bytes);
  let table = "";
  scanSegment(segment, {
    section(name) {
      table = name;
    },
    record(kind, _keyStart, keyAt, keyLength, valueAt) {
      const key = decodeText(segment, keyAt, keyAt + keyLength);
      visit(table, kind, key, valueAt < 0 ? null : valueBytesAt(segment, valueAt));
    },
  });
}

/**
 * What {@link scanSegment} calls: `section` at each table's records, with its name; `record` per record,
 * with its kind, where it lies (from its key's length prefix at `keyStart` to `end`: what
 * {@link SegmentWriter.addRaw} copies), where its key's `keyLength` bytes are (`keyAt`: a compaction
 * compares them as bytes, a reader decodes them) and where its value's length prefix is (`valueAt`, -1 for
 * a deletion: see {@link valueBytesAt}).
 */
export interface SegmentVisitor {
  section(table: string): void;
  record(
    kind: RecordKind,
    keyStart: number,
    keyAt: number,
    keyLength: number,
    valueAt: number,
    end: number,
  ): void;
}

/**
 * What {@link locateSegment} calls per record: where the value's length prefix is in the segment (-1 for
 * a deletion), to read the value later with {@link ValueReader.resetAt} or {@link valueBytesAt}.
 */
export type LocatedRecordVisitor = (table: string, kind: RecordKind, key: string, valueAt: number) => void;

/** Like {@link readSegment}, with where each value is instead of a view on it: for a restore's replay. */
export function locateSegment(bytes: Uint8Array, visit: LocatedRecordVisitor): void {
  const segment = bufferOf(bytes);
  let table = "";
  scanSegment(segment, {
    section(name) {
      table = name;
    },
    record(kind, _keyStart, keyAt, keyLength, valueAt) {
      visit(table, kind, decodeText(segment, keyAt, keyAt + keyLength), valueAt);
    },
  });
}

/** The bytes of the value whose length prefix is at `at` in `segment` (see {@link locateSegment}). */
export function valueBytesAt(segment: Uint8Array, at: number): Uint8Array {
  const cursor = { at };
  const length = readVarint(segment, cursor);
  return segment.subarray(cursor.at, cursor.at + length);
}

/**
 * The one parse of a segment, behind the readers and the compaction: tables by name (UTF-8), records by
 * where their parts lie; nothing else is decoded.
 */
export function scanSegment(bytes: Uint8Array, visit: SegmentVisitor): void {
  const segment = bufferOf(bytes);
  checkHeader(segment);
  const cursor = { at: HEADER_BYTES };
  const end = segment.byteLength;
  while (cursor.at < end) {
    visit.section(readText(segment, cursor));
    const count = readVarint(segment, cursor);
    for (let i = 0; i < count; i++) {
      const kind = segment[cursor.at++] as RecordKind;
      if (kind !== RecordKind.update && kind !== RecordKind.insert && kind !== RecordKind.delete)
        throw corrupt(`record kind ${kind}`);
      const keyStart = cursor.at;
      const keyLength = readVarint(segment, cursor);
      const keyAt = cursor.at;
      cursor.at += keyLength;
      let valueAt = -1;
      if (kind !== RecordKind.delete) {
        valueAt = cursor.at;
        const valueLength = readVarint(segment, cursor);
        cursor.at += valueLength;
      }
      if (cursor.at > end) throw corrupt("record past the end");
      visit.record(kind, keyStart, keyAt, keyLength, valueAt, cursor.at);
    }
  }
  if (cursor.at !== end) throw corrupt("trailing bytes");
}

/**
 * One segment from flat changes `[table, key, value, ...]` (a null value deletes the key; a value
 * inserts it, moving it to the end of its table's order): for stores' tests and tools.
 */
export function segmentOf(changes: readonly (string | Uint8Array | null)[]): Uint8Array | null {
  const writer = new SegmentWriter();
  let table: string | null = null;
  for (let i = 0; i < changes.length; i += 3) {
    const name = changes[i] as string;
    if (name !== table) {
      table = name;
      writer.section(name);
    }
    const value = changes[i + 2] as Uint8Array | null;
    if (value === null) writer.add(RecordKind.delete, changes[i + 1] as string);
    else writer.add(RecordKind.insert, changes[i + 1] as string, value);
  }
  return writer.finish();
}

function checkHeader(segment: Uint8Array): void {
  if (
    segment.byteLength < HEADER_BYTES ||
    (segment[0] !== SEGMENT_VERSION && segment[0] !== BASE_SEGMENT_VERSION)
  )
    throw corrupt(`not a version ${SEGMENT_VERSION} segment`);
}

/** A compaction's base chunk: inserts only, of keys no other chunk of the same base holds. */
export function isBaseSegment(segment: Uint8Array): boolean {
  return segment[0] === BASE_SEGMENT_VERSION;
}

function corrupt(why: string): TroupeError {
  return new TroupeError("ERR_DECODE", `durable state segment is corrupt: ${why}`);
}

function varintWidth(value: number): number {
  let width = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    width++;
  }
  return width;
}

function writeVarint(bytes: Uint8Array, at: number, value: number): number {
  if (value < 0x80000000) {
    // Bit shifts while it fits 31 bits: most lengths and counts are one or two bytes.
    while (value >= 0x80) {
      bytes[at++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    bytes[at++] = value;
    return at;
  }
  while (value >= 0x80) {
    bytes[at++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  bytes[at++] = value;
  return at;
}

/** A varint padded to 5 bytes, for a count written once its value is known. */
function writeFixedVarint(bytes: Uint8Array, at: number, value: number): void {
  for (let i = 0; i < 4; i++) {
    bytes[at + i] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  bytes[at + 4] = value;
}

function readVarint(bytes: Uint8Array, cursor: { at: number }): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    const byte = bytes[cursor.at++];
    if (byte === undefined) throw corrupt("varint past the end");
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
  throw corrupt("varint longer than 8 bytes");
}

/** Strings are read through a Buffer view: its native UTF-8 slice beats TextDecoder on short keys (~3×). */
function readText(bytes: Buffer, cursor: { at: number }): string {
  const length = readVarint(bytes, cursor);
  const start = cursor.at;
  cursor.at += length;
  if (cursor.at > bytes.byteLength) throw corrupt("string past the end");
  return decodeText(bytes, start, cursor.at);
}

function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A durable-table codec for values of one fixed shape (a wallet, a position): the fields in a declared
 * order, each as a type byte and its bytes, written straight into the checkpoint's segment
 * (`encodeInto`). Numbers, strings, booleans, null / undefined and arrays of them take the fast path;
 * any other field value (an object, a Map, a Set, a bigint) is written with msgpackr inside it. Measured
 * on a wallet-book entry: about 2.5× faster to encode than msgpackr's array of the same fields, and no
 * intermediate buffer to copy. A field declared with a record codec of its own (instead of `true`) holds
 * such a record, or an array of them, written the same way.
 */
import { Packr } from "msgpackr";
import type { TableCodec } from "./durable-table.ts";
import { ValueReader, type ValueWriter } from "./state-segment.ts";

const packr = new Packr({ moreTypes: true });

const Tag = {
  undefined: 0,
  null: 1,
  false: 2,
  true: 3,
  f64: 4,
  uint: 5,
  string: 6,
  array: 7,
  msgpack: 8,
  record: 9,
  records: 10,
} as const;

/** A codec that also writes in place, and reads from within a larger value. */
export interface RecordCodec<T> extends TableCodec<T> {
  encodeInto(value: T, out: ValueWriter): void;
  decodeFrom(input: ValueReader): T;
}

/** A field of a record: `true` for plain data, or the codec of the record (or records) it holds. */
// biome-ignore lint/suspicious/noExplicitAny: a nested record's own type is checked where its codec is made.
type FieldSpec = true | RecordCodec<any>;

/**
 * The codec of values shaped like `T`. `shape` names every field of `T` once (the compiler checks that
 * none is missing or extra); its key order is the stored order, so only add fields at the end: values
 * stored before decode with the new fields undefined.
 */
export function recordCodec<T extends object>(
  shape: {
    readonly [K in keyof Required<T>]: FieldSpec;
  },
): RecordCodec<T> {
  const fields = Object.keys(shape) as (keyof T & string)[];
  const nested = fields.map((field) => {
    const spec = shape[field] as FieldSpec;
    return spec === true ? null : spec;
  });
  const encodeInto = (value: T, out: ValueWriter): void => {
    for (let i = 0; i < fields.length; i++) {
      const field = value[fields[i] as keyof T];
      const codec = nested[i];
      if (codec && field != null) writeNested(field, codec, out);
      else writeField(field, out);
    }
  };
  const decodeFrom = (input: ValueReader): T => {
    const value: Record<string, unknown> = {};
    // A record stored before its later fields were added ends early: they read as undefined.
    for (let i = 0; i < fields.length; i++)
      value[fields[i] as string] = input.done ? undefined : readField(input, nested[i] ?? null);
    return value as T;
  };
  return {
    encodeInto,
    decodeFrom,
    encode(value) {
      const out = new BufferWriter();
      encodeInto(value, out);
      return out.finish();
    },
    decode: (bytes) => decodeFrom(new ValueReader(bytes)),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: see FieldSpec.
function writeNested(value: unknown, codec: RecordCodec<any>, out: ValueWriter): void {
  if (!Array.isArray(value)) {
    out.u8(Tag.record);
    out.varint(0);
    codec.encodeInto(value, out);
    return;
  }
  out.u8(Tag.records);
  out.varint(value.length);
  for (const item of value) codec.encodeInto(item, out);
}

function writeField(value: unknown, out: ValueWriter): void {
  switch (typeof value) {
    case "number":
      // Small counts and sizes as varints (1–5 bytes); -0 is an integer ≥ 0 too, and would come back as 0;
      // timestamps and other large values as f64, one write instead of a division per 7 bits.
      if (value >= 0 && value < 0x80000000 && (value | 0) === value && (value !== 0 || 1 / value > 0)) {
        out.u8(Tag.uint);
        out.varint(value);
      } else {
        out.u8(Tag.f64);
        out.f64(value);
      }
      return;
    case "string":
      out.u8(Tag.string);
      out.string(value);
      return;
    case "boolean":
      out.u8(value ? Tag.true : Tag.false);
      return;
    case "undefined":
      out.u8(Tag.undefined);
      return;
  }
  if (value === null) {
    out.u8(Tag.null);
  } else if (Array.isArray(value)) {
    out.u8(Tag.array);
    out.varint(value.length);
    for (const item of value) writeField(item, out);
  } else {
    const bytes = packr.pack(value);
    out.u8(Tag.msgpack);
    out.varint(bytes.byteLength);
    out.bytes(bytes);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: see FieldSpec.
function readField(input: ValueReader, codec: RecordCodec<any> | null): unknown {
  const tag = input.u8();
  switch (tag) {
    case Tag.record:
    case Tag.records: {
      if (!codec) throw new Error("a nested record in a field declared as plain data");
      const count = input.varint();
      if (tag === Tag.record) return codec.decodeFrom(input);
      const items = new Array(count);
      for (let i = 0; i < count; i++) items[i] = codec.decodeFrom(input);
      return items;
    }
    case Tag.uint:
      return input.varint();
    case Tag.f64:
      return input.f64();
    case Tag.string:
      return input.string();
    case Tag.true:
      return true;
    case Tag.false:
      return false;
    case Tag.undefined:
      return undefined;
    case Tag.null:
      return null;
    case Tag.array: {
      const items = new Array(input.varint());
      for (let i = 0; i < items.length; i++) items[i] = readField(input, null);
      return items;
    }
    case Tag.msgpack:
      return packr.unpack(input.bytes(input.varint()));
  }
  throw new Error(`record field with unknown type ${tag}`);
}

/** A {@link ValueWriter} into a buffer of its own, for `encode` outside a checkpoint. */
class BufferWriter implements ValueWriter {
  #bytes = new Uint8Array(256);
  #view = new DataView(this.#bytes.buffer);
  #length = 0;

  u8(value: number): void {
    this.#reserve(1);
    this.#bytes[this.#length++] = value;
  }

  varint(value: number): void {
    this.#reserve(8);
    while (value >= 0x80) {
      this.#bytes[this.#length++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.#bytes[this.#length++] = value;
  }

  f64(value: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.#length, value, true);
    this.#length += 8;
  }

  string(text: string): void {
    const bytes = encoder.encode(text);
    this.varint(bytes.byteLength);
    this.bytes(bytes);
  }

  bytes(value: Uint8Array): void {
    this.#reserve(value.byteLength);
    this.#bytes.set(value, this.#length);
    this.#length += value.byteLength;
  }

  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(this.#length + bytes, this.#bytes.length * 2));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }
}

const encoder = new TextEncoder();

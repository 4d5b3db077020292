/**
 * The default codec of durable tables: plain data as a type byte and its bytes, written straight into the
 * checkpoint's segment (`encodeInto`). Numbers (varint integers below 2^31, else f64), strings, booleans,
 * null / undefined, arrays, plain objects, Maps and Sets take this path; anything else (a Date, a typed
 * array, a bigint, a class instance) is written with msgpackr inside it. msgpackr alone was the default:
 * on Bun it took ~250 ns per 44-character string and ~96 µs for an object holding a Set of 100 wallet
 * addresses, which made the tables that keep Sets (funding hubs, co-entry mints) most of a checkpoint's
 * time; this path writes ASCII strings byte by byte and a Set as its items.
 */
import { Packr } from "msgpackr";
import type { TableCodec } from "./durable-table.ts";
import { ValueReader, type ValueWriter } from "./state-segment.ts";
import { encodeText } from "./wtf8.ts";

const packr = new Packr({ moreTypes: true });

export const Tag = {
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
  object: 11,
  map: 12,
  set: 13,
} as const;

export function writeValue(value: unknown, out: ValueWriter): void {
  switch (typeof value) {
    case "number":
      // -0 is an integer ≥ 0 too, and would come back as 0; large values (timestamps) as one f64 write.
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
    for (let i = 0; i < value.length; i++) writeValue(value[i], out);
  } else if (value instanceof Set) {
    out.u8(Tag.set);
    out.varint(value.size);
    for (const item of value) writeValue(item, out);
  } else if (value instanceof Map) {
    out.u8(Tag.map);
    out.varint(value.size);
    for (const [key, item] of value) {
      writeValue(key, out);
      writeValue(item, out);
    }
  } else if (isPlainObject(value as object)) {
    const keys = Object.keys(value as object);
    out.u8(Tag.object);
    out.varint(keys.length);
    for (const key of keys) {
      out.string(key);
      writeValue((value as Record<string, unknown>)[key], out);
    }
  } else {
    const bytes = packr.pack(value);
    out.u8(Tag.msgpack);
    out.varint(bytes.byteLength);
    out.bytes(bytes);
  }
}

/** Reads a value {@link writeValue} wrote; `nested` reads the record tags a record codec writes. */
export function readValue(
  input: ValueReader,
  nested?: (tag: number, input: ValueReader) => unknown,
): unknown {
  const tag = input.u8();
  switch (tag) {
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
      for (let i = 0; i < items.length; i++) items[i] = readValue(input);
      return items;
    }
    case Tag.set: {
      const set = new Set();
      for (let n = input.varint(); n > 0; n--) set.add(readValue(input));
      return set;
    }
    case Tag.map: {
      const map = new Map();
      for (let n = input.varint(); n > 0; n--) map.set(readValue(input), readValue(input));
      return map;
    }
    case Tag.object: {
      const object: Record<string, unknown> = {};
      for (let n = input.varint(); n > 0; n--) {
        const key = input.string();
        // Assigned, an own `__proto__` key (JSON.parse makes them from untrusted text) would set the
        // restored object's prototype instead of coming back as the key it was.
        if (key === "__proto__") Object.defineProperty(object, key, ownProperty(readValue(input)));
        else object[key] = readValue(input);
      }
      return object;
    }
    case Tag.msgpack:
      return packr.unpack(input.bytes(input.varint()));
  }
  if (nested) return nested(tag, input);
  throw input.corrupt(`value of unknown type ${tag}`);
}

function ownProperty(value: unknown): PropertyDescriptor {
  return { value, enumerable: true, writable: true, configurable: true };
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The default table codec (see the module's comment). */
export const valueCodec: TableCodec<unknown> = {
  encodeInto: writeValue,
  encode(value) {
    const out = new BufferWriter();
    writeValue(value, out);
    return out.finish();
  },
  decode: (bytes) => readValue(new ValueReader(bytes)),
  decodeFrom: (input) => readValue(input),
};

/** A {@link ValueWriter} into a buffer of its own, for `encode` outside a checkpoint. */
export class BufferWriter implements ValueWriter {
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
    const bytes = encodeText(text);
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

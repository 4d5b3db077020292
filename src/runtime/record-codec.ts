/**
 * A durable-table codec for values of one fixed shape (a wallet, a position): the fields in a declared
 * order without their names, each written as value-codec.ts writes plain data (a type byte and its bytes,
 * straight into the segment). A field declared with a record codec of its own (instead of `true`) holds
 * such a record, or an array of them, written the same way. Against the default codec it saves the field
 * names (about half the bytes of a wallet entry) and reads each field by its literal name.
 */
import { InvalidOptionError } from "../errors.ts";
import type { TableCodec } from "./durable-table.ts";
import { ValueReader, type ValueWriter } from "./state-segment.ts";
import { BufferWriter, readValue, Tag, writeValue } from "./value-codec.ts";

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
  // The decoder is an object literal, where a `"__proto__"` field would set the prototype.
  if (fields.includes("__proto__" as keyof T & string))
    throw new InvalidOptionError("shape", "a record field cannot be named __proto__");
  const nested = fields.map((field) => {
    const spec = shape[field] as FieldSpec;
    if (spec === true) return null;
    // A plain nested shape (`{ n: { c: true } }`) type-checks only through a cast: refused here, or the
    // first checkpoint would fail on it, long after the table was declared.
    if (typeof spec?.encodeInto !== "function" || typeof spec.decodeFrom !== "function")
      throw new InvalidOptionError(
        `shape.${field}`,
        "a field is true (plain data) or the recordCodec(...) of the record it holds",
      );
    return spec;
  });
  const encodeInto = compileEncoder<T>(fields, nested);
  const readers = nested.map((codec) =>
    codec ? (tag: number, from: ValueReader) => readNested(tag, from, codec) : undefined,
  );
  const decodeFrom = compileDecoder<T>(fields, readers);
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

/**
 * The shape's encoder as straight-line code, one property read per field by its literal name: a loop over
 * the names reads `value[name]` through one megamorphic site for every table and field (msgpackr compiles
 * its record readers the same way).
 */
function compileEncoder<T>(
  fields: readonly string[],
  // biome-ignore lint/suspicious/noExplicitAny: see FieldSpec.
  nested: readonly (RecordCodec<any> | null)[],
): (value: T, out: ValueWriter) => void {
  const lines = fields.map((field, i) => {
    const read = `value[${JSON.stringify(field)}]`;
    return nested[i]
      ? `{ const f = ${read}; if (f != null) writeNested(f, nested[${i}], out); else writeValue(f, out); }`
      : `writeValue(${read}, out);`;
  });
  const factory = new Function(
    "writeValue",
    "writeNested",
    "nested",
    `return (value, out) => {\n${lines.join("\n")}\n};`,
  );
  return factory(writeValue, writeNested, nested) as (value: T, out: ValueWriter) => void;
}

/**
 * The shape's decoder as one object literal, its fields in the declared order: every value decoded gets the
 * same hidden class at once, where assigning the fields one by one to `{}` walked a transition per field
 * (measured: a restore of wallet entries ~2× faster). A record stored before its later fields were added
 * ends early: they read as undefined.
 */
function compileDecoder<T>(
  fields: readonly string[],
  readers: readonly (((tag: number, input: ValueReader) => unknown) | undefined)[],
): (input: ValueReader) => T {
  const lines = fields.map(
    (field, i) => `${JSON.stringify(field)}: input.done ? undefined : readValue(input, readers[${i}]),`,
  );
  const factory = new Function("readValue", "readers", `return (input) => ({\n${lines.join("\n")}\n});`);
  return factory(readValue, readers) as (input: ValueReader) => T;
}

// biome-ignore lint/suspicious/noExplicitAny: see FieldSpec.
function writeNested(value: unknown, codec: RecordCodec<any>, out: ValueWriter): void {
  if (!Array.isArray(value)) {
    out.u8(Tag.record);
    codec.encodeInto(value, out);
    return;
  }
  out.u8(Tag.records);
  out.varint(value.length);
  for (const item of value) codec.encodeInto(item, out);
}

// biome-ignore lint/suspicious/noExplicitAny: see FieldSpec.
function readNested(tag: number, input: ValueReader, codec: RecordCodec<any>): unknown {
  if (tag === Tag.record) return codec.decodeFrom(input);
  if (tag !== Tag.records) throw input.corrupt(`record field of unknown type ${tag}`);
  const items = new Array(input.varint());
  for (let i = 0; i < items.length; i++) items[i] = codec.decodeFrom(input);
  return items;
}

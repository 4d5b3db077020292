/**
 * A durable-table codec for values of one fixed shape (a wallet, a position): the fields as a msgpack
 * array in a declared order. The default codec writes a map, repeating every field name in every value;
 * for the tables written most (a wallet entry: 266 → 147 bytes, a position: 106 → 42) the array is about
 * half the bytes and encodes in less than half the time.
 */
import { Packr } from "msgpackr";
import type { TableCodec } from "../../runtime/durable-table.ts";

const packr = new Packr({ moreTypes: true });

/**
 * The codec of values shaped like `T`. `shape` names every field of `T` once (the compiler checks that
 * none is missing or extra); its key order is the stored order, so only add fields at the end: values
 * stored before decode with the new fields undefined.
 */
export function recordCodec<T extends object>(
  shape: { readonly [K in keyof Required<T>]: true },
): TableCodec<T> {
  const fields = Object.keys(shape) as (keyof T & string)[];
  const row: unknown[] = new Array(fields.length);
  return {
    encode(value) {
      for (let i = 0; i < fields.length; i++) row[i] = value[fields[i] as keyof T];
      return packr.pack(row);
    },
    decode(bytes) {
      const stored = packr.unpack(bytes) as unknown[];
      const value: Record<string, unknown> = {};
      for (let i = 0; i < fields.length; i++) value[fields[i] as string] = stored[i];
      return value as T;
    },
  };
}

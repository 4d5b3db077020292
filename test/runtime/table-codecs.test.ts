import { describe, expect, test } from "bun:test";
import { recordCodec } from "../../src/runtime/record-codec.ts";
import { RecordKind, readSegment, SegmentWriter, type ValueWriter } from "../../src/runtime/state-segment.ts";
import { valueCodec } from "../../src/runtime/value-codec.ts";

interface Leg {
  at: number;
  note: string;
}

interface Everything {
  small: number;
  big: number;
  negative: number;
  fraction: number;
  odd: number[];
  text: string;
  unicode: string;
  yes: boolean;
  no: boolean;
  missing: undefined;
  nothing: null;
  list: (string | number | null)[];
  set: Set<string>;
  map: Map<string, number>;
  object: { a: number; b: string[] };
  legs: Leg[];
  first: Leg;
  long: string;
}

const LEG = recordCodec<Leg>({ at: true, note: true });
const CODEC = recordCodec<Everything>({
  small: true,
  big: true,
  negative: true,
  fraction: true,
  odd: true,
  text: true,
  unicode: true,
  yes: true,
  no: true,
  missing: true,
  nothing: true,
  list: true,
  set: true,
  map: true,
  object: true,
  legs: LEG,
  first: LEG,
  long: true,
});

const value: Everything = {
  small: 7,
  big: 1_733_000_000_123,
  negative: -42,
  fraction: 0.1 + 0.2,
  odd: [Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 53 + 2, Number.MIN_VALUE],
  text: "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin",
  unicode: "ünï✓ 🚀",
  yes: true,
  no: false,
  missing: undefined,
  nothing: null,
  list: ["a", 1, null],
  set: new Set(["p", "q"]),
  map: new Map([["k", 1]]),
  object: { a: 1, b: ["x"] },
  legs: [
    { at: 1, note: "one" },
    { at: 2, note: "two" },
  ],
  first: { at: 0, note: "" },
  long: "x".repeat(300),
};

describe("record codec", () => {
  test("round-trips every kind of field, nested records and msgpack fallbacks, byte for byte in place", () => {
    const bytes = CODEC.encode(value);
    const back = CODEC.decode(bytes);
    expect(back).toEqual(value);
    expect(Object.is(back.odd[2], -0)).toBe(true);
    expect(back.set).toBeInstanceOf(Set);
    expect(back.map).toBeInstanceOf(Map);
    // Written in place into a segment, the value's bytes are the same as encode's.
    const writer = new SegmentWriter();
    writer.section("t");
    writer.addEncoded(RecordKind.insert, "k", value, CODEC.encodeInto);
    const seen: Uint8Array[] = [];
    readSegment(writer.finish() as Uint8Array, (_t, _k, _key, v) => seen.push(v as Uint8Array));
    expect([...(seen[0] as Uint8Array)]).toEqual([...bytes]);
  });

  test("a field named __proto__ is refused: the decoder's object literal would set the prototype", () => {
    expect(() => recordCodec<Record<string, number>>({ ["__proto__"]: true, a: true })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_OPTION" }),
    );
  });

  test("a field that is neither true nor a record codec is refused, naming it (a nested shape needs recordCodec)", () => {
    const nestedShape = { a: true, n: { c: true } } as unknown as { a: true; n: true };
    expect(() => recordCodec<{ a: number; n: { c: number } }>(nestedShape)).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_OPTION", option: "shape.n" }),
    );
    expect(() => recordCodec<{ a: number }>({ a: false as unknown as true })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_OPTION", option: "shape.a" }),
    );
    const inner = recordCodec<{ c: number }>({ c: true });
    const outer = recordCodec<{ a: number; n: { c: number } }>({ a: true, n: inner });
    expect(outer.decode(outer.encode({ a: 1, n: { c: 2 } }))).toEqual({ a: 1, n: { c: 2 } });
  });

  test("a value stored before fields were added decodes them as undefined", () => {
    const before = recordCodec<{ a: number }>({ a: true });
    const after = recordCodec<{ a: number; b: string | undefined }>({ a: true, b: true });
    expect(after.decode(before.encode({ a: 3 }))).toEqual({ a: 3, b: undefined });
  });

  test("a value cut inside a field is refused with ERR_DECODE", () => {
    const bytes = CODEC.encode(value);
    expect(() => CODEC.decode(bytes.subarray(0, 6))).toThrow(expect.objectContaining({ code: "ERR_DECODE" }));
  });
});

describe("value codec (the default)", () => {
  test("round-trips plain data, Maps and Sets by itself, and anything else through msgpack", () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.x = 1;
    const rich = {
      n: [0, -0, 1, -1, 2 ** 31, 2 ** 31 - 1, 1.5, Number.NaN, Number.NEGATIVE_INFINITY],
      s: ["", "ascii", "ünï✓ 🚀", "x".repeat(500)],
      flags: [true, false, null, undefined],
      nested: { a: { b: { c: [1, { d: "e" }] } }, empty: {}, missing: undefined },
      set: new Set(["w1", "w2", 3]),
      map: new Map<unknown, unknown>([
        ["k", new Set([1])],
        [7, { v: [1, 2] }],
      ]),
      bare,
      date: new Date(1_733_000_000_000),
      bytes: new Uint8Array([1, 2, 3]),
      big: 12345678901234567890n,
    };
    const back = valueCodec.decode(valueCodec.encode(rich)) as typeof rich;
    expect(back).toEqual(rich);
    expect(Object.is(back.n[1], -0)).toBe(true);
    expect(back.set).toBeInstanceOf(Set);
    expect(back.map).toBeInstanceOf(Map);
    expect(back.date).toBeInstanceOf(Date);
    expect("missing" in back.nested).toBe(true);
  });

  test("an own __proto__ key comes back as that key, not as the object's prototype", () => {
    // What JSON.parse makes of untrusted text: an own property named __proto__.
    const value = JSON.parse('{"a":1,"__proto__":{"polluted":true},"b":{"__proto__":[2]}}');
    const back = valueCodec.decode(valueCodec.encode(value)) as Record<string, unknown>;
    expect(Object.keys(back)).toEqual(["a", "__proto__", "b"]);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(back.polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(back, "__proto__")?.value).toEqual({ polluted: true });
    expect(Object.keys(back.b as object)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("a value written in place into a segment reads back the same", () => {
    const hub = { root: "r", wallets: new Set(Array.from({ length: 100 }, (_, i) => `wallet-${i}`)) };
    const writer = new SegmentWriter();
    writer.section("hubs");
    writer.addEncoded(
      RecordKind.insert,
      "h",
      hub,
      valueCodec.encodeInto as (v: unknown, out: ValueWriter) => void,
    );
    let value: Uint8Array | null = null;
    readSegment(writer.finish() as Uint8Array, (_t, _k, _key, v) => {
      value = v;
    });
    expect(valueCodec.decode(value as unknown as Uint8Array)).toEqual(hub);
  });
});

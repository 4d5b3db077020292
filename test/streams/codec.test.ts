import { describe, expect, test } from "bun:test";
import { TroupeError } from "../../src/errors.ts";
import { defaultCodec, jsonCodec, rawJsonCodec } from "../../src/streams/entry-codec.ts";
import { defaultOutputsOf } from "../../src/streams/outputs.ts";
import { compareIdStrings, parseStreamId, rangeEnd, rangeStart } from "../../src/streams/stream-id.ts";

const decodeError = (fields: Record<string, Buffer>) => {
  try {
    defaultCodec.decode(fields);
  } catch (error) {
    expect(error).toBeInstanceOf(TroupeError);
    expect((error as TroupeError).code).toBe("ERR_DECODE");
    return (error as TroupeError).message;
  }
  throw new Error("decoded");
};

describe("entry codec", () => {
  test("msgpack in field d round-trips, and each encode owns its bytes", () => {
    const a = defaultCodec.encode({ mint: "So1", amount: 1.5, raw: Buffer.from([1, 2]) });
    const b = defaultCodec.encode({ other: true });
    expect(Object.keys(a)).toEqual(["d"]);
    expect((a.d as Buffer).buffer).not.toBe((b.d as Buffer).buffer);
    expect(defaultCodec.decode({ d: a.d as Buffer })).toEqual({
      mint: "So1",
      amount: 1.5,
      raw: Buffer.from([1, 2]),
    });
  });

  test("typed arrays, Sets and BigInts past 64 bits come back as what they are; each encode owns its bytes", () => {
    for (let round = 0; round < 3; round++) {
      const payload = {
        f: new Float64Array([1.5, -2.25, 1e300]),
        i: new Int32Array([-1, 7]),
        s: new Set(["a"]),
        big: 2n ** 80n,
      };
      const { d } = defaultCodec.encode(payload);
      // A later encode reuses msgpackr's buffer: the first one's bytes must not change with it.
      defaultCodec.encode({ other: new Float64Array([9, 9, 9, 9]) });
      expect(defaultCodec.decode({ d: d as Buffer })).toEqual(payload);
    }
  });

  test("a payload a codec cannot hold fails with ERR_ENCODE, not the library's own error", () => {
    const cycle: { self?: unknown } = {};
    cycle.self = cycle;
    for (const encode of [
      () => defaultCodec.encode({ s: Symbol("x") }),
      () => defaultCodec.encode(cycle),
      () => jsonCodec.encode({ b: 2n }),
    ]) {
      let error: unknown;
      try {
        encode();
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(TroupeError);
      expect((error as TroupeError).code).toBe("ERR_ENCODE");
    }
  });

  test("entries from other tools: a json field, else the field map as strings", () => {
    expect(defaultCodec.decode({ json: Buffer.from('{"a":[1,2]}') })).toEqual({ a: [1, 2] });
    expect(defaultCodec.decode({ wallet: Buffer.from("W1"), amount: Buffer.from("3") })).toEqual({
      wallet: "W1",
      amount: "3",
    });
  });

  test("JSON in field json round-trips; a value JSON cannot hold fails with ERR_ENCODE", () => {
    const fields = jsonCodec.encode({ mint: "So1", amount: 2 });
    expect(Object.keys(fields)).toEqual(["json"]);
    expect(fields.json).toBe('{"mint":"So1","amount":2}');
    expect(jsonCodec.decode({ json: Buffer.from(fields.json as string) })).toEqual({
      mint: "So1",
      amount: 2,
    });
    expect(jsonCodec.decode({ d: defaultCodec.encode({ x: 1 }).d as Buffer })).toEqual({ x: 1 });
    let code: unknown;
    try {
      jsonCodec.encode(undefined);
    } catch (error) {
      code = (error as TroupeError).code;
    }
    expect(code).toBe("ERR_ENCODE");
  });

  test("rawJsonCodec hands json bytes over unparsed and decodes every other form", () => {
    const bytes = Buffer.from(jsonCodec.encode({ a: 1 }).json as string);
    expect(rawJsonCodec.decode({ json: bytes })).toBe(bytes);
    expect(rawJsonCodec.decode({ d: defaultCodec.encode({ a: 1 }).d as Buffer })).toEqual({ a: 1 });
    expect(rawJsonCodec.decode({ a: Buffer.from("1") })).toEqual({ a: "1" });
  });

  test("undecodable entries fail with ERR_DECODE and a reason", () => {
    expect(decodeError({ d: Buffer.from([0x92, 0x01]) })).toBe(
      'field "d" is not msgpack: Unexpected end of MessagePack data',
    );
    expect(decodeError({ d: Buffer.from([0xc1]) })).toBe('field "d" is not msgpack: reserved byte 0xC1');
    expect(decodeError({ json: Buffer.from("{nope") })).toStartWith('field "json" is not JSON: ');
    expect(decodeError({ blob: Buffer.from([0xff, 0xfe]) })).toBe(
      'field "blob" is neither msgpack in "d" nor UTF-8 text',
    );
    expect(decodeError({})).toBe("entry has no fields");
  });
});

describe("outputs", () => {
  test("a result is an Output[], an { outputs } object, or nothing", () => {
    const o = { stream: "alerts", dedupId: "whale", payload: { x: 1 } };
    expect(defaultOutputsOf([o])).toEqual([o]);
    expect(defaultOutputsOf({ outputs: [o] })).toEqual([o]);
    expect(defaultOutputsOf(undefined)).toEqual([]);
    expect(defaultOutputsOf(42)).toEqual([]);
  });

  test("invalid outputs fail with ERR_INVALID_OUTPUT naming the problem", () => {
    const cases: [unknown, string][] = [
      [[null], "output 0 is not an object"],
      [[{ dedupId: "x", payload: 1 }], "output 0 has no stream"],
      [[{ stream: "s", payload: 1 }], "output 0 has no dedupId"],
      [[{ stream: "s", dedupId: "x" }], "output 0 needs exactly one of payload or fields"],
      [
        [{ stream: "s", dedupId: "x", payload: 1, fields: {} }],
        "output 0 needs exactly one of payload or fields",
      ],
    ];
    for (const [result, message] of cases) {
      expect(() => defaultOutputsOf(result)).toThrow(message);
      try {
        defaultOutputsOf(result);
      } catch (error) {
        expect((error as TroupeError).code).toBe("ERR_INVALID_OUTPUT");
      }
    }
  });
});

describe("stream ids", () => {
  test("parse, compare and range bounds follow Redis", () => {
    expect(parseStreamId("5")).toEqual({ ms: 5, seq: 0 });
    expect(compareIdStrings("2-0", "10-0")).toBeLessThan(0);
    expect(compareIdStrings("2-10", "2-9")).toBeGreaterThan(0);
    expect(rangeStart("(5-1")).toEqual({ ms: 5, seq: 2 });
    expect(rangeEnd("(5-0")).toEqual({ ms: 4, seq: Number.MAX_SAFE_INTEGER });
    expect(rangeEnd("5")).toEqual({ ms: 5, seq: Number.MAX_SAFE_INTEGER });
    expect(() => parseStreamId("x-1")).toThrow('invalid stream id: "x-1"');
  });
});

import { describe, expect, test } from "bun:test";
import { invalidEventError, parseEvent, validateEvent } from "../../src/detection/schema.ts";
import { buy, create, fund, T0 } from "./events.ts";

describe("validateEvent", () => {
  test("accepts the three kinds and copies only schema fields", () => {
    for (const event of [create("m", "c"), buy("m", "w", T0, { supply: 0.01 }), fund("a", "b", T0, 1)]) {
      const result = validateEvent({ ...event, extra: "dropped" });
      expect(result).toEqual({ ok: true, event });
    }
  });

  test("an id is signature:ix for any ix, as written without leading zeros", () => {
    for (const ix of [0, 7, 10, 123_456, Number.MAX_SAFE_INTEGER]) {
      const event = { ...create("m", "c"), ix };
      expect(validateEvent({ ...event, id: `${event.signature}:${ix}` }).ok).toBe(true);
    }
  });

  test("keeps slot null and optional balAfter", () => {
    const event = { ...buy("m", "w", T0, { supply: 0.01 }), slot: null, balAfter: 5 };
    expect(validateEvent(event)).toEqual({ ok: true, event });
  });

  const cases: [string, unknown, object][] = [
    ["not an object", [1], { code: "not_object" }],
    ["unknown version", { ...create("m", "c"), v: 2 }, { code: "unsupported_version", field: "v" }],
    ["unknown kind", { ...create("m", "c"), kind: "swap" }, { code: "unknown_kind", field: "kind" }],
    ["missing kind", { ...create("m", "c"), kind: undefined }, { code: "missing_field", field: "kind" }],
    [
      "missing mint",
      { ...buy("m", "w", T0, { supply: 0.01 }), mint: undefined },
      { code: "missing_field", field: "mint" },
    ],
    [
      "string amount",
      { ...buy("m", "w", T0, { supply: 0.01 }), sol: "1" },
      { code: "wrong_type", field: "sol" },
    ],
    [
      "unsafe integer",
      { ...buy("m", "w", T0, { supply: 0.01 }), tok: 2 ** 60 },
      { code: "unsafe_integer", field: "tok" },
    ],
    [
      "fractional lamports",
      { ...fund("a", "b", T0, 1), amount: 1.5 },
      { code: "unsafe_integer", field: "amount" },
    ],
    ["negative ts", { ...create("m", "c"), ts: -1 }, { code: "out_of_range", field: "ts" }],
    [
      "bad side",
      { ...buy("m", "w", T0, { supply: 0.01 }), side: "hold" },
      { code: "out_of_range", field: "side" },
    ],
    ["bad decimals", { ...fund("a", "b", T0, 1), decimals: 19 }, { code: "out_of_range", field: "decimals" }],
    ["empty id", { ...create("m", "c"), id: "" }, { code: "out_of_range", field: "id" }],
    // The id is the idempotency key: another event's would skip this one as a repeat, an alias let it in twice.
    [
      "an id that is not signature:ix",
      { ...create("m", "c"), id: "alias:7" },
      { code: "out_of_range", field: "id" },
    ],
    ...["01", "1x", "", "-1", " 1"].map((suffix): [string, unknown, object] => [
      `an id ending ":${suffix}" for ix 1`,
      { ...create("m", "c"), ix: 1, id: `${create("m", "c").signature}:${suffix}` },
      { code: "out_of_range", field: "id" },
    ]),
    [
      "an id of another ix",
      { ...fund("a", "b", T0, 1), ix: 3 },
      { code: "out_of_range", field: "id", message: expect.stringContaining(":3") },
    ],
  ];
  for (const [name, input, reason] of cases) {
    test(`rejects ${name}`, () => {
      const result = validateEvent(input);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatchObject(reason);
    });
  }
});

describe("parseEvent", () => {
  test("bad JSON is a reason, not a throw", () => {
    const result = parseEvent("{nope");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason.code).toBe("bad_json");
  });

  test("round-trips a valid event", () => {
    const event = create("m", "c");
    expect(parseEvent(JSON.stringify(event))).toEqual({ ok: true, event });
  });

  test("invalidEventError carries ERR_INVALID_EVENT and the reason", () => {
    const error = invalidEventError({
      code: "unsafe_integer",
      field: "tok",
      message: '"tok" must be a safe integer',
    });
    expect(error.code).toBe("ERR_INVALID_EVENT");
    expect(error.message).toBe('unsafe_integer: "tok" must be a safe integer');
  });
});

/**
 * The health-probe options added for stall detection (issue 5): defaults that detect a stall within 2 s,
 * and their validation messages, pinned.
 */
import { describe, expect, test } from "bun:test";
import { InvalidOptionError } from "../../src/errors.ts";
import { PUMP_DEFAULTS, resolvePumpOptions } from "../../src/streams/pump-options.ts";

function rejection(resolve: () => unknown): InvalidOptionError {
  try {
    resolve();
  } catch (error) {
    return error as InvalidOptionError;
  }
  throw new Error("expected an InvalidOptionError");
}

describe("pump health-probe options", () => {
  const base = { stream: "tx", group: "g" };

  test("by default a stall is noticed within intervalMs + stallAfterMs = 1.25 s", () => {
    const o = resolvePumpOptions(base);
    expect([o.healthCheckMs, o.stallAfterMs]).toEqual([250, 1_000]);
    expect(PUMP_DEFAULTS.healthCheckMs + PUMP_DEFAULTS.stallAfterMs).toBeLessThan(2_000);
    expect(resolvePumpOptions({ ...base, healthCheckMs: 0 }).healthCheckMs).toBe(0);
  });

  test("bad values name the option", () => {
    const zero = rejection(() => resolvePumpOptions({ ...base, stallAfterMs: 0 }));
    expect(zero).toBeInstanceOf(InvalidOptionError);
    expect([zero.code, zero.option, zero.message]).toEqual([
      "ERR_INVALID_OPTION",
      "stallAfterMs",
      "stallAfterMs: must be an integer >= 1, got 0",
    ]);
    const negative = rejection(() => resolvePumpOptions({ ...base, healthCheckMs: -5 }));
    expect([negative.option, negative.message]).toEqual([
      "healthCheckMs",
      "healthCheckMs: must be an integer >= 0, got -5",
    ]);
  });
});

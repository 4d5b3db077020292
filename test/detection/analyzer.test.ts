import { describe, expect, test } from "bun:test";
import { AlertGate, alertEvents, MAX_ALERT_EVENTS } from "../../src/detection/alert.ts";
import { PatternAnalyzer } from "../../src/detection/pattern-analyzer.ts";
import { SybilAnalyzer } from "../../src/detection/sybil-analyzer.ts";
import { WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";
import { InvalidOptionError } from "../../src/errors.ts";
import { memoryTables } from "../../src/runtime/durable-table.ts";
import { at, buy, create, fund, MINUTE, T0 } from "./events.ts";
import { run } from "./run.ts";

const snipe = [
  create("M", "dev"),
  buy("M", "a", at(1), { supply: 0.06 }),
  buy("M", "b", at(2), { supply: 0.06 }),
];

describe("alert gate", () => {
  const candidate = (detectedAt: number, severity: "low" | "med" | "high") => ({
    severity,
    score: 1,
    key: "K",
    wallets: [],
    detectedAt,
    triggerId: "t",
    timing: "exact" as const,
    evidence: {},
  });

  test("one alert per key per window; escalation re-emits; a new window gets a new id", () => {
    const gate = new AlertGate(memoryTables(), "wallet", 5 * MINUTE);
    const first = gate.admit("fresh_sniper", candidate(T0, "med"));
    expect(gate.admit("fresh_sniper", candidate(T0 + 1_000, "med"))).toBeUndefined();
    expect(gate.admit("fresh_sniper", candidate(T0 + 2_000, "low"))).toBeUndefined();
    const raised = gate.admit("fresh_sniper", candidate(T0 + 3_000, "high"));
    expect(raised?.windowStart).toBe(T0);
    expect(raised?.groupId).toBe(first!.groupId);
    const later = gate.admit("fresh_sniper", candidate(T0 + 5 * MINUTE, "med"));
    expect(later?.windowStart).toBe(T0 + 5 * MINUTE);
    expect(later?.groupId).not.toBe(first!.groupId);
  });

  test("a redelivered event yields no second alert; a replay from scratch yields the same id", () => {
    const analyzer = new WalletAnalyzer();
    const alerts = run(analyzer, snipe);
    expect(run(analyzer, [snipe[2]!])).toEqual([]);
    expect(run(new WalletAnalyzer(), snipe).map((a) => a.alertId)).toEqual(alerts.map((a) => a.alertId));
  });
});

describe("rolling state", () => {
  test("idle mints and wallets are pruned on event time, keeping state bounded", () => {
    const analyzer = new PatternAnalyzer();
    run(analyzer, snipe);
    expect(analyzer.stateSize()).toMatchObject({ mints: 1, wallets: 3 });
    run(analyzer, [fund("x", "y", T0 + 3 * 3_600_000, 1)]);
    expect(analyzer.stateSize().mints).toBe(0);
    run(analyzer, [fund("x", "y", T0 + 30 * 3_600_000, 1)]);
    expect(analyzer.stateSize()).toMatchObject({
      mints: 0,
      wallets: 2,
      detectors: { launch_bundle: 0, dev_dump: 0 },
    });
  });

  test("flushes run on event-time boundaries; the snapshot is small and clone-safe", () => {
    const analyzer = new SybilAnalyzer();
    run(analyzer, [fund("x", "y", T0, 1), fund("x", "z", T0 + 4_000, 1), fund("x", "w", T0 + 61_000, 1)]);
    const snapshot = analyzer.snapshot();
    expect(snapshot).toMatchObject({
      analyzer: "sybil",
      events: 3,
      observedSince: T0,
      lastTs: T0 + 61_000,
      fullFlushes: 1,
    });
    expect(structuredClone(snapshot)).toEqual(snapshot);
  });
});

describe("configuration", () => {
  test("a detector can be disabled", () => {
    expect(run(new WalletAnalyzer({ detectors: { fresh_sniper: false } }), snipe)).toEqual([]);
  });

  test("bad options are named", () => {
    expect(() => new WalletAnalyzer({ deltaFlushMs: 0 })).toThrow(
      new InvalidOptionError("deltaFlushMs", "must be a number > 0"),
    );
    expect(() => new WalletAnalyzer({ detectors: { fresh_sniper: { maxSlotDelta: -1 } } })).toThrow(
      "fresh_sniper.maxSlotDelta: must be a finite number >= 0, got -1",
    );
    const unknown = { detectors: { fresh_sniper: { slots: 3 } } } as unknown as ConstructorParameters<
      typeof WalletAnalyzer
    >[0];
    expect(() => new WalletAnalyzer(unknown)).toThrow("fresh_sniper.slots: unknown option");
    const wrongType = {
      detectors: { dev_dump: { includeFunded: "yes" } },
    } as unknown as ConstructorParameters<typeof PatternAnalyzer>[0];
    expect(() => new PatternAnalyzer(wrongType)).toThrow(
      "dev_dump.includeFunded: must be a boolean, got string",
    );
  });
});

describe("the events an alert carries", () => {
  test("each id once, the trigger last, ids missing from older state dropped, the latest 16 kept", () => {
    expect(alertEvents(["a", undefined, "b", "a", "t"], "t")).toEqual(["a", "b", "t"]);
    expect(alertEvents([], "t")).toEqual(["t"]);
    const many = Array.from({ length: 40 }, (_, i) => `e${i}`);
    const kept = alertEvents(many, "t");
    expect(kept).toHaveLength(MAX_ALERT_EVENTS);
    expect(kept).toEqual([...many.slice(-(MAX_ALERT_EVENTS - 1)), "t"]);
  });
});

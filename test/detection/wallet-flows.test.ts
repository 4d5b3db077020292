import { describe, expect, test } from "bun:test";
import type { ChainEvent } from "../../src/detection/schema.ts";
import { WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";
import { buy, create, DAY, fund, MINUTE, SOL, sell, T0 } from "./events.ts";
import { history, run } from "./run.ts";

const only = (name: string, events: ChainEvent[]) =>
  run(new WalletAnalyzer(), events).filter((a) => a.detector === name);

describe("W1 liquidity_injection", () => {
  const aged = history((ts) => fund("exchange", "whale", ts, 0.3), T0 - MINUTE, 8);

  test("a 20× inbound spent ≥ 80% on buys within 5 min fires; ≥ 95% within a minute is high", () => {
    const injection = [
      fund("source", "whale", T0, 12),
      buy("M", "whale", T0 + 30_000, { supply: 0.2, sol: 6 * SOL }),
      buy("M", "whale", T0 + 50_000, { supply: 0.1, sol: 5.6 * SOL }),
    ];
    const alerts = only("liquidity_injection", [...aged, ...injection]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: "high", mint: "M", key: "whale", wallets: ["whale"] });
    expect(alerts[0]!.evidence).toMatchObject({ injectedSol: 12, funder: "source" });
    // The injecting transfer, then the buys that spent it.
    expect(alerts[0]!.events).toEqual(injection.map((e) => e.id));
    const slow = only("liquidity_injection", [
      ...aged,
      fund("source", "whale", T0, 12),
      buy("M", "whale", T0 + 3 * MINUTE, { supply: 0.3, sol: 10 * SOL }),
    ]);
    expect(slow.map((a) => a.severity)).toEqual(["med"]);
  });

  test("near misses: an inbound within the wallet's usual range, or spending too late", () => {
    const regular = history((ts) => fund("exchange", "trader", ts, 4), T0 - MINUTE, 3);
    expect(
      only("liquidity_injection", [
        ...regular,
        fund("exchange", "trader", T0, 8),
        buy("M", "trader", T0 + MINUTE, { supply: 0.2, sol: 8 * SOL }),
      ]),
    ).toEqual([]);
    expect(
      only("liquidity_injection", [
        ...aged,
        fund("source", "whale", T0, 12),
        buy("M", "whale", T0 + 6 * MINUTE, { supply: 0.3, sol: 12 * SOL }),
      ]),
    ).toEqual([]);
  });
});

describe("W4 sweep_back", () => {
  const farm = ["w1", "w2", "w3", "w4", "w5", "w6"];
  const tradeAndSweep = (dest: (w: string) => string, fraction: number, delay = 5 * MINUTE) =>
    farm.flatMap((w, i) => [
      fund("hub", w, T0 - DAY / 2 + i * MINUTE, 1 + i * 0.13),
      buy("M", w, T0 + i * 10_000, { supply: 0.01 }),
      sell("M", w, T0 + 2 * MINUTE + i * 10_000, { supply: 0.01, sol: 0.8 * SOL }),
      fund(w, dest(w), T0 + 2 * MINUTE + delay + i * 10_000, 0.8 * fraction),
    ]);

  test("three wallets returning their proceeds to their funder → med; six → high", () => {
    const events = tradeAndSweep(() => "hub", 1);
    const alerts = only("sweep_back", [create("M", "dev", T0 - MINUTE), ...events]);
    expect(alerts.map((a) => [a.severity, a.wallets.length])).toEqual([
      ["med", 4],
      ["high", 7],
    ]);
    expect(alerts[0]).toMatchObject({ key: "hub", mint: "M" });
    // The sweeps back to the hub (its own fundings of the farm are not sweeps).
    const sweeps = events.filter((e) => e.kind === "transfer" && e.to === "hub").map((e) => e.id);
    expect(alerts[0]!.events).toEqual(sweeps.slice(0, 3));
    expect(alerts[1]!.events).toEqual(sweeps);
  });

  test("sweeping to the mint's creator counts too", () => {
    const alerts = only("sweep_back", [create("M", "dev", T0 - MINUTE), ...tradeAndSweep(() => "dev", 0.95)]);
    expect(alerts[0]?.evidence).toMatchObject({ toCreator: true });
  });

  test("near misses: a partial sweep, a sweep to someone else, a sweep after 30 min", () => {
    expect(only("sweep_back", [create("M", "dev", T0 - MINUTE), ...tradeAndSweep(() => "hub", 0.5)])).toEqual(
      [],
    );
    expect(
      only("sweep_back", [create("M", "dev", T0 - MINUTE), ...tradeAndSweep((w) => `cex-${w}`, 1)]),
    ).toEqual([]);
    expect(
      only("sweep_back", [create("M", "dev", T0 - MINUTE), ...tradeAndSweep(() => "hub", 1, 31 * MINUTE)]),
    ).toEqual([]);
  });
});

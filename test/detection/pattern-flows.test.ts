import { describe, expect, test } from "bun:test";
import { PatternAnalyzer } from "../../src/detection/pattern-analyzer.ts";
import type { ChainEvent } from "../../src/detection/schema.ts";
import { at, buy, create, fund, MINUTE, SOL, sell, T0 } from "./events.ts";
import { run } from "./run.ts";

const only = (name: string, events: ChainEvent[], analyzer = new PatternAnalyzer()) =>
  run(analyzer, events).filter((a) => a.detector === name);
const V_TOK = 1_000_000_000_000_000;

describe("P3 coordinated_dump", () => {
  const dumpers = ["d1", "d2", "d3", "d4", "d5"];
  const DUMP = T0 + 5 * MINUTE;
  // Reserves fall as the dumpers sell: vSol 40 → 40·(1 − 0.1·k) SOL. Each sells `fraction` of its 3%.
  const scenario = (
    funder: (w: string) => string,
    gapMs: number,
    o: { n?: number; boughtAt?: number; fraction?: number; sizes?: number[] } = {},
  ) => [
    ...dumpers.map((w, i) => fund(funder(w), w, T0 - 10 * MINUTE, 1.5 + i * 0.17)),
    create("M", "dev"),
    ...dumpers.map((w, i) =>
      buy("M", w, o.boughtAt ?? at(30), {
        supply: o.sizes?.[i] ?? 0.03,
        vSolAfter: 40 * SOL,
        vTokAfter: V_TOK,
      }),
    ),
    ...dumpers.slice(0, o.n ?? 5).map((w, k) =>
      sell("M", w, DUMP + k * gapMs, {
        supply: (o.sizes?.[k] ?? 0.03) * (o.fraction ?? 1),
        vSolAfter: (40 - 4 * (k + 1)) * SOL,
        vTokAfter: V_TOK,
      }),
    ),
  ];

  test("three wallets of one private funder dumping within seconds while the price falls → high at once", () => {
    const events = scenario(() => "hub", 1_500);
    const alerts = only("coordinated_dump", events);
    expect(alerts.map((a) => a.severity)).toEqual(["high"]);
    expect(alerts[0]!.wallets).toEqual(dumpers.slice(0, 3));
    expect(alerts[0]!.evidence).toMatchObject({ sellers: 3, exits: 3, sharedFunder: 3 });
    // The evidence names the dump: the three sells, the last one the trigger.
    const sells = events.filter((e) => e.kind === "trade" && e.side === "sell").map((e) => e.id);
    expect(alerts[0]!.events).toEqual(sells.slice(0, 3));
  });

  test("no shared funder (each from its own exchange): whole positions held for minutes, exited together → med, five → high", () => {
    const alerts = only(
      "coordinated_dump",
      scenario((w) => `cex-${w}`, 1_500),
    );
    expect(alerts.map((a) => a.severity)).toEqual(["med", "high"]);
    expect(alerts[1]!.wallets).toEqual(dumpers);
    expect(alerts[1]!.evidence).toMatchObject({ sellers: 5, exits: 5, sharedFunder: 1 });
  });

  test("near miss: holders following one whale out (it sells more than the others together)", () => {
    const sizes = [0.12, 0.02, 0.02, 0.02, 0.02];
    expect(
      only(
        "coordinated_dump",
        scenario((w) => `cex-${w}`, 1_500, { n: 3, sizes }),
      ),
    ).toEqual([]);
  });

  test("near misses: a minute-long exit; a panicking crowd (bought seconds before, or selling part)", () => {
    expect(
      only(
        "coordinated_dump",
        scenario(() => "hub", 15_000),
      ),
    ).toEqual([]);
    expect(
      only(
        "coordinated_dump",
        scenario((w) => `cex-${w}`, 1_500, { boughtAt: DUMP - 40_000 }),
      ),
    ).toEqual([]);
    expect(
      only(
        "coordinated_dump",
        scenario((w) => `cex-${w}`, 1_500, { fraction: 0.6 }),
      ),
    ).toEqual([]);
    // The same partial sells by wallets of one private funder are still its dump.
    expect(
      only(
        "coordinated_dump",
        scenario(() => "hub", 1_500, { fraction: 0.6 }),
      ),
    ).toHaveLength(1);
  });
});

describe("P4 daisy_chain", () => {
  const chain = (fraction: number, gapMs: number) => [
    fund("exchange", "a", T0, 10),
    fund("a", "b", T0 + gapMs, 10 * fraction),
    fund("b", "c", T0 + 2 * gapMs, 10 * fraction ** 2),
    fund("c", "d", T0 + 3 * gapMs, 10 * fraction ** 3),
  ];

  test("three forwarding hops → med; the tail buying → high", () => {
    const events = [...chain(0.97, MINUTE), buy("M", "d", T0 + 10 * MINUTE, { supply: 0.1 })];
    const alerts = only("daisy_chain", events);
    expect(alerts.map((a) => [a.severity, a.wallets, a.mint])).toEqual([
      ["med", ["exchange", "a", "b", "c"], undefined],
      ["high", ["exchange", "a", "b", "c", "d"], "M"],
    ]);
    expect(alerts[0]).toMatchObject({ key: "a" });
    // The hops, then (for high) the tail's buy.
    const ids = events.map((e) => e.id);
    expect(alerts[0]!.events).toEqual(ids.slice(0, 3));
    expect(alerts[1]!.events).toEqual(ids);
  });

  test("the tail funding three wallets is high too", () => {
    const alerts = only("daisy_chain", [
      ...chain(0.97, MINUTE),
      ...["x", "y", "z"].map((w, i) => fund("d", w, T0 + 5 * MINUTE + i, 1)),
    ]);
    expect(alerts.at(-1)?.severity).toBe("high");
  });

  test("near misses: hops that keep 20%, a hop after 10 min, an intermediate with a second source", () => {
    expect(only("daisy_chain", chain(0.8, MINUTE))).toEqual([]);
    expect(only("daisy_chain", chain(0.97, 11 * MINUTE))).toEqual([]);
    expect(only("daisy_chain", [fund("other", "b", T0 - MINUTE, 1), ...chain(0.97, MINUTE)])).toEqual([]);
  });
});

describe("P5 wash_trading", () => {
  const churn = (sellFraction: number) =>
    [0, 1, 2].flatMap((k) => [
      buy("M", "w", T0 + k * MINUTE, { supply: 0.01, sol: 0.3 * SOL }),
      sell("M", "w", T0 + k * MINUTE + 20_000, {
        supply: 0.01 * sellFraction,
        sol: 0.3 * sellFraction * SOL,
      }),
    ]);

  test("three flat round trips with balanced SOL → high when they are most of the mint's volume", () => {
    const alerts = only("wash_trading", churn(1));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: "high", mint: "M", wallets: ["w"] });
    expect(alerts[0]!.evidence).toMatchObject({ buys: 3, sells: 3, netFraction: 0, mintVolumeShare: 1 });
  });

  test("near miss: a market maker keeping 30% of each buy", () => {
    expect(only("wash_trading", churn(0.7))).toEqual([]);
  });

  test("near miss: a leftover sell from before the window does not complete a cycle", () => {
    const events = [
      buy("M", "w", T0, { supply: 0.01, sol: 0.3 * SOL }),
      sell("M", "w", T0 + 11 * MINUTE, { supply: 0.01, sol: 0.3 * SOL }),
      ...[0, 1].flatMap((k) => [
        buy("M", "w", T0 + 12 * MINUTE + k * MINUTE, { supply: 0.01, sol: 0.3 * SOL }),
        sell("M", "w", T0 + 12 * MINUTE + k * MINUTE + 20_000, { supply: 0.01, sol: 0.3 * SOL }),
      ]),
    ];
    expect(only("wash_trading", events)).toEqual([]);
  });

  test("three flat round trips right after closing an older position in the same 10 min → found (issue 18)", () => {
    // Bought 1 SOL at T0, sold it for 1.6 SOL 5 min later, then three 0.3 SOL round trips within 4 min:
    // every window ending at the last trade holds the old buy and its sell (SOL balance 1.9 / 2.5).
    const events = [
      buy("M", "w", T0, { supply: 0.03, sol: SOL }),
      sell("M", "w", T0 + 5 * MINUTE, { supply: 0.03, sol: 1.6 * SOL }),
      ...[0, 1, 2].flatMap((k) => [
        buy("M", "w", T0 + 5.5 * MINUTE + k * 70_000, { supply: 0.01, sol: 0.3 * SOL }),
        sell("M", "w", T0 + 6 * MINUTE + k * 70_000, { supply: 0.01, sol: 0.3 * SOL }),
      ]),
    ];
    const alerts = only("wash_trading", events);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.evidence).toMatchObject({ buys: 3, sells: 3, netFraction: 0 });
  });
});

describe("P6 flash_roundtrip", () => {
  const trip = (mint: string, ts: number, holdMs: number, victim = false): ChainEvent[] => [
    buy(mint, "bot", ts, { supply: 0.02 }),
    ...(victim ? [buy(mint, "victim", ts + 50, { supply: 0.01 })] : []),
    sell(mint, "bot", ts + holdMs, { supply: 0.02 }),
  ];

  test("three same-tokens round trips within two slots in 10 min → med; a wrapped buy makes it high", () => {
    const med = only("flash_roundtrip", [
      ...trip("A", T0, 300),
      ...trip("B", T0 + MINUTE, 500),
      ...trip("C", T0 + 2 * MINUTE, 200),
    ]);
    expect(med.map((a) => [a.severity, a.key])).toEqual([["med", "bot"]]);
    const trips = [
      ...trip("A", T0, 300),
      ...trip("B", T0 + MINUTE, 500),
      ...trip("C", T0 + 2 * MINUTE, 200, true),
    ];
    const high = only("flash_roundtrip", trips);
    expect(high[0]?.evidence).toMatchObject({ roundtrips: 3, sandwiches: 1 });
    expect(high[0]?.severity).toBe("high");
    // The sells that closed each round trip.
    expect(high[0]?.events).toEqual(
      trips.filter((e) => e.kind === "trade" && e.side === "sell").map((e) => e.id),
    );
  });

  test("a wrapped buy is a sandwich only within one slot (DETECTORS.md); across two it is a plain round trip", () => {
    const across = only("flash_roundtrip", [
      ...trip("A", T0, 300),
      ...trip("B", T0 + MINUTE, 500),
      ...trip("C", T0 + 2 * MINUTE, 500, true),
    ]);
    expect(across.map((a) => a.severity)).toEqual(["med"]);
    expect(across[0]?.evidence).toMatchObject({ roundtrips: 3, sandwiches: 0 });
  });

  test("near miss: round trips of nothing (zero tokens bought and sold) are no round trips", () => {
    const empty = (mint: string, ts: number): ChainEvent[] => [
      buy(mint, "bot", ts, { supply: 0, sol: 0 }),
      sell(mint, "bot", ts + 300, { supply: 0, sol: 0 }),
    ];
    expect(
      only("flash_roundtrip", [
        ...empty("A", T0),
        ...empty("B", T0 + MINUTE),
        ...empty("C", T0 + 2 * MINUTE),
      ]),
    ).toEqual([]);
  });

  test("near misses: holding for 4 slots, or only two trips in 10 min", () => {
    expect(
      only("flash_roundtrip", [
        ...trip("A", T0, 1_600),
        ...trip("B", T0 + MINUTE, 1_700),
        ...trip("C", T0 + 2 * MINUTE, 1_800),
      ]),
    ).toEqual([]);
    expect(
      only("flash_roundtrip", [
        ...trip("A", T0, 300),
        ...trip("B", T0 + 11 * MINUTE, 300),
        ...trip("C", T0 + 22 * MINUTE, 300),
      ]),
    ).toEqual([]);
  });
});

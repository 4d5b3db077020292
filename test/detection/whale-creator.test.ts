import { describe, expect, test } from "bun:test";
import type { ChainEvent } from "../../src/detection/schema.ts";
import { WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";
import { buy, create, MINUTE, SOL, sell, T0 } from "./events.ts";
import { run } from "./run.ts";

const only = (name: string, events: ChainEvent[]) =>
  run(new WalletAnalyzer(), events).filter((a) => a.detector === name);

describe("W3 whale_dominance", () => {
  const crowd = [
    create("M", "dev", T0),
    buy("M", "c1", T0 + 5_000, { supply: 0.02, sol: 0.5 * SOL }),
    buy("M", "c2", T0 + 10_000, { supply: 0.02, sol: 0.5 * SOL }),
  ];

  test("three buys making ≥ 40% of 5-min volume with ≥ 3 SOL, holding ≥ 5% → med; ≥ 20% held → high", () => {
    const alerts = only("whale_dominance", [
      ...crowd,
      ...[1, 2, 3].map((i) => buy("M", "whale", T0 + i * 30_000, { supply: 0.05, sol: 1.2 * SOL })),
      buy("M", "whale", T0 + 4 * 30_000, { supply: 0.06, sol: 1.5 * SOL }),
    ]);
    expect(alerts.map((a) => a.severity)).toEqual(["med", "high"]);
    expect(alerts[0]).toMatchObject({ mint: "M", key: "M", wallets: ["whale"] });
    expect(alerts[0]!.evidence).toMatchObject({ buys: 3, buySol: 3.6, supplyFraction: 0.15 });
  });

  test("near misses: two large buys (DETECTORS.md's literal rule fires), a crowd that outbuys it, churn", () => {
    const big = [1, 2].map((i) => buy("M", "big", T0 + i * 30_000, { supply: 0.12, sol: 4 * SOL }));
    expect(only("whale_dominance", [...crowd, ...big])).toEqual([]);
    const busy = [1, 2, 3, 4].map((i) =>
      buy("M", `c${i + 2}`, T0 + i * 10_000, { supply: 0.05, sol: 2.5 * SOL }),
    );
    const whale = [1, 2, 3].map((i) => buy("M", "whale", T0 + i * 30_000, { supply: 0.05, sol: 1.2 * SOL }));
    expect(only("whale_dominance", [...crowd, ...busy, ...whale])).toEqual([]);
    const churn = [1, 2, 3].flatMap((i) => [
      buy("M", "whale", T0 + i * 30_000, { supply: 0.03, sol: 1.2 * SOL }),
      sell("M", "whale", T0 + i * 30_000 + 10_000, { supply: 0.03, sol: 1.2 * SOL }),
    ]);
    expect(only("whale_dominance", [...crowd, ...churn])).toEqual([]);
  });
});

describe("W5 creator_reputation", () => {
  /** A launch by `creator` with a 5% dev buy, sold (`soldFraction` of it) `sellAfter` ms in. */
  const launch = (
    creator: string,
    i: number,
    soldFraction: number,
    sellAfter = 2 * MINUTE,
    gap = 20 * MINUTE,
  ) => {
    const mint = `${creator}-M${i}`;
    const ts = T0 + i * gap;
    return [
      create(mint, creator, ts),
      buy(mint, creator, ts, { supply: 0.05, inCreateTx: true }),
      ...(soldFraction > 0 ? [sell(mint, creator, ts + sellAfter, { supply: 0.05 * soldFraction })] : []),
    ];
  };

  test("≥ 3 prior launches dumped within 10 min: the next launch alerts, high at a dump rate ≥ 0.8", () => {
    const high = only(
      "creator_reputation",
      [0, 1, 2, 3].flatMap((i) => launch("dev", i, i < 3 ? 1 : 0)),
    );
    expect(high).toHaveLength(1);
    expect(high[0]).toMatchObject({ severity: "high", mint: "dev-M3", key: "dev", wallets: ["dev"] });
    expect(high[0]!.evidence).toMatchObject({ rule: "dev_dumps", priorLaunches: 3, devDumps: 3 });
    const med = only(
      "creator_reputation",
      [0, 1, 2, 3].flatMap((i) => launch("dev", i, i < 2 ? 1 : 0)),
    );
    expect(med.map((a) => [a.severity, a.evidence.dumpRate])).toEqual([["med", 0.6667]]);
  });

  test("near misses: slow sell-offs, only two prior launches, dumps after 10 min", () => {
    expect(
      only(
        "creator_reputation",
        [0, 1, 2, 3].flatMap((i) => launch("dev", i, 0.5)),
      ),
    ).toEqual([]);
    expect(
      only(
        "creator_reputation",
        [0, 1, 2].flatMap((i) => launch("dev", i, 1)),
      ),
    ).toEqual([]);
    expect(
      only(
        "creator_reputation",
        [0, 1, 2, 3].flatMap((i) => launch("dev", i, 1, 11 * MINUTE)),
      ),
    ).toEqual([]);
  });

  test("≥ 10 launches in 24 h, none with traction or graduation: the next one alerts (med)", () => {
    const spam = Array.from({ length: 11 }, (_, i) => launch("spam", i, 0, 0, 12 * MINUTE)).flat();
    const alerts = only("creator_reputation", spam);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: "med", mint: "spam-M10" });
    expect(alerts[0]!.evidence).toMatchObject({ rule: "launch_spam", launches24h: 10, successes24h: 0 });
  });

  test("near miss: a prolific creator with one launch that drew 30 trades is not a spammer", () => {
    const traction = Array.from({ length: 30 }, (_, i) =>
      buy("spam-M4", `t${i}`, T0 + 4 * 12 * MINUTE + (i + 1) * 1_000, { supply: 0.001, sol: 0.1 * SOL }),
    );
    const spam = Array.from({ length: 11 }, (_, i) => launch("spam", i, 0, 0, 12 * MINUTE)).flat();
    const events = [...spam, ...traction].sort((a, b) => a.ts - b.ts);
    expect(only("creator_reputation", events)).toEqual([]);
  });
});

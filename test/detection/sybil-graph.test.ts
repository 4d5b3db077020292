import { describe, expect, test } from "bun:test";
import type { Alert } from "../../src/detection/alert.ts";
import { PatternAnalyzer } from "../../src/detection/pattern-analyzer.ts";
import type { ChainEvent } from "../../src/detection/schema.ts";
import { MintBook } from "../../src/detection/state/mint-book.ts";
import { UnionFind } from "../../src/detection/state/union-find.ts";
import { logBinomialTail } from "../../src/detection/sybil/co-entry.ts";
import { SYBIL_FINDING_DETECTORS, SybilAnalyzer } from "../../src/detection/sybil-analyzer.ts";
import { WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";
import { memoryTables } from "../../src/runtime/durable-table.ts";
import { at, buy, create, fund, MINUTE, SOL, SUPPLY, sell, T0 } from "./events.ts";
import { run } from "./run.ts";

const of = (name: string, alerts: Alert[]) => alerts.filter((a) => a.detector === name);

/** `wallets` buying `mint` in one slot (10 ms apart), each `sol` (× 1 + i·jitter). */
const volley = (mint: string, slot: number, wallets: string[], sol: number, jitter = 0.0005) =>
  wallets.map((w, i) =>
    buy(mint, w, at(slot, i * 10), { supply: 0.01, sol: Math.round(sol * (1 + i * jitter)) }),
  );

/** A finding of another analyzer, as the alerts stream carries it. */
const finding = (detector: "sweep_back" | "daisy_chain", wallets: string[], ts: number): Alert => ({
  alertId: `${detector}-${ts}`,
  groupId: `${detector}-${ts}`,
  detector,
  analyzer: detector === "sweep_back" ? "wallet" : "pattern",
  severity: "med",
  score: 1,
  key: wallets[0]!,
  wallets,
  windowStart: ts,
  detectedAt: ts,
  triggerId: "t",
  timing: "exact",
  evidence: {},
  events: ["t"],
});

describe("S2 co_entry_signature", () => {
  const crew = ["a", "b", "c"];
  const threeMints = [
    ...volley("M1", 100, crew, 0.5 * SOL),
    ...volley("M2", 2_000, crew, 0.5 * SOL),
    ...volley("M3", 4_000, crew, 0.5 * SOL),
  ];

  test("three wallets sharing (mint, side, 2-slot, 5% amount) keys on 3 mints → one cluster alert, high", () => {
    const alerts = of("co_entry_signature", run(new SybilAnalyzer(), threeMints, at(4_000) + 15_000));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: "high", mint: "M3", key: "a" });
    expect([...alerts[0]!.wallets].sort()).toEqual(crew);
    expect(alerts[0]!.evidence.log10Chance as number).toBeLessThan(-6);
    // Adjacent slots and amounts 2% apart still share a key (two grids per dimension).
    const offset = [100, 2_001, 4_001].flatMap((slot, m) =>
      crew.map((w, i) =>
        buy(`M${m}`, w, at(slot + (i % 2)), { supply: 0.01, sol: Math.round(0.5 * SOL * 1.02 ** i) }),
      ),
    );
    expect(of("co_entry_signature", run(new SybilAnalyzer(), offset, at(4_002) + 15_000))).toHaveLength(1);
    // Severity follows the configured chance bound.
    const med = run(
      new SybilAnalyzer({ detectors: { co_entry_signature: { highChance: 1e-30 } } }),
      threeMints,
      at(4_000) + 15_000,
    );
    expect(of("co_entry_signature", med).map((a) => a.severity)).toEqual(["med"]);
  });

  test("near misses: two mints only, amounts 10% apart, busy traders whose overlap is likely by chance", () => {
    expect(
      of("co_entry_signature", run(new SybilAnalyzer(), threeMints.slice(0, 6), at(2_000) + 15_000)),
    ).toEqual([]);
    const spread = [100, 2_000, 4_000].flatMap((slot, m) => volley(`M${m}`, slot, crew, 0.5 * SOL, 0.1));
    expect(of("co_entry_signature", run(new SybilAnalyzer(), spread, at(4_000) + 15_000))).toEqual([]);
    // 300 earlier events each: P(≥ 3 shared mints | n = 300, q = 0.001) ≈ 4e-3, no edge.
    const busy: ChainEvent[] = crew.flatMap((w) =>
      Array.from({ length: 300 }, (_, i) => fund(`cex${i % 7}`, w, T0 - 3_600_000 + i * 1_000, 0.1)),
    );
    busy.sort((x, y) => x.ts - y.ts);
    expect(
      of("co_entry_signature", run(new SybilAnalyzer(), [...busy, ...threeMints], at(4_000) + 15_000)),
    ).toEqual([]);
  });

  test("the chance tail: tiny for a farm wallet, not small for a busy trader", () => {
    expect(Math.exp(logBinomialTail(3, 3, 0.001))).toBeCloseTo(1e-9, 12);
    expect(Math.exp(logBinomialTail(3, 10, 0.001))).toBeCloseTo(1.19e-7, 9);
    expect(logBinomialTail(3, 5_000, 0.001)).toBe(0);
  });
});

describe("S3 cluster_control", () => {
  const farm = ["f0", "f1", "f2", "f3", "f4", "f5"];
  const fanOut = farm.map((w, i) => fund("hub", w, T0 + i * 10_000, 1));
  const launch = T0 + 5 * MINUTE;

  test("an S1 cluster holding ≥ 20% of a mint → med, ≥ 35% → high", () => {
    const buys = farm.map((w, i) => buy("M", w, launch + 1_000 + i * 100, { supply: 0.05, sol: 0.3 * SOL }));
    const more = farm.map((w, i) => buy("M", w, launch + 20_000 + i * 100, { supply: 0.01, sol: 0.1 * SOL }));
    const alerts = of(
      "cluster_control",
      run(new SybilAnalyzer(), [
        ...fanOut,
        create("M", "dev", launch),
        ...buys,
        fund("x", "y", launch + 10_000, 1),
        ...more,
        fund("x", "y", launch + 30_000, 1),
      ]),
    );
    expect(alerts.map((a) => a.severity)).toEqual(["med", "high"]);
    expect(alerts[0]).toMatchObject({ key: "hub", mint: "M" });
    expect([...alerts[0]!.wallets].sort()).toEqual([...farm, "hub"]);
    expect(alerts[0]!.evidence).toMatchObject({ supplyFraction: 0.3, holders: 6, edges: ["funding_hub"] });
  });

  test("findings: W4 sweep and P4 chain alerts become edges; a chain's root (an exchange) is left out", () => {
    const sybil = new SybilAnalyzer();
    run(sybil, [create("M", "dev", T0)]);
    expect(sybil.handleFinding(finding("sweep_back", ["hub", "w1", "w2", "w3"], T0 + 1_000))).toEqual([]);
    expect(sybil.handleFinding(finding("fresh_sniper" as "sweep_back", ["x", "y"], T0 + 1_000))).toEqual([]);
    const alerts = run(sybil, [
      buy("M", "w1", T0 + 2_000, { supply: 0.12 }),
      buy("M", "w2", T0 + 3_000, { supply: 0.12 }),
      fund("x", "y", T0 + 10_000, 1),
    ]);
    expect(of("cluster_control", alerts)).toHaveLength(1);
    expect(of("cluster_control", alerts)[0]!.evidence).toMatchObject({ holders: 2, edges: ["sweep_back"] });

    const chain = new SybilAnalyzer();
    run(chain, [create("N", "dev", T0)]);
    chain.handleFinding(finding("daisy_chain", ["exchange", "a", "b", "c"], T0 + 1_000));
    const rootOnly = run(chain, [
      buy("N", "exchange", T0 + 2_000, { supply: 0.15 }),
      buy("N", "a", T0 + 3_000, { supply: 0.15 }),
      fund("x", "y", T0 + 10_000, 1),
    ]);
    expect(of("cluster_control", rootOnly)).toEqual([]);
    const hops = run(chain, [buy("N", "b", T0 + 11_000, { supply: 0.1 }), fund("x", "y", T0 + 20_000, 1)]);
    expect(of("cluster_control", hops).map((a) => a.evidence.edges)).toEqual([["daisy_chain"]]);
  });

  test("findings are one declared capability: only the sybil analyzer reads them, only P4 and W4", () => {
    expect(SYBIL_FINDING_DETECTORS).toEqual(["daisy_chain", "sweep_back"]);
    expect(new SybilAnalyzer().findingDetectors).toEqual(SYBIL_FINDING_DETECTORS);
    for (const other of [new WalletAnalyzer(), new PatternAnalyzer()]) {
      expect(other.findingDetectors).toEqual([]);
      run(other, [create("M", "dev", T0)]);
      expect(other.handleFinding(finding("sweep_back", ["hub", "w1", "w2"], T0 + 1_000))).toEqual([]);
    }
  });

  test("≥ 50% of the buy volume, still held once the buying settled → med; churned out → nothing", () => {
    const crewBuys = (churn: boolean): ChainEvent[] => [
      create("M", "dev", T0),
      buy("M", "c1", T0 + 1_000, { supply: 0.01, sol: 0.4 * SOL }),
      ...["w1", "w2", "w3"].flatMap((w, i) => [
        buy("M", w, T0 + 5_000 + i * 1_000, { supply: 0.02, sol: 0.6 * SOL }),
        ...(churn ? [sell("M", w, T0 + 20_000 + i * 1_000, { supply: 0.02, sol: 0.6 * SOL })] : []),
      ]),
      ...[30, 60, 90].map((s) => fund("x", "y", T0 + s * 1_000, 1)),
    ];
    const hold = new SybilAnalyzer();
    hold.handleFinding(finding("sweep_back", ["hub", "w1", "w2", "w3"], T0));
    const alerts = of("cluster_control", run(hold, crewBuys(false)));
    expect(alerts.map((a) => a.severity)).toEqual(["med"]);
    expect(alerts[0]!.detectedAt).toBeGreaterThanOrEqual(T0 + 7_000 + 60_000);
    expect(alerts[0]!.evidence).toMatchObject({ buyShare: 0.8182, holders: 3 });
    const churn = new SybilAnalyzer();
    churn.handleFinding(finding("sweep_back", ["hub", "w1", "w2", "w3"], T0));
    expect(of("cluster_control", run(churn, crewBuys(true)))).toEqual([]);
  });

  test("near miss: one component wallet holding 25% alone is a whale, not cluster control", () => {
    const sybil = new SybilAnalyzer();
    sybil.handleFinding(finding("sweep_back", ["hub", "w1", "w2", "w3"], T0));
    const alerts = run(sybil, [
      create("M", "dev", T0),
      buy("M", "w1", T0 + 1_000, { supply: 0.25, sol: 10 * SOL }),
      ...[30, 90].map((s) => fund("x", "y", T0 + s * 1_000, 1)),
    ]);
    expect(of("cluster_control", alerts)).toEqual([]);
  });
});

describe("graph and book state", () => {
  test("union-find: union by size keeps the larger root, members merge, stale components are pruned", () => {
    const uf = new UnionFind(memoryTables().table("uf"));
    uf.union("a", "b", 1_000);
    uf.union("c", "d", 2_000);
    uf.union("c", "e", 2_000);
    expect(uf.union("a", "c", 3_000)).toEqual({ root: "c", merged: true });
    expect(uf.union("b", "e", 3_000)).toEqual({ root: "c", merged: false });
    expect([...uf.members("a")].sort()).toEqual(["a", "b", "c", "d", "e"]);
    uf.union("x", "y", 10_000);
    expect(uf.prune(10_000 + 5_000, 6_000)).toBe(5);
    expect([uf.has("a"), uf.find("y"), uf.nodeCount]).toEqual([false, "x", 2]);
  });

  test("mint book: positions follow SPL transfers of the mint", () => {
    const book = new MintBook(memoryTables(), 10);
    book.observe(create("M", "dev"));
    book.observe(buy("M", "a", T0 + 1_000, { supply: 0.1 }));
    book.observe({ ...fund("a", "b", T0 + 2_000, 0), asset: "M", amount: 0.04 * SUPPLY, decimals: 6 });
    const positions = book.positions("M");
    expect([positions.get("a")!.held, positions.get("b")!.held]).toEqual([0.06 * SUPPLY, 0.04 * SUPPLY]);
  });
});

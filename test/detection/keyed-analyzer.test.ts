/**
 * A keyed analyzer (issue 14): the mint analyzer split into partitions by mint must give the alerts it
 * gives whole, which needs its flushes to run on the watermark, not on a partition's own events, and its
 * wallet reads to be the facts the wallet analyzer forwards with each trade.
 */
import { describe, expect, test } from "bun:test";
import type { Alert } from "../../src/detection/alert.ts";
import { Analyzer, type AnalyzerClock, type Keyed } from "../../src/detection/analyzer.ts";
import { defineDetector } from "../../src/detection/detector.ts";
import {
  MINT_DETECTORS,
  MintAnalyzer,
  mintKeyOf,
  withoutMintDetectors,
} from "../../src/detection/mint-analyzer.ts";
import type { ChainEvent } from "../../src/detection/schema.ts";
import { WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";
import { WalletStage, walletStageConfig } from "../../src/detection/wallet-stage.ts";
import { MessageRejectedError } from "../../src/errors.ts";
import { runInline } from "../../src/eval/run-inline.ts";
import { generate } from "../../src/ingest/generator.ts";
import { memoryTables } from "../../src/runtime/durable-table.ts";
import { partitionOf } from "../../src/streams/partitions.ts";
import { buy, create, T0 } from "./events.ts";

const events = [...generate({ seed: 5, durationMs: 2 * 3_600_000 }).events()];

/** What the wallet analyzer forwards: each event with a mint, with the watermark and the trader's facts. */
function forward(all: readonly ChainEvent[]): Array<[ChainEvent, Keyed]> {
  const forwarder = new WalletAnalyzer(withoutMintDetectors());
  const out: Array<[ChainEvent, Keyed]> = [];
  for (const event of all) {
    forwarder.handle(event);
    if (mintKeyOf(event) !== undefined) out.push([event, forwarder.keyedFields(event)]);
  }
  return out;
}

const forwarded = forward(events);

/** Routes each forwarded event to its mint's partition, as the pipeline does; then a closing flush. */
function partitioned(analyzers: readonly Analyzer[], keyed: ReadonlyArray<[ChainEvent, Keyed]>): Alert[] {
  const alerts: Alert[] = [];
  for (const [event, fields] of keyed) {
    const mint = mintKeyOf(event) as string;
    alerts.push(...analyzers[partitionOf(mint, analyzers.length)]!.handle(event, fields));
  }
  const end = (keyed.at(-1)?.[0].ts ?? T0) + 60_000;
  for (const analyzer of analyzers) alerts.push(...analyzer.flush(end));
  return alerts;
}

const ids = (alerts: readonly Alert[]) => alerts.map((a) => `${a.detector} ${a.alertId}`).sort();

test("the mint analyzer in 1, 3 or 8 partitions raises the same alerts, with the same ids", () => {
  const whole = ids(partitioned([new MintAnalyzer()], forwarded));
  for (const module of MINT_DETECTORS)
    expect(whole.some((id) => id.startsWith(`${module.name} `))).toBe(true);
  for (const p of [3, 8]) {
    const parts = Array.from({ length: p }, () => new MintAnalyzer());
    expect(ids(partitioned(parts, forwarded))).toEqual(whole);
  }
}, 30_000);

test("keyed, the mint-keyed detectors in the mint analyzer's partitions and P4 / P6 in the wallet stage raise what they raise in the wallet and pattern analyzers, field for field", () => {
  const options = { seed: 2, durationMs: 2 * 3_600_000 };
  const whole = runInline(options);
  const keyed = runInline({ ...options, partitions: 4 });
  const moved = new Set(keyed.alerts.filter((a) => a.analyzer === "mint").map((a) => a.detector));
  expect([...moved].sort()).toEqual(MINT_DETECTORS.map((m) => m.name).sort());
  expect(whole.alerts.some((a) => a.analyzer === "mint")).toBe(false);
  // No pattern analyzer runs keyed: the pattern detectors not keyed by mint raise their alerts in the wallet
  // stage.
  expect(keyed.state.pattern).toBeUndefined();
  expect(keyed.alerts.some((a) => a.analyzer === "pattern")).toBe(false);
  const staged = (alerts: readonly Alert[]) =>
    new Set(
      alerts
        .filter((a) => a.detector === "daisy_chain" || a.detector === "flash_roundtrip")
        .map((a) => a.analyzer),
    );
  expect([...staged(whole.alerts)]).toEqual(["pattern"]);
  expect([...staged(keyed.alerts)]).toEqual(["wallet"]);
  // Evidence included: W2's warm-up flag needs the stream's first event time, P1 and W2 the trader's age
  // and event count, P2 its funders.
  const content = (alerts: readonly Alert[]) =>
    alerts.map((a) => JSON.stringify({ ...a, analyzer: null })).sort();
  expect(content(keyed.alerts)).toEqual(content(whole.alerts));
}, 30_000);

/**
 * A detector that only records, per mint, its events and the flushes that saw the mint touched: what a
 * mint's partition must see the same way, whatever else shares it.
 */
function recorder(clock: AnalyzerClock) {
  const seen = new Map<string, string[]>();
  const note = (mint: string, what: string) => {
    const list = seen.get(mint) ?? [];
    list.push(what);
    seen.set(mint, list);
  };
  const module = defineDetector({
    name: "whale_dominance",
    analyzer: "mint",
    defaults: {},
    create: () => ({
      onEvent: (event: ChainEvent) => {
        const mint = mintKeyOf(event);
        if (mint !== undefined) note(mint, event.id);
      },
      onFlush: (_ctx, flush) => {
        for (const mint of flush.mints) note(mint, `flush@${flush.nowTs}${flush.full ? " full" : ""}`);
      },
      prune: () => {},
      size: () => 0,
    }),
  });
  const make = () => new Analyzer("mint", [module], {}, {}, memoryTables(), { clock, wallets: "forwarded" });
  return { seen, make };
}

describe("the watermark clock", () => {
  const slice = forward(events.slice(0, 40_000));
  const record = (clock: AnalyzerClock, partitions: number) => {
    const { seen, make } = recorder(clock);
    partitioned(
      Array.from({ length: partitions }, () => make()),
      slice,
    );
    return seen;
  };

  test("each mint meets the same flushes, at the same times, between the same events of its own", () => {
    const whole = record("watermark", 1);
    expect(record("watermark", 4)).toEqual(whole);
    const flushTimes = [...whole.values()].flat().filter((w) => w.startsWith("flush@"));
    expect(flushTimes.length).toBeGreaterThan(1000);
    // On the epoch's 5 s boundaries, whatever the partition's own events were.
    for (const w of flushTimes) expect(Number(w.slice(6).split(" ")[0]) % 5_000).toBe(0);
  });

  test("on a partition's own event times they would not (the control)", () => {
    expect(record("events", 4)).not.toEqual(record("events", 1));
  });

  test("a watermark that jumps ten years runs a day of flushes, then one full flush at the last boundary", () => {
    const analyzer = new MintAnalyzer();
    analyzer.handle(create("M", "dev"), { wm: T0 });
    const later = T0 + 10 * 365 * 86_400_000;
    analyzer.handle(create("N", "dev", later), { wm: later });
    const { deltaFlushes, fullFlushes, lastTs } = analyzer.snapshot();
    // A day of 5 s boundaries (a full one every minute), then the full flush at the last boundary.
    expect(deltaFlushes + fullFlushes).toBe(86_400_000 / 5_000 + 1);
    expect(lastTs).toBe(later);
    expect(analyzer.stateSize().mints).toBe(1);
  });

  test("a keyed event without its watermark is refused", () => {
    const analyzer = new MintAnalyzer();
    expect(() => analyzer.handle(create("M", "dev"))).toThrow(MessageRejectedError);
    const facts = { firstSeen: T0, events: 1, funders: [] };
    expect(analyzer.handle(buy("M", "a", T0 + 1_000, { supply: 0.01 }), { wm: T0 + 1_000, facts })).toEqual(
      [],
    );
  });

  test("a detector of a mint-keyed analyzer reads its trade's trader's forwarded facts, and nothing else of the wallet book", () => {
    const reads: unknown[] = [];
    const module = defineDetector({
      name: "fresh_sniper",
      analyzer: "mint",
      defaults: {},
      create: () => ({
        onEvent: (event: ChainEvent, ctx) => {
          if (event.kind === "create") ctx.wallets.get(event.creator);
          if (event.kind !== "trade") return;
          const trader = ctx.wallets.get(event.trader);
          reads.push(trader?.events, ctx.wallets.ageAt(event.trader, event.ts));
          if (trader?.firstFunder !== undefined) reads.push(ctx.wallets.sent(trader.firstFunder));
          if (event.trader === "b") ctx.wallets.get("a");
          if (event.trader === "c") ctx.wallets.sent(event.trader);
        },
        prune: () => {},
        size: () => 0,
      }),
    });
    const analyzer = new Analyzer("mint", [module], {}, {}, memoryTables(), {
      clock: "watermark",
      wallets: "forwarded",
    });
    const facts = { firstSeen: T0 - 5_000, events: 7, funders: ["f"], firstFunder: "f", funderFanout: 3 };
    analyzer.handle(buy("M", "a", T0, { supply: 0.01 }), { wm: T0, facts });
    // Its age, its events, and its first funder's fan-out.
    expect(reads).toEqual([7, 5_000, 3]);
    expect(() => analyzer.handle(buy("M", "b", T0, { supply: 0.01 }), { wm: T0, facts })).toThrow(
      /fresh_sniper.*wallet a/,
    );
    expect(() => analyzer.handle(buy("M", "c", T0, { supply: 0.01 }), { wm: T0, facts })).toThrow(
      /fresh_sniper.*sent/,
    );
    // An event without a trader (a create), and a trade whose facts did not travel with it.
    expect(() => analyzer.handle(create("N", "dev"), { wm: T0 })).toThrow(/fresh_sniper.*wallet dev/);
    expect(() => analyzer.handle(buy("M", "d", T0, { supply: 0.01 }), { wm: T0 })).toThrow(
      /fresh_sniper.*wallet d/,
    );
  });
});

test("the wallet stage takes P4's and P6's options from the pattern section, and leaves the mint-keyed detectors to the partitions", () => {
  const config = walletStageConfig(
    { detectors: { liquidity_injection: false } },
    { detectors: { daisy_chain: false, flash_roundtrip: { minRoundtrips: 2 }, launch_bundle: {} } },
  );
  expect(config.detectors).toMatchObject({
    liquidity_injection: false,
    daisy_chain: false,
    flash_roundtrip: { minRoundtrips: 2 },
  });
  for (const module of MINT_DETECTORS) expect(config.detectors?.[module.name]).toBe(false);
  const stage = new WalletStage(config);
  const alerts = events.flatMap((event) => stage.handle(event));
  const detectors = new Set(alerts.map((a) => a.detector));
  expect(detectors.has("daisy_chain")).toBe(false);
  expect(detectors.has("liquidity_injection")).toBe(false);
  for (const module of MINT_DETECTORS) expect(detectors.has(module.name)).toBe(false);
  // By default the stage raises both (so their absence above is the configuration's doing); two round trips
  // are enough now: more flash_roundtrip alerts than with the default of three.
  const byDefault = new WalletStage();
  const defaults = events.flatMap((event) => byDefault.handle(event));
  for (const name of ["daisy_chain", "liquidity_injection"])
    expect(defaults.some((a) => a.detector === name)).toBe(true);
  const flash = (list: readonly Alert[]) => list.filter((a) => a.detector === "flash_roundtrip").length;
  expect(flash(alerts)).toBeGreaterThan(flash(defaults));
}, 30_000);

/**
 * A keyed analyzer (issue 14): the mint analyzer split into partitions by mint must give the alerts it
 * gives whole, which needs its flushes to run on Ingest's watermark, not on a partition's own events.
 */
import { describe, expect, test } from "bun:test";
import type { Alert } from "../../src/detection/alert.ts";
import { Analyzer, type AnalyzerClock } from "../../src/detection/analyzer.ts";
import { defineDetector } from "../../src/detection/detector.ts";
import { MintAnalyzer, mintKeyOf } from "../../src/detection/mint-analyzer.ts";
import type { ChainEvent } from "../../src/detection/schema.ts";
import { MessageRejectedError } from "../../src/errors.ts";
import { runInline } from "../../src/eval/run-inline.ts";
import { generate } from "../../src/ingest/generator.ts";
import { memoryTables } from "../../src/runtime/durable-table.ts";
import { partitionOf } from "../../src/streams/partitions.ts";
import { buy, create, T0 } from "./events.ts";

const events = [...generate({ seed: 5, durationMs: 2 * 3_600_000 }).events()];

/** Routes each event with a mint to its partition's analyzer, with the watermark, as Ingest writes it. */
function partitioned(analyzers: readonly Analyzer[], all: readonly ChainEvent[]): Alert[] {
  const alerts: Alert[] = [];
  let watermark = Number.NEGATIVE_INFINITY;
  for (const event of all) {
    watermark = Math.max(watermark, event.ts);
    const key = mintKeyOf(event);
    if (key === undefined) continue;
    alerts.push(...analyzers[partitionOf(key, analyzers.length)]!.handle(event, watermark));
  }
  const end = watermark + 60_000;
  for (const analyzer of analyzers) alerts.push(...analyzer.flush(end));
  return alerts;
}

const ids = (alerts: readonly Alert[]) => alerts.map((a) => `${a.detector} ${a.alertId}`).sort();

test("the mint analyzer in 1, 3 or 8 partitions raises the same alerts, with the same ids", () => {
  const whole = ids(partitioned([new MintAnalyzer()], events));
  expect(whole.some((id) => id.startsWith("whale_dominance"))).toBe(true);
  expect(whole.some((id) => id.startsWith("wash_trading"))).toBe(true);
  for (const p of [3, 8]) {
    const parts = Array.from({ length: p }, () => new MintAnalyzer());
    expect(ids(partitioned(parts, events))).toEqual(whole);
  }
});

test("W3 and P5 in the mint analyzer's partitions raise what they raise in the wallet and pattern analyzers", () => {
  const options = { seed: 2, durationMs: 2 * 3_600_000 };
  const whole = runInline(options).alerts;
  const keyed = runInline({ ...options, partitions: 4 }).alerts;
  expect(keyed.filter((a) => a.analyzer === "mint").length).toBeGreaterThan(0);
  expect(whole.some((a) => a.analyzer === "mint")).toBe(false);
  expect(ids(keyed)).toEqual(ids(whole));
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
  const make = () => new Analyzer("mint", [module], {}, {}, memoryTables(), { clock, wallets: false });
  return { seen, make };
}

describe("the watermark clock", () => {
  const slice = events.slice(0, 40_000);
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
    analyzer.handle(create("M", "dev"), T0);
    const later = T0 + 10 * 365 * 86_400_000;
    analyzer.handle(create("N", "dev", later), later);
    const { deltaFlushes, fullFlushes, lastTs } = analyzer.snapshot();
    // A day of 5 s boundaries (a full one every minute), then the full flush at the last boundary.
    expect(deltaFlushes + fullFlushes).toBe(86_400_000 / 5_000 + 1);
    expect(lastTs).toBe(later);
    expect(analyzer.stateSize().mints).toBe(1);
  });

  test("a keyed event without its watermark is refused", () => {
    const analyzer = new MintAnalyzer();
    expect(() => analyzer.handle(create("M", "dev"))).toThrow(MessageRejectedError);
    expect(analyzer.handle(buy("M", "a", T0 + 1_000, { supply: 0.01 }), T0 + 1_000)).toEqual([]);
  });

  test("a detector of a mint-keyed analyzer cannot read the wallet book", () => {
    const module = defineDetector({
      name: "fresh_sniper",
      analyzer: "mint",
      defaults: {},
      create: () => ({
        onEvent: (event: ChainEvent, ctx) => {
          ctx.wallets.get(event.id);
        },
        prune: () => {},
        size: () => 0,
      }),
    });
    const analyzer = new Analyzer("mint", [module], {}, {}, memoryTables(), {
      clock: "watermark",
      wallets: false,
    });
    expect(() => analyzer.handle(create("M", "dev"), T0)).toThrow(/does not keep/);
  });
});

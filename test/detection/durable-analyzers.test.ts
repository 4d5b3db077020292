/**
 * A restarted analyzer is the analyzer that crashed: the three analyzers run over a generated workload
 * with every scenario type, checkpointing their durable tables the way the runtime does (the touched keys'
 * values, into a store that keeps the latest value per key); at several points the store must equal every
 * live table (a missing `touch` shows here), and the analyzers are rebuilt from the store, as a restarted
 * worker does. The rebuilt ones must go on producing exactly the alerts, and end with exactly the state,
 * of a run that never restarted.
 */
import { describe, expect, test } from "bun:test";
import type { Alert } from "../../src/detection/alert.ts";
import type { Analyzer } from "../../src/detection/analyzer.ts";
import { PATTERN_DETECTORS, PatternAnalyzer } from "../../src/detection/pattern-analyzer.ts";
import type { ChainEvent } from "../../src/detection/schema.ts";
import {
  SYBIL_DETECTORS,
  SYBIL_FINDING_DETECTORS,
  SybilAnalyzer,
} from "../../src/detection/sybil-analyzer.ts";
import { WALLET_DETECTORS, WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";
import { generate, SCENARIOS } from "../../src/ingest/generator.ts";
import {
  DurableTables,
  memoryTables,
  type TableCodec,
  type Tables,
} from "../../src/runtime/durable-table.ts";
import { SegmentCompaction } from "../../src/runtime/state-compaction.ts";
import { SegmentReplay } from "../../src/runtime/state-replay.ts";
import { SegmentWriter } from "../../src/runtime/state-segment.ts";
import { valueCodec } from "../../src/runtime/value-codec.ts";

/**
 * Every scenario type over 3 h of event time (a serial creator needs hours to build a record), past the
 * hourly sweeps, with little organic traffic: ~73k events.
 */
const WORKLOAD = { seed: 3, durationMs: 180 * 60_000, scale: 0.07, scenarioRate: 8 };
const CHECKPOINT_EVERY = 1_500;
const RESTARTS = 5;

const workload = generate(WORKLOAD);
const events: ChainEvent[] = [...workload.events()];
const findings = new Set(SYBIL_FINDING_DETECTORS);

/** The three analyzers fed as the scanner feeds them: the sybil one also gets the others' findings. */
class Pipeline {
  readonly analyzers: Analyzer[];
  readonly #sybil: Analyzer;

  constructor(tables: (name: string) => Tables) {
    this.#sybil = new SybilAnalyzer({}, tables("sybil"));
    this.analyzers = [
      new WalletAnalyzer({}, tables("wallet")),
      new PatternAnalyzer({}, tables("pattern")),
      this.#sybil,
    ];
  }

  feed(batch: readonly ChainEvent[]): Alert[] {
    const alerts: Alert[] = [];
    for (const event of batch) {
      const before = alerts.length;
      for (const analyzer of this.analyzers) for (const alert of analyzer.handle(event)) alerts.push(alert);
      for (let i = before, n = alerts.length; i < n; i++) {
        if (findings.has(alerts[i]!.detector))
          for (const more of this.#sybil.handleFinding(alerts[i]!)) alerts.push(more);
      }
    }
    return alerts;
  }

  finish(ts: number): Alert[] {
    return this.analyzers.flatMap((analyzer) => analyzer.flush(ts));
  }
}

/**
 * One analyzer's durable tables as a worker holds them, the names it declared, and its store: the latest
 * bytes per table and key, as the last checkpoint left them.
 */
class Instance {
  readonly tables: DurableTables;
  readonly names = new Set<string>();
  /** The codec each table was declared with, to encode its live values as a checkpoint does. */
  readonly #codecs = new Map<string, TableCodec<unknown>>();
  /** The changelog: every checkpoint's segment, in order. */
  readonly store: Uint8Array[];

  /** Restored from `log` compacted into a base of small chunks, as a store's compaction leaves it. */
  constructor(log: Uint8Array[] = []) {
    const compaction = new SegmentCompaction();
    for (const segment of log) compaction.feed(segment);
    this.store = [...compaction.chunks(64 * 1024)];
    this.tables = new DurableTables(true);
    for (const chunk of this.store) this.tables.restore(chunk);
  }

  /** Tables that record the names declared, so `verify` can read every one of them. */
  get declaring(): Tables {
    return {
      table: (name, codec) => {
        this.names.add(name);
        if (codec) this.#codecs.set(name, codec as TableCodec<unknown>);
        return this.tables.table(name, codec);
      },
      beforeCheckpoint: (write) => this.tables.beforeCheckpoint(write),
    };
  }

  checkpoint(): void {
    const writer = new SegmentWriter();
    this.tables.collect(writer);
    const segment = writer.finish();
    if (segment) this.store.push(segment);
  }

  /** Tables and keys whose stored bytes differ from the live value's encoding (none, if every change was touched). */
  stale(): string[] {
    const stale: string[] = [];
    const latest = new SegmentReplay();
    for (const segment of this.store) latest.feed(segment);
    for (const name of this.names) {
      const live = this.tables.table<unknown>(name);
      const codec = this.#codecs.get(name) ?? valueCodec;
      const stored = latest.tables.get(name) ?? new Map<string, Uint8Array>();
      for (const [key, value] of live) {
        const bytes = stored.get(key);
        if (bytes === undefined || !Buffer.from(codec.encode(value)).equals(bytes))
          stale.push(`${name}/${key}`);
      }
      for (const key of stored.keys()) if (!live.has(key)) stale.push(`${name}/${key} (deleted)`);
    }
    return stale;
  }

  /** Each table's keys in iteration order: detectors iterate tables, so order is state too. */
  order(): Record<string, string[]> {
    const order: Record<string, string[]> = {};
    for (const name of this.names) order[name] = [...this.tables.table<unknown>(name).keys()];
    return order;
  }
}

function durablePipeline(instances: Map<string, Instance>): Pipeline {
  const pipeline = new Pipeline((name) => (instances.get(name) as Instance).declaring);
  for (const instance of instances.values()) instance.tables.sealed();
  return pipeline;
}

const ids = (alerts: Alert[]) => alerts.map((alert) => alert.alertId);

describe("durable analyzers", () => {
  test("the workload has every scenario type and enough events to cross the hourly sweeps", () => {
    const planted = workload.truth.map((instance) => instance.type);
    expect(planted).toEqual(expect.arrayContaining(SCENARIOS.map((scenario) => scenario.type)));
    expect(events.length).toBeGreaterThan(50_000);
    expect((events.at(-1) as ChainEvent).ts - (events[0] as ChainEvent).ts).toBeGreaterThan(170 * 60_000);
  });

  test("two fresh runs give identical alerts, from every detector", () => {
    const a = new Pipeline(() => memoryTables());
    const b = new Pipeline(() => memoryTables());
    const first = a.feed(events);
    const every = [...WALLET_DETECTORS, ...PATTERN_DETECTORS, ...SYBIL_DETECTORS].map((m) => m.name);
    expect(new Set(first.map((alert) => alert.detector))).toEqual(new Set(every));
    expect(ids(b.feed(events))).toEqual(ids(first));
  }, 30_000);

  test("restored from their checkpoints at several points, the analyzers continue as if never stopped", () => {
    const clean = new Pipeline(() => memoryTables());
    let instances = new Map(["wallet", "pattern", "sybil"].map((name) => [name, new Instance()]));
    let durable = durablePipeline(instances);
    const restartEvery = Math.floor(events.length / (RESTARTS + 1));
    let restarts = 0;
    for (let from = 0; from < events.length; from += CHECKPOINT_EVERY) {
      const batch = events.slice(from, from + CHECKPOINT_EVERY);
      expect(ids(durable.feed(batch))).toEqual(ids(clean.feed(batch)));
      for (const instance of instances.values()) instance.checkpoint();
      const next = from + CHECKPOINT_EVERY;
      if (Math.floor(next / restartEvery) === Math.floor(from / restartEvery) || next >= events.length)
        continue;
      for (const [name, instance] of instances)
        expect({ name, stale: instance.stale() }).toEqual({ name, stale: [] });
      const before = new Map([...instances].map(([name, instance]) => [name, instance.order()]));
      instances = new Map([...instances].map(([name, instance]) => [name, new Instance(instance.store)]));
      durable = durablePipeline(instances);
      for (const [name, instance] of instances) expect(instance.order()).toEqual(before.get(name)!);
      restarts++;
    }
    expect(restarts).toBe(RESTARTS);
    const end = (events.at(-1) as ChainEvent).ts + 120_000;
    expect(durable.finish(end)).toEqual(clean.finish(end));
    expect(durable.analyzers.map((a) => a.snapshot())).toEqual(clean.analyzers.map((a) => a.snapshot()));
    // Aged wallets quiet for a day were summarised on the way: the summaries went through restarts too.
    expect(clean.analyzers.every((a) => a.stateSize().walletSummaries > 0)).toBe(true);
  }, 120_000);
});

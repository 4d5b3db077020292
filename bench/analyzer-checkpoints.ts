/**
 * What durable checkpoints cost the analyzers: the three analyzers in one process, no workers (as
 * bench/analyzers.ts), over one generated workload, (a) on untracked tables (`memoryTables`) and (b) on
 * tracked tables checkpointed every `--every` events as the worker does it (checkpoint-taker.ts: written in
 * slices of at most `--slice-ms` between events). Reports events/s of (b) against (a) (process CPU time, best
 * of `--rounds`, the variants alternating), the keys and bytes a checkpoint writes per analyzer and for the
 * heaviest tables, each analyzer's checkpoint pause (its longest slice) and work (all its slices) p50 / p99,
 * and the bytes the last checkpoints leave in the store (keys plus values, the latest per key, without the
 * store's own overhead) per wallet kept.
 *
 *   bun bench/analyzer-checkpoints.ts [--seed 1] [--hours 1] [--scale 1] [--every 1000] [--slice-ms 1]
 *     [--rounds 3] [--count N (first N events)] [--top 8] [--json]
 */
import { parseCommandLine } from "../src/command-line.ts";
import type { Alert } from "../src/detection/alert.ts";
import type { Analyzer } from "../src/detection/analyzer.ts";
import { PatternAnalyzer } from "../src/detection/pattern-analyzer.ts";
import type { ChainEvent } from "../src/detection/schema.ts";
import { SybilAnalyzer } from "../src/detection/sybil-analyzer.ts";
import { WalletAnalyzer } from "../src/detection/wallet-analyzer.ts";
import { generate } from "../src/ingest/generator.ts";
import { CheckpointTaker, type TakenCheckpoint } from "../src/runtime/checkpoint-taker.ts";
import { DurableTables, memoryTables, type Tables } from "../src/runtime/durable-table.ts";
import { STATE_DEFAULTS } from "../src/runtime/spawn-options.ts";
import { readSegment, SegmentWriter } from "../src/runtime/state-segment.ts";
import { type Figure, figure, integer, positive, printReport } from "./lib/report.ts";

const BENCH = "analyzer-checkpoints";

const USAGE = `usage: bun bench/analyzer-checkpoints.ts [--seed 1] [--hours 1] [--scale 1] [--every 1000] [--slice-ms 1]
         [--rounds 3] [--count N (first N events)] [--top 8] [--json]`;
// Not parseBenchArgs: best of --rounds in one process, not a median of fresh processes.
const values = parseCommandLine(USAGE, {
  seed: { type: "string", default: "1" },
  hours: { type: "string", default: "1" },
  scale: { type: "string", default: "1" },
  every: { type: "string", default: "1000" },
  "slice-ms": { type: "string", default: String(STATE_DEFAULTS.checkpointSliceMs) },
  rounds: { type: "string", default: "3" },
  count: { type: "string" },
  top: { type: "string", default: "8" },
  json: { type: "boolean", default: false },
});

const every = integer(USAGE, "--every", values.every);
const sliceMs = positive(USAGE, "--slice-ms", values["slice-ms"]);
const rounds = integer(USAGE, "--rounds", values.rounds);
const top = integer(USAGE, "--top", values.top);
// An integer: the generator refuses any other seed.
const seed = integer(USAGE, "--seed", values.seed);
const durationMs = positive(USAGE, "--hours", values.hours) * 3_600_000;
const scale = positive(USAGE, "--scale", values.scale);
const first = values.count === undefined ? undefined : integer(USAGE, "--count", values.count);
const all = [...generate({ seed, durationMs, scale }).events()];
const events = first === undefined ? all : all.slice(0, first);

const NAMES = ["wallet", "pattern", "sybil"] as const;
type Name = (typeof NAMES)[number];

function analyzers(tables: (name: Name) => Tables): Analyzer[] {
  return [
    new WalletAnalyzer({}, tables("wallet")),
    new PatternAnalyzer({}, tables("pattern")),
    new SybilAnalyzer({}, tables("sybil")),
  ];
}

/** Each event through the three, the others' findings to the sybil analyzer, as the scanner feeds them. */
function feed(list: readonly Analyzer[], from: number, to: number): void {
  const reader = list.find((a) => a.findingDetectors.length > 0);
  for (let i = from; i < to; i++) {
    const event = events[i] as ChainEvent;
    for (const analyzer of list) {
      const alerts: Alert[] = analyzer.handle(event);
      if (reader !== undefined && analyzer !== reader)
        for (const alert of alerts) reader.handleFinding(alert);
    }
  }
}

function cpuMicros(since: NodeJS.CpuUsage): number {
  const cpu = process.cpuUsage(since);
  return cpu.user + cpu.system;
}

function untracked(): number {
  const list = analyzers(() => memoryTables());
  Bun.gc(true);
  const started = process.cpuUsage();
  feed(list, 0, events.length);
  return (events.length * 1e6) / cpuMicros(started);
}

/** Per table: keys and value bytes summed over the checkpoints. */
interface TableLoad {
  keys: number;
  bytes: number;
}

interface Tracked {
  eventsPerSec: number;
  checkpoints: number;
  /** Per analyzer: keys and bytes summed over the checkpoints, each one's longest slice and its work (ms). */
  analyzers: Record<Name, { keys: number; bytes: number; pauses: number[]; work: number[] }>;
  /** `analyzer table` → load over the checkpoints. */
  tables: Map<string, TableLoad>;
  /** Per analyzer: what the store holds after the last checkpoint (key + value bytes), and its wallets. */
  stored: Record<Name, { bytes: number; wallets: number }>;
}

/**
 * Each analyzer takes its checkpoints as its worker does (checkpoint-taker.ts): every `--every` events it
 * freezes its touched keys and writes them in slices of at most `--slice-ms` after each event that follows,
 * the last slice catching up what those events touched. The slices are part of the CPU time measured (they
 * are the checkpoint's cost to the actor); the per-table accounting and the store that keeps the latest
 * bytes per key are not.
 */
function tracked(): Tracked {
  const tables = new Map(NAMES.map((name) => [name, new DurableTables(true)]));
  const list = analyzers((name) => tables.get(name) as DurableTables);
  for (const t of tables.values()) t.sealed();
  const takers = NAMES.map(
    (name) =>
      new CheckpointTaker(tables.get(name) as DurableTables, new SegmentWriter(), { sliceMs, deferMs: 0 }),
  );
  const result: Tracked = {
    eventsPerSec: 0,
    checkpoints: 0,
    analyzers: {
      wallet: { keys: 0, bytes: 0, pauses: [], work: [] },
      pattern: { keys: 0, bytes: 0, pauses: [], work: [] },
      sybil: { keys: 0, bytes: 0, pauses: [], work: [] },
    },
    tables: new Map(),
    stored: {} as Tracked["stored"],
  };
  const taken: Record<Name, TakenCheckpoint[]> = { wallet: [], pattern: [], sybil: [] };
  const step = (i: number) => {
    const checkpoint = (takers[i] as CheckpointTaker).step();
    if (checkpoint) taken[NAMES[i] as Name].push(checkpoint);
  };
  Bun.gc(true);
  const started = process.cpuUsage();
  for (let from = 0; from < events.length; from++) {
    feed(list, from, from + 1);
    if ((from + 1) % every === 0) for (const taker of takers) taker.begin();
    for (let i = 0; i < takers.length; i++) if ((takers[i] as CheckpointTaker).active) step(i);
  }
  for (let i = 0; i < takers.length; i++) {
    const taker = takers[i] as CheckpointTaker;
    taker.begin();
    while (taker.active) step(i);
  }
  result.eventsPerSec = (events.length * 1e6) / cpuMicros(started);
  result.checkpoints = Math.ceil(events.length / every);
  for (const name of NAMES) {
    const store = new Map<string, number>();
    const load = result.analyzers[name];
    for (const { segment, pauseMs, workMs } of taken[name]) {
      load.pauses.push(pauseMs);
      load.work.push(workMs);
      if (!segment) continue;
      load.bytes += segment.byteLength;
      readSegment(segment, (table, _kind, key, value) => {
        const size = value === null ? 0 : value.length;
        load.keys++;
        const id = `${name} ${table}`;
        let t = result.tables.get(id);
        if (t === undefined) {
          t = { keys: 0, bytes: 0 };
          result.tables.set(id, t);
        }
        t.keys++;
        t.bytes += size;
        const field = `${table}\u0000${key}`;
        if (value === null) store.delete(field);
        else store.set(field, Buffer.byteLength(table) + Buffer.byteLength(key) + size);
      });
    }
    let bytes = 0;
    for (const size of store.values()) bytes += size;
    result.stored[name] = { bytes, wallets: (list[NAMES.indexOf(name)] as Analyzer).stateSize().wallets };
  }
  return result;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

let bestUntracked = 0;
let best: Tracked | null = null;
for (let round = 0; round < rounds; round++) {
  bestUntracked = Math.max(bestUntracked, untracked());
  const run = tracked();
  if (best === null || run.eventsPerSec > best.eventsPerSec) best = run;
  process.stderr.write(
    `round ${round + 1}/${rounds}: untracked ${Math.round(bestUntracked)} events/s, tracked ${Math.round(run.eventsPerSec)} events/s\n`,
  );
}
const run = best as Tracked;

const figures: Figure[] = [];
const label = `${events.length} events, checkpoint every ${every}`;
const baseline = { bench: BENCH, metric: `untracked, ${label}`, value: bestUntracked, unit: "events/s" };
figures.push(figure(baseline));
figures.push(
  figure({ bench: BENCH, metric: `tracked, ${label}`, value: run.eventsPerSec, unit: "events/s" }, baseline),
);
const perCheckpoint = (n: number) => n / run.checkpoints;
let totalKeys = 0;
let totalBytes = 0;
for (const name of NAMES) {
  const load = run.analyzers[name];
  totalKeys += load.keys;
  totalBytes += load.bytes;
  const pauses = [...load.pauses].sort((x, y) => x - y);
  const work = [...load.work].sort((x, y) => x - y);
  figures.push(
    figure({
      bench: BENCH,
      metric: `${name} keys/checkpoint`,
      value: perCheckpoint(load.keys),
      unit: "keys",
    }),
    figure({ bench: BENCH, metric: `${name} bytes/checkpoint`, value: perCheckpoint(load.bytes), unit: "B" }),
    figure({
      bench: BENCH,
      metric: `${name} checkpoint pause p50`,
      value: quantile(pauses, 0.5),
      unit: "ms",
    }),
    figure({
      bench: BENCH,
      metric: `${name} checkpoint pause p99`,
      value: quantile(pauses, 0.99),
      unit: "ms",
    }),
    figure({ bench: BENCH, metric: `${name} checkpoint work p50`, value: quantile(work, 0.5), unit: "ms" }),
    figure({ bench: BENCH, metric: `${name} checkpoint work p99`, value: quantile(work, 0.99), unit: "ms" }),
  );
}
figures.push(
  figure({ bench: BENCH, metric: "all keys/checkpoint", value: perCheckpoint(totalKeys), unit: "keys" }),
  figure({ bench: BENCH, metric: "all bytes/checkpoint", value: perCheckpoint(totalBytes), unit: "B" }),
);
const heaviest = [...run.tables].sort(([, a], [, b]) => b.bytes - a.bytes).slice(0, top);
for (const [id, load] of heaviest) {
  figures.push(
    figure({ bench: BENCH, metric: `${id} bytes/checkpoint`, value: perCheckpoint(load.bytes), unit: "B" }),
    figure({ bench: BENCH, metric: `${id} keys/checkpoint`, value: perCheckpoint(load.keys), unit: "keys" }),
  );
}
let storedBytes = 0;
for (const name of NAMES) {
  const { bytes, wallets } = run.stored[name];
  storedBytes += bytes;
  figures.push(
    figure({ bench: BENCH, metric: `${name} stored bytes`, value: bytes, unit: "B" }),
    figure({
      bench: BENCH,
      metric: `${name} stored bytes per wallet`,
      value: bytes / wallets,
      unit: "B/wallet",
    }),
  );
}
// Every analyzer sees every event, so each keeps the same wallets: the three stores per wallet kept.
figures.push(
  figure({
    bench: BENCH,
    metric: "all stored bytes per wallet",
    value: storedBytes / run.stored.wallet.wallets,
    unit: "B/wallet",
  }),
);
printReport(figures, { json: values.json });

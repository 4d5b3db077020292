/**
 * Analyzer state over a long run: 4M generated events (default, about 36 hours of event time: past the
 * 24-hour wallet horizon, though not the 30-day horizon of wallet summaries, which only grow here) through the full scanner on the in-memory backend (with retention, as `bun run
 * start` runs it), sampling ten times each analyzer's state size (through the control plane) and the
 * process RSS. Pruning works when the figures flatten: the last sample is compared with the one at the
 * half-way point (ratio near 1 = bounded). Then every analyzer is restarted (its worker replaced, its
 * durable state restored from the checkpoints): the restored `stateSize()` must equal the one before (the
 * bench exits 1 if not), and the restore time and keys/s are reported. With REDIS_URL the streams and the
 * checkpoints are in that Redis (under a unique prefix, removed after).
 *
 *   bun bench/state-size.ts [--count 4000000] [--json]
 *   REDIS_URL=redis://127.0.0.1:6379 bun bench/state-size.ts
 */
import { parseCommandLine } from "../src/command-line.ts";
import { ANALYZER_DEFAULTS, type StateSize } from "../src/detection/analyzer.ts";
import type { ChainEvent } from "../src/detection/schema.ts";
import { startBatchScanner } from "../src/eval/batch-run.ts";
import { generate } from "../src/ingest/generator.ts";
import { topology } from "../src/scanner/topology.ts";
import type { StreamBackend } from "../src/streams/backend.ts";
import { MemoryStreamBackend } from "../src/streams/memory-backend.ts";
import { RedisStreamBackend } from "../src/streams/redis-backend.ts";
import { trimAcked } from "../src/streams/retention.ts";
import { connect, deleteByPrefix } from "./lib/redis.ts";
import { type Figure, figure, integer, printReport } from "./lib/report.ts";

const BENCH = "state-size";
const USAGE = `usage: bun bench/state-size.ts [--count 4000000] [--json]
       REDIS_URL=redis://127.0.0.1:6379 bun bench/state-size.ts`;
// Not parseBenchArgs: one run, sampled as it goes, no --rounds.
const args = parseCommandLine(USAGE, {
  count: { type: "string", default: "4000000" },
  json: { type: "boolean", default: false },
});
const total = integer(USAGE, "--count", args.count);
const every = Math.max(1, Math.floor(total / 10));

const redisUrl = process.env.REDIS_URL;
const prefix = `troupe-bench-state:${crypto.randomUUID()}:`;
const backend: StreamBackend = redisUrl ? new RedisStreamBackend(redisUrl) : new MemoryStreamBackend();
const names = topology(prefix);
const scanner = await startBatchScanner(backend, names, { lagCapacity: 200_000 });
const { analyzers, ingest } = scanner;

interface Sample {
  events: number;
  /** Event time covered so far. */
  hours: number;
  rssMb: number;
  /** Every analyzer worker's JS heap after a full collection, summed. */
  workerHeapMb: number;
  state: Record<string, StateSize>;
}
const samples: Sample[] = [];

async function sample(events: number): Promise<void> {
  await scanner.drained();
  // Everything acked goes before RSS is read, so what is left is the analyzers' state.
  for (const stream of [names.tx, names.findings, names.alerts]) await trimAcked(backend, stream);
  Bun.gc(true);
  const state: Record<string, StateSize> = {};
  let workerHeap = 0;
  for (const [name, ref] of analyzers.refs) {
    state[name] = await ref.query<StateSize>("stateSize");
    // A full collection of a worker heap of hundreds of MB: seconds on a busy box, not the 2 s default.
    workerHeap += await ref.query<number>("heapBytes", [true], { timeoutMs: 60_000 });
  }
  const rssMb = process.memoryUsage().rss / 1024 / 1024;
  const workerHeapMb = workerHeap / 1024 / 1024;
  const hours = (lastTs - T0) / 3_600_000;
  samples.push({ events, hours, rssMb, workerHeapMb, state });
  const line = Object.entries(state)
    .map(
      ([name, s]) =>
        `${name} mints ${s.mints} positions ${s.positions} wallets ${s.wallets} (+${s.walletSummaries} summaries)`,
    )
    .join(" | ");
  process.stderr.write(
    `${events.toLocaleString("en")} events (${hours.toFixed(1)} h of event time): rss ${rssMb.toFixed(0)} MB, analyzer heaps ${workerHeapMb.toFixed(0)} MB | ${line}\n`,
  );
}

let sent = 0;
const T0 = 1_760_000_000_000;
const WALLET_HORIZON_HOURS = ANALYZER_DEFAULTS.walletIdleMs / 3_600_000;
let lastTs = T0;
let batch: ChainEvent[] = [];
// Consecutive six-hour workloads with new seeds: an endless stream of fresh mints and wallets.
for (let part = 0; sent < total; part++) {
  const workload = generate({
    seed: 1000 + part,
    durationMs: 6 * 3_600_000,
    t0: 1_760_000_000_000 + part * 6 * 3_600_000,
  });
  for (const event of workload.events()) {
    lastTs = Math.max(lastTs, event.ts);
    batch.push(event);
    if (batch.length === 1000) {
      await ingest.send(batch);
      sent += batch.length;
      batch = [];
      if (sent % every === 0) await sample(sent);
      if (sent >= total) break;
    }
  }
}

// A restart of each analyzer (worker replaced, state restored from its checkpoints) must give back the
// same state; what it took is the restore figure.
const before = samples.at(-1)?.state ?? {};
const restored: Record<string, StateSize> = {};
const restores: { keys: number; ms: number }[] = [];
for (const [name, ref] of analyzers.refs) {
  const started = new Promise<void>((resolve) => {
    const off = scanner.system.events.on("restarted", (e) => {
      if (e.actor !== name) return;
      off();
      resolve();
    });
  });
  scanner.system.restart(name);
  await started;
  restored[name] = await ref.query<StateSize>("stateSize");
  const restore = ref.stats().instances[0]?.durable?.restore;
  if (restore) restores.push(restore);
}
const same = JSON.stringify(restored) === JSON.stringify(before);
process.stderr.write(`restored state ${same ? "equals" : "DIFFERS FROM"} the state before the restart\n`);
await scanner.stop();
if (redisUrl) {
  const redis = connect();
  await deleteByPrefix(redis, prefix);
  redis.disconnect();
}
await backend.close();

// Wallets are pruned after 24 idle hours of event time: compare with the first sample past that horizon
// (the half-way sample when the run is shorter).
const half =
  samples.find((s) => s.hours >= WALLET_HORIZON_HOURS + 1) ??
  (samples[Math.floor(samples.length / 2) - 1] as Sample);
const last = samples.at(-1) as Sample;
const figures: Figure[] = [];
const sum = (s: Sample, key: "mints" | "positions" | "wallets" | "walletSummaries") =>
  Object.values(s.state).reduce((n, size) => n + size[key], 0);
// Wallet summaries (issue 18) are kept 30 days: in a run of a day and a half they only grow.
for (const key of ["mints", "positions", "wallets", "walletSummaries"] as const) {
  figures.push(
    figure(
      {
        bench: BENCH,
        metric: `${key} at ${last.events.toLocaleString("en")} events`,
        value: sum(last, key),
        unit: key,
      },
      { bench: BENCH, metric: `at ${half.events.toLocaleString("en")}`, value: sum(half, key), unit: key },
    ),
  );
}
figures.push(
  figure(
    {
      bench: BENCH,
      metric: `analyzer heaps at ${last.events.toLocaleString("en")} events`,
      value: last.workerHeapMb,
      unit: "MB",
    },
    { bench: BENCH, metric: `at ${half.events.toLocaleString("en")}`, value: half.workerHeapMb, unit: "MB" },
  ),
);
figures.push(
  figure(
    {
      bench: BENCH,
      metric: `rss at ${last.events.toLocaleString("en")} events`,
      value: last.rssMb,
      unit: "MB",
    },
    { bench: BENCH, metric: `at ${half.events.toLocaleString("en")}`, value: half.rssMb, unit: "MB" },
  ),
);
const slowest = restores.reduce((a, b) => (b.ms > a.ms ? b : a), { keys: 0, ms: 0 });
const restoreKeys = restores.reduce((n, r) => n + r.keys, 0);
const restoreMs = restores.reduce((n, r) => n + r.ms, 0);
figures.push(
  figure(
    { bench: BENCH, metric: "slowest analyzer restore", value: slowest.ms, unit: "ms" },
    { bench: BENCH, metric: "target (issue 13)", value: 2000, unit: "ms" },
  ),
  figure({
    bench: BENCH,
    metric: `restore of ${restoreKeys.toLocaleString("en")} keys (three analyzers)`,
    value: restoreMs === 0 ? 0 : (restoreKeys * 1000) / restoreMs,
    unit: "keys/s",
  }),
);
printReport(figures, args);
process.exit(same ? 0 : 1);

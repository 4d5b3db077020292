/**
 * Analyzer state over a long run: 2M generated events (default) through the full scanner on the in-memory
 * backend (with retention, as `bun run start` runs it), sampling every 200k events each analyzer's state
 * size (through the control plane) and the process RSS. Pruning works when the figures flatten: the last
 * sample is compared with the one at the half-way point (ratio near 1 = bounded).
 *
 *   bun bench/state-size.ts [--count 2000000] [--json]
 */
import type { StateSize } from "../src/actors/analyzer.ts";
import type { ChainEvent } from "../src/actors/schema.ts";
import { generate } from "../src/ingest/generator.ts";
import { startBatchScanner } from "../src/scanner/batch-run.ts";
import { topology } from "../src/scanner/topology.ts";
import { MemoryStreamBackend } from "../src/streams/memory-backend.ts";
import { Retention } from "../src/streams/retention.ts";
import { type Figure, figure, parseBenchArgs, printReport } from "./lib/report.ts";

const BENCH = "state-size";
const args = parseBenchArgs();
const total = args.count ?? 2_000_000;
const every = Math.max(1, Math.floor(total / 10));

const backend = new MemoryStreamBackend();
const names = topology("state:");
const scanner = await startBatchScanner(backend, names, { lagCapacity: 200_000 });
const { analyzers, ingest } = scanner;
const retention = new Retention(backend, [names.tx, names.alerts], { intervalMs: 1000 });
retention.start();

interface Sample {
  events: number;
  rssMb: number;
  state: Record<string, StateSize>;
}
const samples: Sample[] = [];

async function sample(events: number): Promise<void> {
  await scanner.drained();
  await retention.runOnce();
  Bun.gc(true);
  const state: Record<string, StateSize> = {};
  for (const [name, ref] of analyzers.refs) state[name] = await ref.query<StateSize>("stateSize");
  const rssMb = process.memoryUsage().rss / 1024 / 1024;
  samples.push({ events, rssMb, state });
  const line = Object.entries(state)
    .map(([name, s]) => `${name} mints ${s.mints} positions ${s.positions} wallets ${s.wallets}`)
    .join(" | ");
  process.stderr.write(`${events.toLocaleString("en")} events: rss ${rssMb.toFixed(0)} MB | ${line}\n`);
}

let sent = 0;
let batch: ChainEvent[] = [];
// Consecutive six-hour workloads with new seeds: an endless stream of fresh mints and wallets.
for (let part = 0; sent < total; part++) {
  const workload = generate({
    seed: 1000 + part,
    durationMs: 6 * 3_600_000,
    t0: 1_760_000_000_000 + part * 6 * 3_600_000,
  });
  for (const event of workload.events()) {
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
retention.stop();
await scanner.stop();

const half = samples[Math.floor(samples.length / 2) - 1] as Sample;
const last = samples.at(-1) as Sample;
const figures: Figure[] = [];
const sum = (s: Sample, key: "mints" | "positions" | "wallets") =>
  Object.values(s.state).reduce((n, size) => n + size[key], 0);
for (const key of ["mints", "positions", "wallets"] as const) {
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
      metric: `rss at ${last.events.toLocaleString("en")} events`,
      value: last.rssMb,
      unit: "MB",
    },
    { bench: BENCH, metric: `at ${half.events.toLocaleString("en")}`, value: half.rssMb, unit: "MB" },
  ),
);
printReport(figures, args);
process.exit(0);

/**
 * Pure analyzer throughput: events are generated up front, then each analyzer (and all three in
 * sequence, as one process would run them, findings fed to the sybil analyzer) handles the same
 * array. No generator, no actors, no streams in the timed loop: the figure docs/detection.md quotes
 * as "analyzer events/s". Timed in process CPU time, best of `rounds`: on a shared machine wall time
 * mostly measures the neighbours.
 *
 * Run: bun bench/analyzers.ts [--seed 1] [--hours 6] [--scale 1] [--rounds 3] [--json]
 */
import { parseCommandLine } from "../src/command-line.ts";
import type { Analyzer } from "../src/detection/analyzer.ts";
import { PatternAnalyzer } from "../src/detection/pattern-analyzer.ts";
import type { ChainEvent } from "../src/detection/schema.ts";
import { SybilAnalyzer } from "../src/detection/sybil-analyzer.ts";
import { WalletAnalyzer } from "../src/detection/wallet-analyzer.ts";
import { generate } from "../src/ingest/generator.ts";
import { figure, integer, type Measurement, positive, printReport } from "./lib/report.ts";

const BENCH = "analyzers";
const USAGE = "usage: bun bench/analyzers.ts [--seed 1] [--hours 6] [--scale 1] [--rounds 3] [--json]";

export interface AnalyzerBench {
  events: number;
  /** events/s per analyzer, and for the three in sequence (each event through all three). */
  wallet: number;
  pattern: number;
  sybil: number;
  all: number;
}

function once(events: readonly ChainEvent[], make: () => Analyzer[]): number {
  const analyzers = make();
  const reader = analyzers.find((a) => a.findingDetectors.length > 0);
  Bun.gc(true);
  const started = process.cpuUsage();
  for (const event of events) {
    for (const analyzer of analyzers) {
      const alerts = analyzer.handle(event);
      // Findings feed the analyzer that reads them (sybil) as the pipeline's alerts stream would.
      if (reader !== undefined && analyzer !== reader)
        for (const alert of alerts) reader.handleFinding(alert);
    }
  }
  const cpu = process.cpuUsage(started);
  return Math.round((events.length * 1e6) / (cpu.user + cpu.system));
}

function time(events: readonly ChainEvent[], make: () => Analyzer[], rounds: number): number {
  let best = 0;
  for (let i = 0; i < rounds; i++) best = Math.max(best, once(events, make));
  return best;
}

export function benchAnalyzers(options: {
  seed?: number;
  hours?: number;
  scale?: number;
  rounds?: number;
}): AnalyzerBench {
  const events = [
    ...generate({
      seed: options.seed ?? 1,
      durationMs: (options.hours ?? 6) * 3_600_000,
      scale: options.scale ?? 1,
    }).events(),
  ];
  const rounds = options.rounds ?? 3;
  return {
    events: events.length,
    wallet: time(events, () => [new WalletAnalyzer()], rounds),
    pattern: time(events, () => [new PatternAnalyzer()], rounds),
    sybil: time(events, () => [new SybilAnalyzer()], rounds),
    all: time(events, () => [new WalletAnalyzer(), new PatternAnalyzer(), new SybilAnalyzer()], rounds),
  };
}

if (import.meta.main) {
  const values = parseCommandLine(USAGE, {
    seed: { type: "string", default: "1" },
    hours: { type: "string", default: "6" },
    scale: { type: "string", default: "1" },
    rounds: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
  });
  const result = benchAnalyzers({
    seed: integer(USAGE, "--seed", values.seed, 0),
    hours: positive(USAGE, "--hours", values.hours),
    scale: positive(USAGE, "--scale", values.scale),
    rounds: integer(USAGE, "--rounds", values.rounds),
  });
  process.stderr.write(`${result.events} events; CPU-time events/s, best of the rounds\n`);
  const measure = (metric: string, value: number): Measurement => ({
    bench: BENCH,
    metric,
    value,
    unit: "events/CPU-s",
  });
  // Each analyzer against the three in sequence: how much faster it runs alone (the inverse of its share).
  const all = measure("three analyzers in sequence", result.all);
  printReport(
    [
      figure(all),
      figure(measure("wallet analyzer", result.wallet), all),
      figure(measure("pattern analyzer", result.pattern), all),
      figure(measure("sybil analyzer", result.sybil), all),
    ],
    { json: values.json },
  );
}

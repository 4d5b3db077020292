/**
 * Pure analyzer throughput: events are generated up front, then each analyzer (and all three in
 * sequence, as one process would run them, findings fed to the sybil analyzer) handles the same
 * array. No generator, no actors, no streams in the timed loop: the figure docs/detection.md quotes
 * as "analyzer events/s". Timed in process CPU time, best of `rounds`: on a shared machine wall time
 * mostly measures the neighbours.
 *
 * Run: bun bench/analyzers.ts [--seed 1] [--hours 6] [--scale 1] [--rounds 3] [--json]
 */
import type { Analyzer } from "../src/detection/analyzer.ts";
import { PatternAnalyzer } from "../src/detection/pattern-analyzer.ts";
import type { ChainEvent } from "../src/detection/schema.ts";
import { SybilAnalyzer } from "../src/detection/sybil-analyzer.ts";
import { WalletAnalyzer } from "../src/detection/wallet-analyzer.ts";
import { generate } from "../src/ingest/generator.ts";

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
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: number): number => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const result = benchAnalyzers({
    seed: flag("seed", 1),
    hours: flag("hours", 6),
    scale: flag("scale", 1),
    rounds: flag("rounds", 3),
  });
  if (args.includes("--json")) console.log(JSON.stringify(result));
  else
    console.log(
      `${result.events} events; CPU-time events/s (best of rounds): wallet ${result.wallet}, ` +
        `pattern ${result.pattern}, sybil ${result.sybil}, all three ${result.all}`,
    );
}

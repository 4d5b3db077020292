/**
 * Inline evaluation: generator → the analyzers in this process (no actors, no streams) → scores. The fast
 * loop for tuning detectors; the full-pipeline `bun run eval` builds on the same generator and scorer. With
 * `partitions`, the mint-keyed detectors run in the mint analyzer as that many instances, each given the
 * events of its mints (by the partitioned streams' hash) as the wallet analyzer forwards them in the
 * pipeline: with its clock as the watermark and the trader's facts.
 *
 * Run: bun src/eval/run-inline.ts [--seed 1] [--hours 8] [--scale 1] [--partitions P] [--json]
 */

import { numberFlag, parseCommandLine } from "../command-line.ts";
import type { Alert } from "../detection/alert.ts";
import type { StateSize } from "../detection/analyzer.ts";
import { MintAnalyzer, type MintAnalyzerConfig, mintKeyOf } from "../detection/mint-analyzer.ts";
import {
  PATTERN_DETECTORS,
  PatternAnalyzer,
  type PatternAnalyzerConfig,
} from "../detection/pattern-analyzer.ts";
import {
  SYBIL_DETECTORS,
  SYBIL_FINDING_DETECTORS,
  SybilAnalyzer,
  type SybilAnalyzerConfig,
} from "../detection/sybil-analyzer.ts";
import { WALLET_DETECTORS, WalletAnalyzer, type WalletAnalyzerConfig } from "../detection/wallet-analyzer.ts";
import { WalletStage, walletStageConfig } from "../detection/wallet-stage.ts";
import { type GeneratorOptions, generate } from "../ingest/generator.ts";
import { partitionOf } from "../streams/partitions.ts";
import { type Scorecard, type ScoreOptions, score } from "./score.ts";

/** Every detector the analyzers implement: the rows of the scorecard. */
export const IMPLEMENTED_DETECTORS = [...WALLET_DETECTORS, ...PATTERN_DETECTORS, ...SYBIL_DETECTORS].map(
  (m) => m.name,
);

export interface InlineEvalOptions extends GeneratorOptions {
  wallet?: WalletAnalyzerConfig;
  pattern?: PatternAnalyzerConfig;
  sybil?: SybilAnalyzerConfig;
  mint?: MintAnalyzerConfig;
  /** Partitions of the mint analyzer; unset, its detectors run in the wallet and pattern analyzers. */
  partitions?: number;
  score?: Omit<ScoreOptions, "totalMints">;
}

export interface InlineEvalResult {
  events: number;
  mints: number;
  /** Wall time for generation plus analysis. */
  elapsedMs: number;
  eventsPerSec: number;
  alerts: Alert[];
  scorecard: Scorecard;
  /** The mint analyzer's (with `partitions`) is its partitions' sums; then no pattern analyzer runs. */
  state: Record<"wallet" | "sybil", StateSize> & { pattern?: StateSize; mint?: StateSize };
}

export function runInline(options: InlineEvalOptions = {}): InlineEvalResult {
  const workload = generate(options);
  const partitions = options.partitions ?? 0;
  // Keyed, the wallet analyzer is the wallet stage (wallet-stage.ts): the pattern analyzer has no detector left.
  const analyzers = {
    wallet:
      partitions > 0
        ? new WalletStage(walletStageConfig(options.wallet, options.pattern))
        : new WalletAnalyzer(options.wallet),
    pattern: partitions > 0 ? null : new PatternAnalyzer(options.pattern),
    sybil: new SybilAnalyzer(options.sybil),
  };
  const list = [analyzers.wallet, ...(analyzers.pattern ? [analyzers.pattern] : []), analyzers.sybil];
  const mint = Array.from({ length: partitions }, () => new MintAnalyzer(options.mint));
  const findings = new Set(SYBIL_FINDING_DETECTORS);
  const alerts: Alert[] = [];
  let events = 0;
  let mints = 0;
  let lastTs = workload.t0;
  const started = performance.now();
  for (const event of workload.events()) {
    events++;
    if (event.kind === "create") mints++;
    lastTs = event.ts;
    const before = alerts.length;
    for (const analyzer of list) for (const alert of analyzer.handle(event)) alerts.push(alert);
    const key = mintKeyOf(event);
    if (key !== undefined && partitions > 0) {
      const keyed = analyzers.wallet.keyedFields(event);
      for (const alert of mint[partitionOf(key, partitions)]!.handle(event, keyed)) alerts.push(alert);
    }
    // The findings stream, in event order: P4 / W4 alerts of the other analyzers become S3 edges.
    for (let i = before, n = alerts.length; i < n; i++) {
      const alert = alerts[i]!;
      if (findings.has(alert.detector))
        for (const more of analyzers.sybil.handleFinding(alert)) alerts.push(more);
    }
  }
  // Alerts that wait for a flush (e.g. a fan-out that just went quiet) are due by the end.
  for (const analyzer of [...list, ...mint])
    for (const alert of analyzer.flush(lastTs + 60_000)) alerts.push(alert);
  const elapsedMs = performance.now() - started;
  return {
    events,
    mints,
    elapsedMs,
    eventsPerSec: Math.round((events * 1000) / elapsedMs),
    alerts,
    scorecard: score(alerts, workload.truth, {
      detectors: IMPLEMENTED_DETECTORS,
      ...options.score,
      totalMints: mints,
    }),
    state: {
      wallet: analyzers.wallet.stateSize(),
      ...(analyzers.pattern && { pattern: analyzers.pattern.stateSize() }),
      sybil: analyzers.sybil.stateSize(),
      ...(partitions > 0 && { mint: sumStateSizes(mint.map((m) => m.stateSize())) }),
    },
  };
}

function sumStateSizes(sizes: readonly StateSize[]): StateSize {
  const sum: StateSize = {
    mints: 0,
    positions: 0,
    wallets: 0,
    walletSummaries: 0,
    openAlertWindows: 0,
    detectors: {},
  };
  for (const size of sizes) {
    sum.mints += size.mints;
    sum.positions += size.positions;
    sum.wallets += size.wallets;
    sum.walletSummaries += size.walletSummaries;
    sum.openAlertWindows += size.openAlertWindows;
    for (const [name, n] of Object.entries(size.detectors))
      sum.detectors[name] = (sum.detectors[name] ?? 0) + n;
  }
  return sum;
}

function fmt(x: number | null, digits = 3): string {
  return x === null ? "-" : x.toFixed(digits);
}

/** One line per detector, the table docs/detection.md quotes. */
export function formatScorecard(card: Scorecard): string {
  const head = "detector              alerts  prec   rec(c)        rec(e)        ttd p50/p95 s   decoy/1k";
  const rows = card.detectors.map((d) =>
    [
      d.detector.padEnd(20),
      String(d.alerts).padStart(7),
      fmt(d.precision).padStart(6),
      `${fmt(d.canonical.recall)} (${d.canonical.detected}/${d.canonical.scenarios})`.padStart(14),
      `${fmt(d.evasive.recall)} (${d.evasive.detected}/${d.evasive.scenarios})`.padStart(14),
      `${fmt(d.ttdP50Ms === null ? null : d.ttdP50Ms / 1000, 1)}/${fmt(d.ttdP95Ms === null ? null : d.ttdP95Ms / 1000, 1)}`.padStart(
        14,
      ),
      fmt(d.decoyAlertsPer1kMints, 2).padStart(10),
    ].join(" "),
  );
  return [head, ...rows].join("\n");
}

const USAGE = `usage: bun src/eval/run-inline.ts [--seed N] [--hours H] [--scale S] [--partitions P] [--json]

The analyzers in this process over a generated workload (no actors, no streams), then the scorecard.
  --seed        seed of the generated workload (default 1)
  --hours       event time to generate (default 8)
  --scale       traffic scale (default 1)
  --partitions  run the mint-keyed detectors in this many mint analyzers, as the keyed layout does
  --json        the result as one JSON object
  -h, --help    this text`;

if (import.meta.main) {
  const values = parseCommandLine(USAGE, {
    seed: { type: "string", default: "1" },
    hours: { type: "string", default: "8" },
    scale: { type: "string", default: "1" },
    partitions: { type: "string" },
    json: { type: "boolean", default: false },
  });
  const result = runInline({
    seed: numberFlag(USAGE, "seed", values.seed, { atLeast: 0 }, true),
    durationMs: numberFlag(USAGE, "hours", values.hours, { atLeast: 0.01 }) * 3_600_000,
    scale: numberFlag(USAGE, "scale", values.scale, { atLeast: 0.01 }),
    ...(values.partitions !== undefined && {
      partitions: numberFlag(USAGE, "partitions", values.partitions, { atLeast: 1 }, true),
    }),
  });
  if (values.json) {
    const { alerts: _alerts, ...rest } = result;
    console.log(JSON.stringify(rest));
  } else {
    console.log(
      `${result.events} events, ${result.mints} mints, ${result.alerts.length} alerts, ` +
        `${(result.elapsedMs / 1000).toFixed(1)} s (${result.eventsPerSec} events/s incl. generation)`,
    );
    console.log(formatScorecard(result.scorecard));
  }
}

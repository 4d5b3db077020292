/**
 * sybil-detection: detectors about groups of wallets controlled by one operator (funding hubs,
 * co-entry signatures, cluster control). Same API as {@link WalletAnalyzer}: `handle`, `flush`,
 * `stateSize`, `snapshot`, and `handleFinding` for the findings stream, which only this analyzer uses.
 *
 * Findings: S3 cluster_control joins wallets over edges from S1 and S2 (this analyzer) and from P4
 * daisy_chain and W4 sweep_back (the pattern and wallet analyzers). Those two travel on the findings
 * stream, which the sybil actor reads as one more consumer group and hands to `handleFinding` in step with
 * its tx entries (findings-feed.ts, aligned-findings.ts; DETECTORS.md section B: replayable, no
 * cross-actor reads). Any alert may be passed; only the detectors of {@link SYBIL_FINDINGS} are used, and
 * a redelivered finding changes nothing.
 *
 * @example
 * for (const event of events) sink(sybil.handle(event));
 * // The actor's second consumer group, on the alerts stream:
 * for (const alert of findings) sink(sybil.handleFinding(alert));
 */

import { memoryTables, type Tables } from "../runtime/durable-table.ts";
import type { Alert, AnalyzerName, DetectorName } from "./alert.ts";
import { Analyzer, type AnalyzerConfig, type FindingEdges } from "./analyzer.ts";
import type { Link } from "./detector.ts";
import { PATTERN_DETECTORS } from "./pattern-analyzer.ts";
import { clusterControl } from "./sybil/cluster-control.ts";
import { coEntrySignature } from "./sybil/co-entry.ts";
import { fundingHub } from "./sybil/funding-hub.ts";
import { WALLET_DETECTORS } from "./wallet-analyzer.ts";

/** Adding a sybil detector: write its module, list it here. */
export const SYBIL_DETECTORS = [fundingHub, coEntrySignature, clusterControl] as const;

/**
 * The findings the sybil analyzer reads, and the edges each stands for: a P4 chain links each hop to the
 * next (leaving out its root, often an exchange), a W4 sweep links the destination to every sweeping wallet.
 */
export const SYBIL_FINDINGS: FindingEdges = { daisy_chain: chainLinks, sweep_back: sweepLinks };

/** Alerts of other analyzers that `handleFinding` turns into edges; all others are ignored. */
export const SYBIL_FINDING_DETECTORS: readonly DetectorName[] = Object.keys(SYBIL_FINDINGS) as DetectorName[];

/**
 * The analyzers whose detectors raise those findings, the producers of the findings stream, in the order
 * the findings of one tx entry apply (the scanner's order of the analyzers).
 */
export const SYBIL_FINDING_PRODUCERS: readonly AnalyzerName[] = [
  ...new Set(
    [...WALLET_DETECTORS, ...PATTERN_DETECTORS]
      .filter((d) => SYBIL_FINDING_DETECTORS.includes(d.name))
      .map((d) => d.analyzer),
  ),
];

export type SybilAnalyzerConfig = AnalyzerConfig<typeof SYBIL_DETECTORS>;

export class SybilAnalyzer extends Analyzer {
  /** `tables`: where its state lives (an actor's durable tables); in memory only by default. */
  constructor(config: SybilAnalyzerConfig = {}, tables: Tables = memoryTables()) {
    super("sybil", SYBIL_DETECTORS, config, SYBIL_FINDINGS, tables);
  }
}

function linkBase(alert: Alert): Pick<Link, "source" | "ts" | "weight" | "mint"> {
  return { source: alert.detector, ts: alert.detectedAt, weight: 1, mint: alert.mint };
}

function chainLinks(alert: Alert): Link[] {
  const base = linkBase(alert);
  const w = alert.wallets;
  const links: Link[] = [];
  for (let i = 2; i < w.length; i++) if (w[i - 1] !== w[i]) links.push({ ...base, a: w[i - 1]!, b: w[i]! });
  return links;
}

function sweepLinks(alert: Alert): Link[] {
  const base = linkBase(alert);
  const w = alert.wallets;
  const links: Link[] = [];
  for (let i = 1; i < w.length; i++) if (w[0] !== w[i]) links.push({ ...base, a: w[0]!, b: w[i]! });
  return links;
}

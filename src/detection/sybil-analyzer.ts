/**
 * sybil-detection: detectors about groups of wallets controlled by one operator (funding hubs,
 * co-entry signatures, cluster control). Same API as {@link WalletAnalyzer}: `handle`, `flush`,
 * `stateSize`, `snapshot`, plus `handleFinding` for the findings stream.
 *
 * Findings: S3 cluster_control joins wallets over edges from S1 and S2 (this analyzer) and from P4
 * daisy_chain and W4 sweep_back (the pattern and wallet analyzers). Those two travel as alerts on the
 * alerts stream, which the sybil actor reads as one more consumer group and hands to `handleFinding`
 * (DETECTORS.md section B: eventually consistent, replayable, no cross-actor reads). Any alert may be
 * passed; only {@link SYBIL_FINDING_DETECTORS} are used, and a redelivered finding changes nothing.
 *
 * @example
 * for (const event of events) sink(sybil.handle(event));
 * // The actor's second consumer group, on the alerts stream:
 * for (const alert of findings) sink(sybil.handleFinding(alert));
 */
import type { Alert, DetectorName } from "./alert.ts";
import { Analyzer, type AnalyzerConfig } from "./analyzer.ts";
import type { Link } from "./detector.ts";
import { clusterControl } from "./sybil/cluster-control.ts";
import { coEntrySignature } from "./sybil/co-entry.ts";
import { fundingHub } from "./sybil/funding-hub.ts";

/** Adding a sybil detector: write its module, list it here. */
export const SYBIL_DETECTORS = [fundingHub, coEntrySignature, clusterControl] as const;

/** Alerts of other analyzers that `handleFinding` turns into edges; all others are ignored. */
export const SYBIL_FINDING_DETECTORS: readonly DetectorName[] = ["daisy_chain", "sweep_back"];

export type SybilAnalyzerConfig = AnalyzerConfig<typeof SYBIL_DETECTORS>;

export class SybilAnalyzer extends Analyzer {
  constructor(config: SybilAnalyzerConfig = {}) {
    super("sybil", SYBIL_DETECTORS, config);
  }

  /**
   * Takes one finding of another analyzer and adds its wallets as edges: a P4 chain links each hop to
   * the next (leaving out its root, often an exchange), a W4 sweep links the destination to every
   * sweeping wallet. Returns the alerts that caused at once (usually none: S3 evaluates on its
   * flushes, which the next `handle` or `flush` runs).
   */
  handleFinding(alert: Alert): Alert[] {
    const links = findingLinks(alert);
    return links.length === 0 ? [] : this.ingestLinks(links);
  }
}

/** The edges a finding stands for. */
export function findingLinks(alert: Alert): Link[] {
  const base = { source: alert.detector, ts: alert.detectedAt, weight: 1, mint: alert.mint };
  const w = alert.wallets;
  const links: Link[] = [];
  if (alert.detector === "daisy_chain") {
    for (let i = 2; i < w.length; i++) if (w[i - 1] !== w[i]) links.push({ ...base, a: w[i - 1]!, b: w[i]! });
  } else if (alert.detector === "sweep_back") {
    for (let i = 1; i < w.length; i++) if (w[0] !== w[i]) links.push({ ...base, a: w[0]!, b: w[i]! });
  }
  return links;
}

/**
 * Scoring alerts against ground truth (DETECTORS.md section C), as a pure function.
 *
 * An alert matches a scenario when its detector is expected there, the mint matches (when both name
 * mints), the wallets overlap (|A∩S|/|A| ≥ 0.5, or Jaccard ≥ 0.3 for cluster detectors) and it was
 * raised within [tStart, tEnd + 10 min]. Precision counts alerts; recall counts scenarios, canonical
 * and evasive apart; time-to-detect runs from the scenario's onset to its first matching alert
 * (clamped at 0: some detectors see the preparation before the onset).
 */
import type { Alert, DetectorName } from "../detection/alert.ts";
import type { TruthRecord, Variant } from "../ingest/truth.ts";

export interface ScoreOptions {
  /** Detectors to report (others' alerts are ignored). @defaultValue every detector that alerted or is expected */
  detectors?: readonly DetectorName[];
  /** Grace after a scenario's last event. @defaultValue 600_000 */
  postWindowMs?: number;
  /** @defaultValue 0.5 */
  walletOverlap?: number;
  /** @defaultValue 0.3 */
  clusterJaccard?: number;
  /** Launches in the workload, for "decoy alerts per 1k mints". @defaultValue 0 (rate reported as null) */
  totalMints?: number;
}

export const SCORE_DEFAULTS = {
  detectors: [],
  postWindowMs: 600_000,
  walletOverlap: 0.5,
  clusterJaccard: 0.3,
  totalMints: 0,
} satisfies Required<ScoreOptions>;

const CLUSTER_DETECTORS: ReadonlySet<DetectorName> = new Set([
  "funding_hub",
  "co_entry_signature",
  "cluster_control",
]);

export interface RecallScore {
  scenarios: number;
  detected: number;
  recall: number | null;
}

export interface DetectorScore {
  detector: DetectorName;
  alerts: number;
  matched: number;
  precision: number | null;
  canonical: RecallScore;
  evasive: RecallScore;
  /** Onset → first matching alert over detected scenarios (both variants), event-time ms. */
  ttdP50Ms: number | null;
  ttdP95Ms: number | null;
  /** Unmatched alerts that land on a decoy's mint or wallets. */
  decoyAlerts: number;
  decoyAlertsPer1kMints: number | null;
}

export interface Scorecard {
  detectors: DetectorScore[];
  alerts: number;
  totalMints: number;
}

export function matches(alert: Alert, record: TruthRecord, o: Required<ScoreOptions>): boolean {
  if (alert.detectedAt < record.tStart || alert.detectedAt > record.tEnd + o.postWindowMs) return false;
  if (alert.mint !== undefined && record.mints.length > 0 && !record.mints.includes(alert.mint)) return false;
  return overlaps(alert, record.wallets, CLUSTER_DETECTORS.has(alert.detector), o);
}

function overlaps(
  alert: Alert,
  wallets: readonly string[],
  cluster: boolean,
  o: Required<ScoreOptions>,
): boolean {
  if (alert.wallets.length === 0) return false;
  const truth = new Set(wallets);
  const mine = new Set(alert.wallets);
  let shared = 0;
  for (const wallet of mine) if (truth.has(wallet)) shared++;
  if (cluster) return shared / (mine.size + truth.size - shared) >= o.clusterJaccard;
  return shared / mine.size >= o.walletOverlap;
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function isDecoyHit(alert: Alert, decoys: readonly TruthRecord[], o: Required<ScoreOptions>): boolean {
  return decoys.some(
    (d) =>
      alert.detectedAt >= d.tStart &&
      alert.detectedAt <= d.tEnd + o.postWindowMs &&
      ((alert.mint !== undefined && d.mints.includes(alert.mint)) || overlaps(alert, d.wallets, false, o)),
  );
}

export function score(
  alerts: readonly Alert[],
  truth: readonly TruthRecord[],
  options: ScoreOptions = {},
): Scorecard {
  const o = { ...SCORE_DEFAULTS, ...options };
  const scenarios = truth.filter((r) => r.kind === "scenario");
  const decoys = truth.filter((r) => r.kind === "decoy");
  const names =
    o.detectors.length > 0
      ? [...o.detectors]
      : [...new Set([...alerts.map((a) => a.detector), ...scenarios.flatMap((r) => r.detectors)])].sort();
  const detectors = names.map((detector): DetectorScore => {
    const mine = alerts.filter((a) => a.detector === detector);
    const expected = scenarios.filter((r) => r.detectors.includes(detector));
    const firstHit = new Map<string, number>();
    let matched = 0;
    let decoyAlerts = 0;
    for (const alert of mine) {
      const hits = expected.filter((r) => matches(alert, r, o));
      if (hits.length === 0) {
        if (isDecoyHit(alert, decoys, o)) decoyAlerts++;
        continue;
      }
      matched++;
      for (const r of hits) firstHit.set(r.id, Math.min(firstHit.get(r.id) ?? Infinity, alert.detectedAt));
    }
    const recall = (variant: Variant): RecallScore => {
      const pool = expected.filter((r) => r.variant === variant);
      const detected = pool.filter((r) => firstHit.has(r.id)).length;
      return { scenarios: pool.length, detected, recall: pool.length > 0 ? detected / pool.length : null };
    };
    const ttd = expected
      .filter((r) => firstHit.has(r.id))
      .map((r) => Math.max(0, firstHit.get(r.id)! - r.tOnset))
      .sort((a, b) => a - b);
    return {
      detector,
      alerts: mine.length,
      matched,
      precision: mine.length > 0 ? matched / mine.length : null,
      canonical: recall("canonical"),
      evasive: recall("evasive"),
      ttdP50Ms: percentile(ttd, 0.5),
      ttdP95Ms: percentile(ttd, 0.95),
      decoyAlerts,
      decoyAlertsPer1kMints: o.totalMints > 0 ? (decoyAlerts * 1000) / o.totalMints : null,
    };
  });
  return { detectors, alerts: alerts.length, totalMints: o.totalMints };
}

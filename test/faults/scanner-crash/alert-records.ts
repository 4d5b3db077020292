/**
 * Alerts as these checks compare them: the deterministic id and the detector (for a readable diff),
 * read from the alerts stream or the JSONL sink files, and the differences between two runs.
 */
import { existsSync } from "node:fs";

export interface AlertRecord {
  alertId: string;
  detector: string;
}

export function asAlertRecord(value: unknown): AlertRecord {
  const alert = value as Partial<AlertRecord> | null;
  if (typeof alert?.alertId !== "string" || typeof alert.detector !== "string")
    throw new Error(`not an alert: ${JSON.stringify(value)?.slice(0, 200)}`);
  return { alertId: alert.alertId, detector: alert.detector };
}

/** Every line of the JSONL sink files, in file order (files a process never created are skipped). */
export async function readSinkFiles(paths: readonly string[]): Promise<AlertRecord[]> {
  const records: AlertRecord[] = [];
  for (const path of paths) {
    if (!existsSync(path)) continue;
    for (const line of (await Bun.file(path).text()).split("\n")) {
      if (line.trim() !== "") records.push(asAlertRecord(JSON.parse(line)));
    }
  }
  return records;
}

/** Ids that occur more than once. */
export function duplicates(records: readonly AlertRecord[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const { alertId } of records) (seen.has(alertId) ? twice : seen).add(alertId);
  return [...twice].sort();
}

export interface AlertDiff {
  /** In the baseline, not in the run. */
  missing: AlertRecord[];
  /** In the run, not in the baseline. */
  extra: AlertRecord[];
}

export function diffAlerts(baseline: readonly AlertRecord[], run: readonly AlertRecord[]): AlertDiff {
  const ids = (records: readonly AlertRecord[]) => new Set(records.map((r) => r.alertId));
  const inBaseline = ids(baseline);
  const inRun = ids(run);
  const unique = (records: readonly AlertRecord[]) => [
    ...new Map(records.map((r) => [r.alertId, r])).values(),
  ];
  return {
    missing: unique(baseline.filter((r) => !inRun.has(r.alertId))),
    extra: unique(run.filter((r) => !inBaseline.has(r.alertId))),
  };
}

/** `missing 3 (dev_dump 2, sweep_back 1), extra 1 (fresh_sniper 1)`: what a failing check prints. */
export function describeDiff(diff: AlertDiff): string {
  const byDetector = (records: readonly AlertRecord[]) => {
    const counts = new Map<string, number>();
    for (const r of records) counts.set(r.detector, (counts.get(r.detector) ?? 0) + 1);
    return [...counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([detector, n]) => `${detector} ${n}`)
      .join(", ");
  };
  return `missing ${diff.missing.length} (${byDetector(diff.missing)}), extra ${diff.extra.length} (${byDetector(diff.extra)})`;
}

/**
 * Ground truth for generated traffic: one record per planted scenario or decoy, kept apart from the
 * event stream (an analyzer never sees it) and written as JSONL next to the workload.
 */
import type { DetectorName } from "../detection/alert.ts";

export type Variant = "canonical" | "evasive";

export interface TruthRecord {
  /** `${type}/${variant}/${index}`, stable across runs with the same seed. */
  id: string;
  /** Decoys must raise nothing: any alert on them is a false positive. */
  kind: "scenario" | "decoy";
  type: string;
  variant: Variant;
  /** Detectors that should fire on this scenario (empty for decoys). */
  detectors: DetectorName[];
  mints: string[];
  /** Every wallet the scenario controls (hub, creator, bundle / farm wallets). */
  wallets: string[];
  /** The funding hub, when the scenario is a cluster. */
  clusterRoot?: string;
  /** First scenario event. */
  tStart: number;
  /** The moment the pattern is complete enough to be seen (launch, dump start): time-to-detect origin. */
  tOnset: number;
  /** Last scenario event. */
  tEnd: number;
}

export function truthToJsonl(records: readonly TruthRecord[]): string {
  return records.map((r) => JSON.stringify(r)).join("\n") + (records.length > 0 ? "\n" : "");
}

export function truthFromJsonl(text: string): TruthRecord[] {
  return text
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as TruthRecord);
}

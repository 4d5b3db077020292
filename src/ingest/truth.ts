/**
 * Ground truth for generated traffic: one record per planted scenario or decoy, kept apart from the
 * event stream (an analyzer never sees it) and written as JSONL next to the workload.
 */
import { DETECTOR_NAMES, type DetectorName } from "../detection/alert.ts";
import { TroupeError } from "../errors.ts";

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

/**
 * Reads a truth file back. A line that is not a truth record fails with `ERR_DECODE` naming the line and
 * the field: a record scored as nothing would make every detector look blind.
 */
export function truthFromJsonl(text: string): TruthRecord[] {
  const records: TruthRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim().length === 0) continue;
    const wrong = (what: string): never => {
      throw new TroupeError("ERR_DECODE", `truth line ${i + 1}: ${what}`);
    };
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      wrong("not JSON");
    }
    if (typeof record !== "object" || record === null || Array.isArray(record)) wrong("not an object");
    const r = record as Record<string, unknown>;
    for (const field of ["id", "type"] as const)
      if (typeof r[field] !== "string") wrong(`${field} must be a string`);
    if (r.kind !== "scenario" && r.kind !== "decoy") wrong('kind must be "scenario" or "decoy"');
    if (r.variant !== "canonical" && r.variant !== "evasive")
      wrong('variant must be "canonical" or "evasive"');
    for (const field of ["mints", "wallets"] as const)
      if (!Array.isArray(r[field]) || !(r[field] as unknown[]).every((v) => typeof v === "string"))
        wrong(`${field} must be an array of strings`);
    if (!Array.isArray(r.detectors)) wrong("detectors must be an array of detector names");
    for (const name of r.detectors as unknown[])
      if (!(DETECTOR_NAMES as readonly unknown[]).includes(name))
        wrong(`detectors: no detector ${JSON.stringify(name)}`);
    for (const field of ["tStart", "tOnset", "tEnd"] as const)
      if (!Number.isFinite(r[field])) wrong(`${field} must be a number (ms)`);
    if (r.clusterRoot !== undefined && typeof r.clusterRoot !== "string")
      wrong("clusterRoot must be a string");
    records.push(r as unknown as TruthRecord);
  }
  return records;
}

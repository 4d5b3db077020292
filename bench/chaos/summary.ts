/**
 * The chaos run's figures in the bench format (bench/lib/report.ts): the Jepsen classes, the faults
 * injected, and p50 / max of every recovery time, compared where a bound exists (takeovers with
 * `claimIdleMs`, stall detection and resumes with the 2 s limit of issue 5).
 */
import type { TotalQueueResult } from "../../test/fixtures/faults/total-queue.ts";
import { type Figure, figure, type Measurement } from "../lib/report.ts";
import { FAULT_KINDS, type FaultRecord } from "./faults.ts";

export interface RunFacts {
  minutes: number;
  faultEverySec: number;
  claimIdleMs: number;
  /** Entries processed per second while faults ran. */
  throughput: number;
  /** Redeliveries whose output already existed (its dedup marker stopped a second write). */
  deduplicated: number;
  drainMs: number;
}

const LIMIT_MS = 2_000;

function m(metric: string, value: number, unit: string): Measurement {
  return { bench: "chaos", metric, value, unit };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

export function summarise(
  records: readonly FaultRecord[],
  verdict: TotalQueueResult,
  facts: RunFacts,
): Figure[] {
  const figures: Figure[] = [
    figure(m("duration", facts.minutes, "min")),
    figure(m("fault every", facts.faultEverySec, "s")),
    figure(m("faults injected", records.length, "faults")),
    ...FAULT_KINDS.map((kind) =>
      figure(m(`faults ${kind}`, records.filter((r) => r.kind === kind).length, "faults")),
    ),
    figure(m("attempts", verdict.attempts, "entries")),
    figure(m("acknowledged", verdict.acknowledged, "entries")),
    figure(m("unknown outcome", verdict.unknown, "entries")),
    figure(m("refused", verdict.failed, "entries")),
    figure(m("lost", verdict.lost, "entries")),
    figure(m("unexpected", verdict.unexpected, "entries")),
    figure(m("duplicated", verdict.duplicated, "entries")),
    figure(m("recovered", verdict.recovered, "entries")),
    figure(m("dead-lettered", verdict.deadLettered, "entries")),
    figure(m("outputs deduplicated", facts.deduplicated, "entries")),
    figure(m("throughput under faults", facts.throughput, "entries/s")),
    figure(
      m(
        "recoveries not seen in time",
        records.reduce((n, r) => n + r.timeouts.length, 0),
        "waits",
      ),
    ),
  ];
  const names = [...new Set(records.flatMap((r) => r.measures.map((x) => x.name)))];
  for (const name of names) {
    const values = records.flatMap((r) => r.measures.filter((x) => x.name === name).map((x) => x.ms));
    const baseline =
      name.startsWith("takeover") || name.startsWith("zombie")
        ? m("claimIdleMs", facts.claimIdleMs, "ms")
        : name.startsWith("resume") || name.includes("detected")
          ? m("limit", LIMIT_MS, "ms")
          : undefined;
    figures.push(figure(m(`${name} p50`, percentile(values, 50), "ms"), baseline));
    figures.push(figure(m(`${name} max`, Math.max(...values), "ms"), baseline));
    figures.push(figure(m(`${name} samples`, values.length, "samples")));
  }
  figures.push(figure(m("drain after heal", facts.drainMs, "ms")));
  return figures;
}

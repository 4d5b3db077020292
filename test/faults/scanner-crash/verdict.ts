/**
 * Whether a run wrote what a baseline run wrote: the same alert ids, none twice in the alerts stream or the
 * JSONL sink, the sink the same as the stream, every process exiting 0, no dead letters beyond the
 * baseline's. Shared by the crash-consistency and the keyed-partitions checks.
 */
import { expect } from "bun:test";
import { recordFailure } from "../../support/failure-digest.ts";
import { type AlertDiff, describeDiff, diffAlerts, duplicates } from "./alert-records.ts";
import type { RunOutcome } from "./scenarios.ts";

interface Verdict {
  /** The main check: alert ids of the crash-free run the run did not write, and ids it wrote on top. */
  alerts: AlertDiff;
  /** Entries of the alerts stream beyond one per alert id. */
  streamDuplicates: number;
  /** Alert ids in more than one line of the JSONL sink files. */
  sinkDuplicates: string[];
  /** The sink against the alerts stream (Redis runs): it must hold exactly the stream's alerts. */
  sink: AlertDiff;
  /** Processes that did not exit 0 on SIGTERM. */
  failedExits: Record<string, number>;
  /**
   * Dead letters beyond the crash-free run's, by stream (Redis runs): an entry given up on by a pump is one
   * an analyzer never counted, so every later position it numbers findings by is off.
   */
  extraDeadLetters: Record<string, number>;
}

const CONSISTENT: Verdict = {
  alerts: { missing: [], extra: [] },
  streamDuplicates: 0,
  sinkDuplicates: [],
  sink: { missing: [], extra: [] },
  failedExits: {},
  extraDeadLetters: {},
};

export function verdict(baseline: RunOutcome, run: RunOutcome): Verdict {
  const written = run.stream ?? run.sink;
  return {
    alerts: diffAlerts(baseline.stream ?? baseline.sink, written),
    streamDuplicates: run.streamLength - new Set(written.map((a) => a.alertId)).size,
    sinkDuplicates: duplicates(run.sink),
    sink: run.stream ? diffAlerts(run.stream, run.sink) : { missing: [], extra: [] },
    failedExits: Object.fromEntries(Object.entries(run.exits).filter(([, code]) => code !== 0)),
    extraDeadLetters: Object.fromEntries(
      Object.entries(run.deadLetters ?? {})
        .map(([stream, count]) => [stream, count - (baseline.deadLetters?.[stream] ?? 0)] as const)
        .filter(([, extra]) => extra !== 0),
    ),
  };
}

/** Every check of one run in one assertion, so that a failure shows all that went wrong, with the story. */
export function expectConsistent(baseline: RunOutcome, run: RunOutcome): void {
  const result = verdict(baseline, run);
  const story = `${run.scenario} against ${baseline.scenario}: ${describeDiff(result.alerts)}\n${run.steps.join("\n")}`;
  if (!Bun.deepEquals(result, CONSISTENT))
    recordFailure(`${run.scenario} against ${baseline.scenario}`, `${JSON.stringify(result)}\n${story}`);
  expect(result, story).toEqual(CONSISTENT);
}

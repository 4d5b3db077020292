/**
 * The line a `--replay` reports once done (or stopped): what was read, what went in, what was rejected and
 * where it went (the tx dead-letter stream, under the file's name as its source), what came out; for a
 * stopped replay, the last line written, so a new run can start after it.
 */
import type { ReplaySummary } from "../ingest/stream-writer.ts";
import type { Topology } from "./topology.ts";

export interface ReplayFigures {
  readonly topology: Topology;
  /** Alerts this process's analyzers emitted; `null` in a process without analyzers. */
  readonly alerts: number | null;
  /** Entries this process's analyzers dead-lettered (rejected in the worker, or failing every delivery). */
  readonly analyzerDeadLetters: number;
}

export function replaySummary(file: string, replay: ReplaySummary, figures: ReplayFigures): string {
  const n = (value: number) => value.toLocaleString("en");
  const { txDeadLetters, alerts } = figures.topology;
  const parts = [
    `${n(replay.lines)} ${replay.unit}s read`,
    `${n(replay.events)} events in`,
    `${n(replay.rejected)} rejected${replay.rejected > 0 ? ` (in ${txDeadLetters}, source ${file})` : ""}`,
  ];
  if (replay.empty > 0)
    parts.push(
      `${n(replay.empty)} ${replay.unit}${replay.empty === 1 ? "" : "s"} without an event (a migrate, a transaction with none)`,
    );
  if (replay.duplicates > 0) parts.push(`${n(replay.duplicates)} duplicates skipped (an id written already)`);
  if (figures.analyzerDeadLetters > 0)
    parts.push(`${n(figures.analyzerDeadLetters)} dead-lettered by the analyzers (in ${txDeadLetters})`);
  if (figures.alerts !== null) parts.push(`${n(figures.alerts)} alerts (in ${alerts})`);
  const resumed = replay.resumedAfter > 0 ? ` (resumed after ${replay.unit} ${n(replay.resumedAfter)})` : "";
  const head = replay.stopped
    ? `replay of ${file} stopped${resumed}: ${replay.unit}s 1-${n(replay.lastLineWritten)} written (resume after ${replay.unit} ${n(replay.lastLineWritten)}: --resume-after ${replay.lastLineWritten})`
    : `replay of ${file} done${resumed}`;
  return `${head}: ${parts.join(", ")}`;
}

/**
 * The line `bun run start --replay FILE` ends with: what was read, what went in, what was rejected and
 * where it went (the tx dead-letter stream, under the file's name as its source), what came out; for a
 * stopped replay, the last line written, so a new run can start after it.
 */
import type { ScannerOutcome } from "./app.ts";

export function replaySummary(file: string, outcome: ScannerOutcome, analyzed: boolean): string | null {
  const replay = outcome.replay;
  if (!replay) return null;
  const n = (value: number) => value.toLocaleString("en");
  const { txDeadLetters, alerts } = outcome.topology;
  const parts = [
    `${n(replay.lines)} lines read`,
    `${n(replay.events)} events in`,
    `${n(replay.rejected)} rejected${replay.rejected > 0 ? ` (in ${txDeadLetters}, source ${file})` : ""}`,
  ];
  if (outcome.analyzerDeadLetters > 0)
    parts.push(`${n(outcome.analyzerDeadLetters)} dead-lettered by the analyzers (in ${txDeadLetters})`);
  if (analyzed) parts.push(`${n(outcome.alerts)} alerts (in ${alerts})`);
  const head = replay.stopped
    ? `replay of ${file} stopped: lines 1-${n(replay.lastLineWritten)} written (resume after line ${n(replay.lastLineWritten)})`
    : `replay of ${file} done`;
  return `${head}: ${parts.join(", ")}`;
}

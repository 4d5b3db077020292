/**
 * What went wrong in the long real-process checks, printed again once every test file has run
 * (failure-digest-preload.ts). `bun test` prints a failure where its test ends, hundreds of lines before
 * the end of a full run, and a CI log cut to its last lines keeps only the failed tests' names: a rare
 * failure of a crash run then left nothing to go on.
 */

/** Lines kept of each failure: enough for a run's steps, short enough to stay in a log's tail. */
const LINES_KEPT = 40;

const failures: string[] = [];

/** Keeps `what` (an error, or a report) under `title` for the digest. */
export function recordFailure(title: string, what: unknown): void {
  const text = what instanceof Error ? `${what.message}\n${what.stack ?? ""}` : String(what);
  const lines = text.split("\n");
  const kept = lines.slice(0, LINES_KEPT);
  if (lines.length > LINES_KEPT) kept.push(`... (${lines.length - LINES_KEPT} more lines)`);
  failures.push(`--- ${title}\n${kept.join("\n")}`);
}

/** The digest, or null when nothing failed. */
export function failureDigest(): string | null {
  if (failures.length === 0) return null;
  return `failures of the real-process checks, repeated (test/support/failure-digest.ts):\n${failures.join("\n")}\n`;
}

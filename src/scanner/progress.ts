/**
 * The live progress line of `bun run start`: events in, per-analyzer rate and lag, alerts by detector,
 * health. On stderr (stdout may carry alert JSON lines); redrawn in place on a TTY, one line per period
 * otherwise.
 */

import type { TxStreamWriter } from "../ingest/stream-writer.ts";
import type { ActorSystem } from "../runtime/system.ts";
import type { RunningAnalyzers } from "./analyzers.ts";

export interface ProgressSources {
  system: ActorSystem;
  ingest: TxStreamWriter | null;
  analyzers: RunningAnalyzers | null;
}

export function progressLine(
  { system, ingest, analyzers }: ProgressSources,
  eventsPerSecond: number,
): string {
  const parts: string[] = [];
  if (ingest) parts.push(`in ${ingest.stats.sent.toLocaleString("en")} (${Math.round(eventsPerSecond)}/s)`);
  for (const ref of analyzers?.refs.values() ?? []) {
    const stats = ref.stats().instances[0];
    const lag = analyzers?.pumps.get(ref.name)?.stats.lag;
    // The 10 s rate: an analyzer takes its mailbox in bursts, so a 1 s window flickers between 0 and 2×.
    parts.push(`${ref.name} ${Math.round(stats?.rate["10s"] ?? 0)}/s lag ${lag ?? "?"}`);
  }
  if (analyzers) {
    const alerts = [...analyzers.alertCounts].map(([detector, n]) => `${detector}=${n}`).join(" ");
    parts.push(`alerts ${alerts || "none"}`);
  }
  parts.push(`health ${system.health().status}`);
  return parts.join(" | ");
}

/** Prints the line every `everyMs` until the returned function is called. */
export function startProgress(sources: ProgressSources, everyMs = 1000): () => void {
  const tty = process.stderr.isTTY;
  let lastSent = sources.ingest?.stats.sent ?? 0;
  let lastAt = performance.now();
  const timer = setInterval(async () => {
    await Promise.all(
      [...(sources.analyzers?.pumps.values() ?? [])].map((pump) => pump.refresh().catch(() => null)),
    );
    const now = performance.now();
    const sent = sources.ingest?.stats.sent ?? 0;
    const rate = ((sent - lastSent) * 1000) / (now - lastAt);
    lastSent = sent;
    lastAt = now;
    const line = progressLine(sources, rate);
    process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }, everyMs);
  return () => {
    clearInterval(timer);
    if (tty) process.stderr.write("\n");
  };
}

/**
 * The live progress line of `bun run start`: events in, per-analyzer rate and lag, alerts by detector,
 * health. Each field comes in forms from the fullest to the shortest; on a terminal the line is fitted
 * to its width by taking shorter forms one step at a time, in one order over all fields: the least
 * needed detail goes first (an 80-column terminal gets `in 12,345 (200/s) | analyzers 200/s lag 0 |
 * alerts 3 | health ok`). Piped, the fullest forms go out, one line per period.
 */

import type { TxStreamWriterStats } from "../ingest/stream-writer.ts";
import type { ActorSystem } from "../runtime/system.ts";
import type { RunningAnalyzers } from "./analyzers.ts";
import { cut, type Terminal } from "./terminal.ts";

export interface ProgressSources {
  system: ActorSystem;
  ingest: { readonly stats: TxStreamWriterStats } | null;
  analyzers: RunningAnalyzers | null;
}

/** One field of the line: its forms, fullest first. */
export interface ProgressField {
  readonly forms: readonly string[];
  /** `steps[i]`: when to go from form i to form i + 1, in the order of every field's steps (lowest first). */
  readonly steps: readonly number[];
}

/** The order of the steps: names shortened, then the alerts summed, and so on; health goes last. */
const STEP = {
  analyzerNames: 1,
  alertCount: 2,
  analyzersSummed: 3,
  ingestRate: 4,
  analyzersLagOnly: 5,
  healthWord: 6,
} as const;

const SEPARATOR = " | ";

export function progressFields(
  { system, ingest, analyzers }: ProgressSources,
  eventsPerSecond: number,
): ProgressField[] {
  const fields: ProgressField[] = [];
  if (ingest) {
    const sent = ingest.stats.sent.toLocaleString("en");
    fields.push({
      forms: [`in ${sent} (${Math.round(eventsPerSecond)}/s)`, `in ${sent}`],
      steps: [STEP.ingestRate],
    });
  }
  if (analyzers) {
    const rows = [...analyzers.refs.values()].map((ref) => {
      // The 10 s rate: an analyzer takes its mailbox in bursts, so a 1 s window flickers between 0 and 2×.
      const rate = Math.round(ref.stats().instances[0]?.rate["10s"] ?? 0);
      const lag = analyzers.pumps.get(ref.name)?.stats.lag ?? null;
      return { name: ref.name, short: ref.name.split("-")[0] as string, rate, lag };
    });
    const lags = rows.map((r) => r.lag);
    const worstLag = lags.includes(null) ? "?" : String(Math.max(0, ...(lags as number[])));
    const slowest = Math.min(...rows.map((r) => r.rate));
    fields.push({
      forms: [
        rows.map((r) => `${r.name} ${r.rate}/s lag ${r.lag ?? "?"}`).join(SEPARATOR),
        rows.map((r) => `${r.short} ${r.rate}/s lag ${r.lag ?? "?"}`).join(SEPARATOR),
        `analyzers ${slowest}/s lag ${worstLag}`,
        `lag ${worstLag}`,
      ],
      steps: [STEP.analyzerNames, STEP.analyzersSummed, STEP.analyzersLagOnly],
    });
    const counts = [...analyzers.alertCounts];
    const total = counts.reduce((sum, [, n]) => sum + n, 0);
    const byDetector = counts.map(([detector, n]) => `${detector}=${n}`).join(" ");
    fields.push({
      forms: total === 0 ? ["alerts none"] : [`alerts ${byDetector}`, `alerts ${total}`],
      steps: [STEP.alertCount],
    });
  }
  const health = system.health().status;
  fields.push({ forms: [`health ${health}`, health], steps: [STEP.healthWord] });
  return fields;
}

/** The fullest line (for pipes and logs). */
export function progressLine(sources: ProgressSources, eventsPerSecond: number): string {
  return fitFields(progressFields(sources, eventsPerSecond), Number.POSITIVE_INFINITY);
}

/** Joins the fields in the fullest forms that fit `width`; cut with an ellipsis if even the shortest do not. */
export function fitFields(fields: readonly ProgressField[], width: number): string {
  const chosen = fields.map(() => 0);
  const line = () => fields.map((f, i) => f.forms[chosen[i] as number]).join(SEPARATOR);
  const steps = fields
    .flatMap((field, index) =>
      field.steps.slice(0, field.forms.length - 1).map((rank, form) => ({ index, form: form + 1, rank })),
    )
    .sort((a, b) => a.rank - b.rank);
  for (const step of steps) {
    if (line().length <= width) break;
    chosen[step.index] = step.form;
  }
  return cut(line(), width);
}

/** Redraws the line every `everyMs` (fitted to the terminal's width) until the returned function is called. */
export function startProgress(sources: ProgressSources, terminal: Terminal, everyMs = 1000): () => void {
  let lastSent = sources.ingest?.stats.sent ?? 0;
  let lastAt = performance.now();
  let stopped = false;
  const timer = setInterval(async () => {
    await Promise.all(
      [...(sources.analyzers?.pumps.values() ?? [])].map((pump) => pump.refresh().catch(() => null)),
    );
    // A refresh still under way when the line was stopped: nothing more may be drawn.
    if (stopped) return;
    const now = performance.now();
    const sent = sources.ingest?.stats.sent ?? 0;
    const rate = ((sent - lastSent) * 1000) / (now - lastAt);
    lastSent = sent;
    lastAt = now;
    const fields = progressFields(sources, rate);
    terminal.status(fitFields(fields, terminal.statusWidth));
  }, everyMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

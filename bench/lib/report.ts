/**
 * The figures every bench script prints. Human mode is a table such as
 * `mailbox 1 instance   610k msg/s = 0.84× batched frames 730k`; `--json` prints one JSON object per
 * figure per line on stdout and nothing else there (progress and child output go to stderr), so tooling
 * can pipe it.
 */
import type { ParseArgsOptionsConfig } from "node:util";
import { numberFlag, type OptionValues, parseCommandLine } from "../../src/command-line.ts";

/** One median result of a variant, before it is compared with anything. */
export interface Measurement {
  /** The bench file or topic, e.g. `worker-link`, `mailbox`. */
  bench: string;
  /** What was measured, unique within the bench, e.g. `batched frames`, `ping-pong p99`. */
  metric: string;
  value: number;
  /** `msg/s`, `entries/s`, `jobs/s` (higher is better) or a time unit such as `µs` (lower is better). */
  unit: string;
}

/** The printed line: a measurement, what it is compared with, and how it fares (higher is better). */
export interface Figure {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  baseline: string | null;
  baseline_value: number | null;
  ratio: number | null;
}

/** Units where less is better: their ratio is baseline / value so that a ratio above 1 always means "better". */
const TIME_UNITS: ReadonlySet<string> = new Set(["ns", "µs", "ms", "s"]);

/**
 * Builds a figure, comparing `m` with `baseline` if given. The baseline is named by its metric alone, as in
 * `= 0.84× batched frames 730k`, so give ceilings metric names that stand on their own.
 */
export function figure(m: Measurement, baseline?: Measurement): Figure {
  if (baseline === undefined) {
    return { ...pick(m), baseline: null, baseline_value: null, ratio: null };
  }
  // Rates compare across item names (a BullMQ job against a stream entry: one unit of work each); times
  // only in the same unit.
  if (baseline.unit !== m.unit && !(m.unit.endsWith("/s") && baseline.unit.endsWith("/s"))) {
    throw new Error(`cannot compare ${m.metric} (${m.unit}) with ${baseline.metric} (${baseline.unit})`);
  }
  const ratio = TIME_UNITS.has(m.unit) ? baseline.value / m.value : m.value / baseline.value;
  return { ...pick(m), baseline: baseline.metric, baseline_value: baseline.value, ratio };
}

/** Fixes the key order of the JSON lines whatever extra fields a measurement carried. */
function pick(m: Measurement): Pick<Figure, "bench" | "metric" | "value" | "unit"> {
  return { bench: m.bench, metric: m.metric, value: m.value, unit: m.unit };
}

/** 612345 → `612k`, 1834567 → `1.83M`, 45.2 → `45.2`: three significant digits are all the noise allows. */
export function formatValue(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e4) return `${trim(value / 1e3)}k`;
  return trim(value);
}

function trim(n: number): string {
  const abs = Math.abs(n);
  return abs >= 100 ? n.toFixed(0) : abs >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** Renders the human table, columns aligned across all figures. */
export function formatTable(figures: readonly Figure[]): string {
  const names = figures.map((f) => `${f.bench} ${f.metric}`);
  const values = figures.map((f) => `${formatValue(f.value)} ${f.unit}`);
  const nameWidth = Math.max(0, ...names.map((n) => n.length));
  const valueWidth = Math.max(0, ...values.map((v) => v.length));
  return figures
    .map((f, i) => {
      const head = `${names[i]!.padEnd(nameWidth)}  ${values[i]!.padStart(valueWidth)}`;
      if (f.ratio === null || f.baseline_value === null) return head;
      return `${head} = ${f.ratio.toFixed(2)}× ${f.baseline} ${formatValue(f.baseline_value)}`;
    })
    .join("\n");
}

/** Prints the figures on stdout: the table, or one JSON object per line with `json`. */
export function printReport(figures: readonly Figure[], { json }: { json: boolean }): void {
  const text = json ? figures.map((f) => JSON.stringify(f)).join("\n") : formatTable(figures);
  if (text !== "") process.stdout.write(`${text}\n`);
}

/** The options every bench script understands. */
export interface BenchArgs {
  /** `--json`: JSON lines instead of the table. */
  json: boolean;
  /** `--rounds N`: fresh-process rounds per variant; the median is reported. */
  rounds: number;
  /** `--count N`: overrides each variant's default message / entry count (for quick or long runs). */
  count: number | undefined;
}

/**
 * Parses the bench options, and a script's `own` ones besides (their values under `own`), as every `bun run`
 * script does (src/command-line.ts): `--help` prints `usage`; a bad flag or value prints it with the problem
 * and exits 2.
 */
export function parseBenchArgs<const O extends ParseArgsOptionsConfig = Record<never, never>>(
  usage: string,
  own?: O,
): BenchArgs & { own: OptionValues<O> } {
  const values = parseCommandLine(usage, {
    ...own,
    json: { type: "boolean", default: false },
    rounds: { type: "string", default: "3" },
    count: { type: "string" },
  } as const);
  return {
    json: values.json as boolean,
    rounds: integer(usage, "--rounds", values.rounds as string),
    count: values.count === undefined ? undefined : integer(usage, "--count", values.count as string),
    own: values as OptionValues<O>,
  };
}

/** `raw` as an integer ≥ `min`, or a usage error naming the flag (`--count`). */
export function integer(usage: string, name: string, raw: string, min = 1): number {
  return numberFlag(usage, name.replace(/^--/, ""), raw, { atLeast: min }, true);
}

/** `raw` as a finite number > 0, or a usage error naming the flag. */
export function positive(usage: string, name: string, raw: string): number {
  return numberFlag(usage, name.replace(/^--/, ""), raw, { above: 0 });
}

/**
 * Prometheus naming conventions (prometheus.io/docs/practices/naming, and promtool's lint), as checks on
 * parsed metric families: each problem is one line naming the metric. Stricter than promtool where it
 * can be: every time is in seconds and every size in bytes, the unit last; our own metrics carry the
 * `troupe_` prefix and only low-cardinality labels.
 */
import type { ParsedFamily } from "parse-prometheus-text-format";

/** Units that are not base units, as name tokens. */
const NON_BASE_UNITS = new Set([
  "ms",
  "millis",
  "milliseconds",
  "us",
  "micros",
  "microseconds",
  "ns",
  "nanos",
  "nanoseconds",
  "sec",
  "secs",
  "minute",
  "minutes",
  "hour",
  "hours",
  "day",
  "days",
  "kb",
  "kib",
  "mb",
  "mib",
  "gb",
  "gib",
  "kilobytes",
  "megabytes",
  "gigabytes",
  "bits",
  "percent",
]);
const BASE_UNITS = ["seconds", "bytes", "ratio"];
/** Words that make a metric a time, so its unit must be seconds. */
const TIME_WORDS = /(^|_)(duration|latency|age|idle|uptime|downtime|elapsed|delay|pause|time)(_|$)/;
/** Words that make a metric a size, so its unit must be bytes. */
const SIZE_WORDS = /(^|_)(size|memory|heap)(_|$)/;
const TYPE_WORDS = /(^|_)(gauge|counter|histogram|summary)(_|$)/;

export interface ConventionOptions {
  /** Label names our own metrics (`troupe_*`) may use. */
  ourLabels: ReadonlySet<string>;
}

export function conventionProblems(families: readonly ParsedFamily[], options: ConventionOptions): string[] {
  const problems: string[] = [];
  const problem = (family: ParsedFamily, text: string) => problems.push(`${family.name}: ${text}`);
  for (const family of families) {
    const { name, type } = family;
    const tokens = name.split("_");
    if (!/^[a-z][a-z0-9_]*$/.test(name)) problem(family, "not snake_case (lower case, digits, underscores)");
    if (!family.help || family.help.length < 5) problem(family, "no help text");
    if (TYPE_WORDS.test(name)) problem(family, "the type is in the name");
    if (type === "COUNTER" && !name.endsWith("_total"))
      problem(family, "a counter without the _total suffix");
    if (type !== "COUNTER" && name.endsWith("_total"))
      problem(family, "_total on a metric that is not a counter");
    for (const token of tokens)
      if (NON_BASE_UNITS.has(token)) problem(family, `unit "${token}" is not a base unit (seconds, bytes)`);
    const stem = name.replace(/_total$/, "");
    const unit = BASE_UNITS.find((u) => stem.split("_").includes(u));
    if (unit && !stem.endsWith(`_${unit}`)) problem(family, `the unit ${unit} is not last`);
    if (TIME_WORDS.test(stem) && !stem.endsWith("_seconds")) problem(family, "a time not in seconds");
    if (SIZE_WORDS.test(stem) && !stem.endsWith("_bytes")) problem(family, "a size not in bytes");
    if (type === "HISTOGRAM" && !BASE_UNITS.some((u) => stem.endsWith(`_${u}`)))
      problem(family, "a histogram without a unit");
    for (const metric of family.metrics) {
      for (const label of Object.keys(metric.labels ?? {})) {
        if (label.startsWith("__")) problem(family, `label ${label} is reserved`);
        if (label === "quantile" && type !== "SUMMARY") problem(family, "quantile label on a non-summary");
        if (label === "le" && type !== "HISTOGRAM") problem(family, "le label on a non-histogram");
        if (name.startsWith("troupe_") && !options.ourLabels.has(label))
          problem(family, `label ${label} is not one of the low-cardinality labels`);
      }
    }
  }
  return [...new Set(problems)];
}

/** Runs `promtool check metrics` on an exposition; `null` when promtool is not installed. */
export async function promtoolProblems(exposition: string): Promise<string[] | null> {
  if (!Bun.which("promtool")) return null;
  const child = Bun.spawn(["promtool", "check", "metrics"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  child.stdin.write(exposition);
  await child.stdin.end();
  const [stdout, stderr] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  const code = await child.exited;
  const lines = `${stdout}${stderr}`.split("\n").filter((line) => line.trim().length > 0);
  return code === 0 || lines.length > 0 ? lines : [`promtool exited with ${code}`];
}

/**
 * `/metrics` of the scanner as `bun run start` serves it (the runtime's, the streams', durable state,
 * prom-client's defaults and the scanner's alerts counter): every name checked against the naming
 * conventions, and `promtool check metrics` (Debian's `prometheus` package; .ci/run installs it) clean.
 */
import { beforeAll, expect, test } from "bun:test";
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";
import type { Alert } from "../../src/detection/alert.ts";
import { ChildOutput } from "../support/child-output.ts";
import { conventionProblems, promtoolProblems } from "../support/metric-conventions.ts";
import { reaper } from "../support/reaper.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const track = reaper("all");
/** Every label our metrics use: names of actors, streams, groups, detectors; never ids or keys. */
const OUR_LABELS = new Set([
  "actor",
  "instance",
  "outcome",
  "reason",
  "state",
  "percentile",
  "stream",
  "group",
  "kind",
  "method",
  "route",
  "status",
  "detector",
  "severity",
]);

let exposition: string;
let families: ParsedFamily[];
let shown: Alert[];

beforeAll(async () => {
  const child = track(
    Bun.spawn(["bun", "src/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        TROUPE_HTTP_PORT: "0",
        TROUPE_RATE: "2000",
        REDIS_URL: "",
        TROUPE_ALERTS_FILE: "",
      },
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  const stdout = new ChildOutput(child.stdout);
  const stderr = new ChildOutput(child.stderr);
  const url = /control API (\S+)/.exec(await stderr.waitFor(/control API \S+\n/))?.[1] as string;
  await stdout.waitFor(/(.*\n){2}/);
  // Every alert shown so far was counted before it was written, so before this scrape.
  shown = stdout.text
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Alert);
  exposition = await (await fetch(new URL("metrics", url))).text();
  families = parsePrometheusTextFormat(exposition);
  child.kill("SIGTERM");
  await Promise.all([stdout.rest(), stderr.rest()]);
  expect(await child.exited).toBe(0);
}, 30_000);

test("troupe_alerts_total counts the alerts by detector and severity", () => {
  const counter = families.find((f) => f.name === "troupe_alerts_total");
  expect(counter?.type).toBe("COUNTER");
  for (const alert of shown) {
    const sample = counter?.metrics.find(
      (m) => m.labels?.detector === alert.detector && m.labels?.severity === alert.severity,
    );
    const seen = shown.filter((a) => a.detector === alert.detector && a.severity === alert.severity).length;
    expect(Number(sample?.value)).toBeGreaterThanOrEqual(seen);
  }
});

test("the tx writer's counters: events appended, input rejected, appends sent again", () => {
  const value = (name: string) => {
    const family = families.find((f) => f.name === name);
    expect(family?.type).toBe("COUNTER");
    return Number(family?.metrics[0]?.value);
  };
  // Alerts were shown, so events were appended; the generator writes only valid events, none twice.
  expect(value("troupe_ingest_events_total")).toBeGreaterThan(0);
  expect(value("troupe_ingest_rejected_total")).toBe(0);
  expect(value("troupe_ingest_append_retries_total")).toBe(0);
  // The only ingest (role all takes no lease): it writes.
  const writer = families.find((f) => f.name === "troupe_ingest_writer");
  expect(writer?.type).toBe("GAUGE");
  expect(Number(writer?.metrics[0]?.value)).toBe(1);
});

test("every metric name follows the conventions: units in names, base units, _total counters, our labels", () => {
  expect(families.length).toBeGreaterThan(40);
  expect(families.filter((f) => f.name.startsWith("troupe_")).length).toBeGreaterThan(25);
  expect(conventionProblems(families, { ourLabels: OUR_LABELS })).toEqual([]);
});

test("the rules catch what they are for", () => {
  const family = (name: string, type: ParsedFamily["type"], labels: Record<string, string> = {}) =>
    ({ name, help: "a metric of a test", type, metrics: [{ value: "1", labels }] }) as ParsedFamily;
  expect(
    conventionProblems(
      [
        family("troupe_requests", "COUNTER"),
        family("troupe_queue_total", "GAUGE"),
        family("troupe_checkpoint_duration_ms", "GAUGE"),
        family("troupe_cache_size", "GAUGE"),
        family("troupe_latency_seconds", "GAUGE", { quantile: "0.5" }),
        family("troupe_seconds_waited", "GAUGE"),
        family("troupe_alerts_total", "COUNTER", { mint: "x" }),
      ],
      { ourLabels: OUR_LABELS },
    ),
  ).toEqual([
    "troupe_requests: a counter without the _total suffix",
    "troupe_queue_total: _total on a metric that is not a counter",
    'troupe_checkpoint_duration_ms: unit "ms" is not a base unit (seconds, bytes)',
    "troupe_checkpoint_duration_ms: a time not in seconds",
    "troupe_cache_size: a size not in bytes",
    "troupe_latency_seconds: quantile label on a non-summary",
    "troupe_latency_seconds: label quantile is not one of the low-cardinality labels",
    "troupe_seconds_waited: the unit seconds is not last",
    "troupe_alerts_total: label mint is not one of the low-cardinality labels",
  ]);
});

test.skipIf(!Bun.which("promtool"))("promtool check metrics finds nothing", async () => {
  expect(await promtoolProblems(exposition)).toEqual([]);
});

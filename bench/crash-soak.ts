/**
 * The crash-consistency soak (issue 13): the scenarios of test/faults/crash-consistency.test.ts on the
 * issue's measured workload (4 h of generated traffic, ~436k events, every scenario type), one run at a
 * time on a private redis-server: two crash-free runs, SIGKILLs at seeded random points (one takeover under
 * another consumer name, then restarts under the same name), analyzer restarts through the control API, a
 * zombie (frozen, taken over, thawed), and worker restarts in memory mode. For each run: how many of the
 * crash-free run's alert ids it wrote, how many others, how many ids twice, and how long it took.
 *
 *   bun bench/crash-soak.ts [--json] [--hours 4] [--scale 1] [--seed 13] [--kills 3] [--count N]
 *                           [--runs clean-again,sigkill,api-restart,zombie,memory-restart] [--partitions P]
 *
 * `--partitions P` runs every scenario, the crash-free baseline included, with TROUPE_PARTITIONS=P (the
 * mint-keyed detectors in P partitions fed by the wallet analyzer).
 * `--count N` cuts the workload to its first N events (a smoke run). Progress goes to stderr; the figures
 * to stdout (a table, or JSON lines with --json).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCommandLine, usageError } from "../src/command-line.ts";
import { describeDiff, diffAlerts, duplicates } from "../test/faults/scanner-crash/alert-records.ts";
import {
  type CrashLab,
  crashRuns,
  RUN_NAMES,
  type RunName,
  type RunOutcome,
} from "../test/faults/scanner-crash/scenarios.ts";
import { SOAK_WORKLOAD, writeWorkload } from "../test/faults/scanner-crash/workload.ts";
import { RedisServer } from "../test/support/redis-server.ts";
import { type Figure, figure, integer, positive, printReport } from "./lib/report.ts";

const BENCH = "crash-soak";
/** Compared with the crash-free baseline, which always runs first. */
const RUNS = RUN_NAMES.filter((name) => name !== "clean");
/** Each wait of a run: a takeover of a full mailbox (4096 entries per group) takes 8 claim sweeps of 10 s. */
const WAIT_MS = 600_000;

const USAGE = `usage: bun bench/crash-soak.ts [--json] [--hours 4] [--scale 1] [--seed 13] [--kills 3] [--count N]
                               [--runs clean-again,sigkill,api-restart,zombie,memory-restart] [--partitions P]`;
const values = parseCommandLine(USAGE, {
  json: { type: "boolean", default: false },
  hours: { type: "string", default: String(SOAK_WORKLOAD.hours) },
  scale: { type: "string", default: String(SOAK_WORKLOAD.scale) },
  seed: { type: "string", default: "13" },
  kills: { type: "string", default: "3" },
  count: { type: "string" },
  runs: { type: "string", default: RUNS.join(",") },
  partitions: { type: "string" },
});
const hours = positive(USAGE, "--hours", values.hours);
const scale = positive(USAGE, "--scale", values.scale);
const seed = positive(USAGE, "--seed", values.seed);
const kills = integer(USAGE, "--kills", values.kills);
const count = values.count === undefined ? undefined : integer(USAGE, "--count", values.count);
const partitions =
  values.partitions === undefined ? undefined : integer(USAGE, "--partitions", values.partitions);
const wanted = values.runs.split(",").filter((name) => name !== "");
for (const name of wanted)
  if (!(RUNS as readonly string[]).includes(name)) usageError(USAGE, `--runs: unknown run ${name} (${RUNS})`);

const began = Date.now();
const log = (line: string) =>
  process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);

const dir = await mkdtemp(join(tmpdir(), "troupe-crash-soak-"));
const server = await RedisServer.start();
try {
  const workload = await writeWorkload(join(dir, "workload.jsonl"), {
    ...SOAK_WORKLOAD,
    hours,
    scale,
    ...(count === undefined ? {} : { maxEvents: count }),
  });
  log(
    `${workload.events} events, ${workload.scenarioTypes.length} scenario types; redis-server ${server.url}`,
  );
  const lab: CrashLab = {
    redisUrl: server.url,
    dir,
    workload,
    timeoutMs: WAIT_MS,
    ...(partitions === undefined ? {} : { partitions }),
  };
  const start = crashRuns(lab, seed, kills);
  const clean = await logged(start.clean);
  const cleanIds = new Set((clean.stream ?? []).map((a) => a.alertId));
  const figures: Figure[] = [
    figure(measure("clean: alert ids", cleanIds.size, "alerts")),
    figure(measure("clean: run time", clean.ms / 1000, "s")),
  ];
  for (const name of wanted as RunName[]) figures.push(...compare(clean, await logged(start[name])));
  printReport(figures, { json: values.json });
} finally {
  await server.cleanup();
  await rm(dir, { recursive: true, force: true });
}

async function logged(run: () => Promise<RunOutcome>): Promise<RunOutcome> {
  const outcome = await run();
  log(`${outcome.scenario}, ${outcome.streamLength} alerts:\n  ${outcome.steps.join("\n  ")}`);
  return outcome;
}

/** A run against the crash-free one: ids kept (ratio = share of the clean run's), others, doubles, time. */
function compare(clean: RunOutcome, run: RunOutcome): Figure[] {
  const alerts = run.stream ?? run.sink;
  const diff = diffAlerts(clean.stream ?? [], alerts);
  log(`${run.scenario} against clean: ${describeDiff(diff)}`);
  const cleanIds = new Set((clean.stream ?? []).map((a) => a.alertId));
  const ids = new Set(alerts.map((a) => a.alertId));
  const name = run.scenario;
  return [
    figure(
      measure(`${name}: clean alert ids written`, cleanIds.size - diff.missing.length, "alerts"),
      measure("clean: alert ids", cleanIds.size, "alerts"),
    ),
    figure(measure(`${name}: alert ids not in clean`, diff.extra.length, "alerts")),
    figure(
      measure(
        `${name}: alert ids twice (stream)`,
        run.stream ? duplicates(run.stream).length : run.streamLength - ids.size,
        "alerts",
      ),
    ),
    figure(measure(`${name}: alert ids twice (sink)`, duplicates(run.sink).length, "alerts")),
    figure(
      measure(`${name}: run time`, run.ms / 1000, "s"),
      measure("clean: run time", clean.ms / 1000, "s"),
    ),
  ];
}

function measure(metric: string, value: number, unit: string) {
  return { bench: BENCH, metric, value, unit };
}

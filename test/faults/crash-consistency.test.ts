/**
 * Issue 13's acceptance checks: a restarted analyzer is the analyzer that crashed. One generated workload
 * with every scenario type goes through the real scanner (`--role ingest` and `--role analyze` processes
 * on a private redis-server, or `--role all` in memory) once per scenario; every run's set of alert ids
 * must equal a crash-free run's, and no alert id may be written twice to the alerts stream or the JSONL
 * sink. The runs start together (four at a time) when the suite starts, since most of a run's time is
 * spent waiting on other processes; each test awaits its own run and reports what was done when.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordFailure } from "../support/failure-digest.ts";
import { RedisServer } from "../support/redis-server.ts";
import { limit } from "./scanner-crash/limit.ts";
import { type CrashLab, crashRuns, type RunName, type RunOutcome } from "./scanner-crash/scenarios.ts";
import { expectConsistent } from "./scanner-crash/verdict.ts";
import {
  SCENARIO_TYPES,
  TEST_WORKLOAD,
  type WrittenWorkload,
  writeWorkload,
} from "./scanner-crash/workload.ts";
import { canBreakRedis } from "./support.ts";

/** Every crash point is drawn from this seed: change it to explore, keep it to reproduce a failure. */
const SEED = 13;
/** Each wait of a run (progress, drain); a claim sweep runs every 10 s and takes 512 entries. */
const WAIT_MS = 120_000;
const TEST_MS = 300_000;
const CONCURRENT_RUNS = 4;

describe.skipIf(!canBreakRedis())("crash consistency of the scanner's analyzers (issue 13)", () => {
  let server: RedisServer | undefined;
  let dir = "";
  let workload: WrittenWorkload | undefined;
  const runs = new Map<RunName, Promise<RunOutcome>>();
  const outcome = (name: RunName): Promise<RunOutcome> => runs.get(name)!;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "troupe-crash-"));
    server = await RedisServer.start();
    workload = await writeWorkload(join(dir, "workload.jsonl"), TEST_WORKLOAD);
    const lab: CrashLab = { redisUrl: server.url, dir, workload, timeoutMs: WAIT_MS };
    const queued = limit(CONCURRENT_RUNS);
    // The runs that wait for a claim sweep first, so that their waiting overlaps the others' work.
    const order: RunName[] = [
      "sigkill",
      "zombie",
      "zombie-thawed-mid-run",
      "placement",
      "clean",
      "clean-again",
      "api-restart",
      "memory-restart",
    ];
    const start = crashRuns(lab, SEED);
    for (const name of order) runs.set(name, queued(start[name]));
    // Each test reports its own run's failure; nothing is left unhandled meanwhile.
    for (const [name, run] of runs) run.catch((error) => recordFailure(`crash run "${name}"`, error));
  }, 30_000);

  afterAll(async () => {
    await Promise.allSettled(runs.values());
    await server?.cleanup();
    await rm(dir, { recursive: true, force: true });
  }, TEST_MS);

  test("the workload plants every scenario type", () => {
    expect(SCENARIO_TYPES.filter((type) => !workload?.scenarioTypes.includes(type))).toEqual([]);
  });

  test(
    "determinism first: two crash-free runs write the same alert ids",
    async () => {
      const [clean, again] = await Promise.all([outcome("clean"), outcome("clean-again")]);
      expect(clean.streamLength).toBeGreaterThan(0);
      // The baseline against itself checks its own writes: every alert once in the stream and the sink.
      expectConsistent(clean, clean);
      expectConsistent(clean, again);
    },
    TEST_MS,
  );

  test(
    "SIGKILLed at random points: restarted once under another name, then three times under the same",
    async () => {
      const [clean, crashed] = await Promise.all([outcome("clean"), outcome("sigkill")]);
      expectConsistent(clean, crashed);
    },
    TEST_MS,
  );

  test(
    "each analyzer actor restarted through the control API mid-run",
    async () => {
      const [clean, restarted] = await Promise.all([outcome("clean"), outcome("api-restart")]);
      expectConsistent(clean, restarted);
    },
    TEST_MS,
  );

  test(
    "a frozen analyze process, taken over and thawed, changes nothing",
    async () => {
      const [clean, zombie] = await Promise.all([outcome("clean"), outcome("zombie")]);
      expectConsistent(clean, zombie);
    },
    TEST_MS,
  );

  test(
    "a frozen analyze process thawed while entries flow reads nothing it no longer owns, then takes a share",
    async () => {
      const [clean, thawed] = await Promise.all([outcome("clean"), outcome("zombie-thawed-mid-run")]);
      expectConsistent(clean, thawed);
    },
    TEST_MS,
  );

  test(
    "two analyze processes share the analyzers; one SIGKILLed, a third joins: every analyzer moves with its state",
    async () => {
      const [clean, placed] = await Promise.all([outcome("clean"), outcome("placement")]);
      expectConsistent(clean, placed);
    },
    TEST_MS,
  );

  test(
    "in memory mode, each analyzer worker restarted mid-run",
    async () => {
      const [clean, restarted] = await Promise.all([outcome("clean"), outcome("memory-restart")]);
      expectConsistent(clean, restarted);
    },
    TEST_MS,
  );
});

/**
 * Issue 14's exactness check: the mint analyzer keyed by mint in 8 partitions (fed by the wallet analyzer,
 * which forwards each event with the trader's facts), shared by two analyze processes on a real 3-master
 * Redis Cluster (each running some partitions, each partition an actor of its own), writes the same alert
 * ids as one process with one partition; so do one process in memory with 8, and one process without
 * partitions (the mint-keyed detectors in the wallet and pattern analyzers, where keyed the wallet analyzer
 * runs the pattern analyzer's other two, P4 and P6, and no pattern analyzer runs); and so do runs where the process
 * feeding and running the partitions is SIGKILLed, or frozen, taken over and thawed mid-run. The workload is
 * the crash checks' (every scenario type), replayed through `--role ingest`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MINT_DETECTORS } from "../../src/detection/mint-analyzer.ts";
import { recordFailure } from "../support/failure-digest.ts";
import { RedisCluster } from "../support/redis-cluster.ts";
import {
  type CrashLab,
  cleanRun,
  killRun,
  leaseGenerations,
  memoryRestartRun,
  placementRun,
  type RunOutcome,
  sharedPartitionsRun,
  TAKEOVER_CLAIM_IDLE_MS,
  thawedZombieRun,
} from "./scanner-crash/scenarios.ts";
import { expectConsistent } from "./scanner-crash/verdict.ts";
import { TEST_WORKLOAD, writeWorkload } from "./scanner-crash/workload.ts";
import { canBreakRedis } from "./support.ts";

const WAIT_MS = 120_000;
const TEST_MS = 300_000;
const PARTITIONS = 8;

describe.skipIf(!canBreakRedis())("the mint analyzer in partitions (issue 14)", () => {
  let cluster: RedisCluster | undefined;
  let dir = "";
  let whole: Promise<RunOutcome>;
  let shared: Promise<RunOutcome>;
  let memory: Promise<RunOutcome>;
  let unkeyed: Promise<RunOutcome>;
  let moved: Promise<RunOutcome>;
  let killed: Promise<RunOutcome>;
  let thawed: Promise<RunOutcome>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "troupe-keyed-"));
    cluster = await RedisCluster.start();
    const workload = await writeWorkload(join(dir, "workload.jsonl"), TEST_WORKLOAD);
    const lab: CrashLab = {
      redisUrl: "",
      clusterNodes: cluster.nodes,
      dir,
      workload,
      timeoutMs: WAIT_MS,
      partitions: 1,
    };
    const keyed: CrashLab = { ...lab, partitions: PARTITIONS, analyzerLeaseMs: 2_000 };
    whole = cleanRun(lab, "one process, one partition");
    shared = sharedPartitionsRun(keyed);
    // After the cluster runs: three runs of real processes at once already fill two cores.
    const after = Promise.allSettled([whole, shared]);
    // The wallet analyzer (the partitions' feed) and a partition restarted on the way, as after a crash.
    memory = after.then(() =>
      memoryRestartRun(keyed, [0.3, 0.6], `in memory, ${PARTITIONS} partitions`, [
        "wallet-analyzer",
        "mint-analyzer-p3",
      ]),
    );
    unkeyed = after.then(() => cleanRun({ ...lab, partitions: undefined }, "no partitions"));
    // One of two processes SIGKILLed at 30% of the workload, a third started at 55%: the analyzers and
    // the partitions move with their state (claims after 500 ms idle, as in the crash checks' takeovers).
    moved = Promise.allSettled([memory, unkeyed]).then(() =>
      placementRun({ ...keyed, claimIdleMs: 500 }, 0.3, 0.55),
    );
    // The process running the wallet analyzer (the partitions' feed) and every partition: SIGKILLed and
    // taken over under another name, then killed twice more and restarted under its own; and frozen, taken
    // over, thawed while entries flow (its late forwarded entries are duplicates by their tx ids).
    const takeover: CrashLab = { ...keyed, claimIdleMs: TAKEOVER_CLAIM_IDLE_MS };
    killed = moved.then(
      () => killRun(takeover, 0.05, [0.35, 0.7]),
      () => killRun(takeover, 0.05, [0.35, 0.7]),
    );
    thawed = killed.then(
      () => thawedZombieRun(takeover, 0.1, 0.5),
      () => thawedZombieRun(takeover, 0.1, 0.5),
    );
    const named = { whole, shared, memory, unkeyed, moved, killed, thawed };
    for (const [name, run] of Object.entries(named))
      run.catch((error) => recordFailure(`keyed run "${name}"`, error));
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([whole, shared, memory, unkeyed, moved, killed, thawed]);
    await cluster?.cleanup();
    await rm(dir, { recursive: true, force: true });
  }, TEST_MS);

  test(
    "one process, one partition: every mint-keyed detector alerts (what the partitions must reproduce), and P4 and P6 in the wallet stage",
    async () => {
      const run = await whole;
      const detectors = new Set(run.sink.map((a) => a.detector));
      for (const module of MINT_DETECTORS) expect(detectors.has(module.name)).toBe(true);
      for (const name of ["daisy_chain", "flash_roundtrip"]) expect(detectors.has(name)).toBe(true);
      expectConsistent(run, run);
    },
    TEST_MS,
  );

  test(
    `${PARTITIONS} partitions shared by two analyze processes on the cluster: the same alert ids`,
    async () => {
      const [baseline, run] = await Promise.all([whole, shared]);
      expectConsistent(baseline, run);
    },
    TEST_MS,
  );

  test(
    `${PARTITIONS} partitions in one process in memory, their feed and one of them restarted: the same alert ids`,
    async () => {
      const [baseline, run] = await Promise.all([whole, memory]);
      expect(run.steps.filter((step) => step.includes("/restart")).length).toBe(2);
      expectConsistent(baseline, run);
    },
    TEST_MS,
  );

  test(
    "without partitions, the mint-keyed detectors in the wallet and pattern analyzers: the same alert ids",
    async () => {
      const [baseline, run] = await Promise.all([whole, unkeyed]);
      expectConsistent(baseline, run);
    },
    TEST_MS,
  );

  test(
    `${PARTITIONS} partitions: one of two processes SIGKILLed, a third joins: the partitions move with their state`,
    async () => {
      const [baseline, run] = await Promise.all([whole, moved]);
      expectConsistent(baseline, run);
      // The survivor found the dead process gone and took partitions over from it, under new lease
      // generations: some partition was taken under two.
      expect(
        run.steps.some((step) => / gone \(its connections closed\): its mint partitions move/.test(step)),
      ).toBe(true);
      const log = run.steps.join("\n");
      const taken = Array.from({ length: PARTITIONS }, (_, p) =>
        leaseGenerations(log, `mint-analyzer-p${p}`),
      );
      expect(taken.some((generations) => new Set(generations).size > 1)).toBe(true);
    },
    TEST_MS,
  );

  test(
    `${PARTITIONS} partitions: the process feeding and running them SIGKILLed three times: the same alert ids`,
    async () => {
      const [baseline, run] = await Promise.all([whole, killed]);
      expect(run.steps.filter((step) => step.includes(" SIGKILL ")).length).toBe(3);
      expectConsistent(baseline, run);
    },
    TEST_MS,
  );

  test(
    `${PARTITIONS} partitions: the process feeding them frozen, taken over, thawed mid-run: the same alert ids`,
    async () => {
      const [baseline, run] = await Promise.all([whole, thawed]);
      expectConsistent(baseline, run);
    },
    TEST_MS,
  );
});

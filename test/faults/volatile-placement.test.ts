/**
 * Without durable state (`TROUPE_DURABLE_STATE=off`), analyze processes on one Redis prefix share the
 * analyzers by lease, as with it: each analyzer runs in one process and sees its whole stream. Before, each
 * process ran every analyzer on the same groups and the entries split between them at random, which split
 * every analyzer's per-wallet and per-mint state for good.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordFailure } from "../support/failure-digest.ts";
import { RedisServer } from "../support/redis-server.ts";
import type { AlertRecord } from "./scanner-crash/alert-records.ts";
import {
  cleanRun,
  type RunOutcome,
  redisStallRun,
  sharedFromTheStartRun,
  takeoverRun,
} from "./scanner-crash/scenarios.ts";
import { expectConsistent, verdict } from "./scanner-crash/verdict.ts";
import { TEST_WORKLOAD, writeWorkload } from "./scanner-crash/workload.ts";
import { canBreakRedis } from "./support.ts";

const WAIT_MS = 120_000;
const TEST_MS = 240_000;
/**
 * TROUPE_CLAIM_IDLE_MS of the takeover run: a claim sweep takes a dead process's entries only after this,
 * so a survivor holding them well before shows the adoption that goes with taking an analyzer over.
 */
const CLAIM_IDLE_MS = 30_000;
const ADOPT_WITHIN_MS = 10_000;
/** TROUPE_ANALYZER_LEASE_MS of the stalled run, and how long its Redis stops answering: well past ¾ of it. */
const STALL_LEASE_MS = 2_000;
const STALL_MS = 4_000;

/**
 * Without durable state the sybil analyzer applies the others' findings as they arrive, so its S3 alerts
 * may depend on timing between any two runs (README, Limitations): compared without them.
 */
function withoutTimedAlerts(run: RunOutcome): RunOutcome {
  const untimed = (records: AlertRecord[]) => records.filter((r) => r.detector !== "cluster_control");
  const stream = run.stream === null ? null : untimed(run.stream);
  return { ...run, stream, streamLength: stream?.length ?? run.streamLength, sink: untimed(run.sink) };
}

describe.skipIf(!canBreakRedis())("analyzers placed by lease without durable state", () => {
  let server: RedisServer | undefined;
  /** The stalled run's own: stopping it must not stall the other runs. */
  let stalling: RedisServer | undefined;
  let dir = "";
  let alone: Promise<RunOutcome>;
  let shared: Promise<RunOutcome>;
  let takenOver: Promise<RunOutcome>;
  let stalled: Promise<RunOutcome>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "troupe-volatile-"));
    [server, stalling] = await Promise.all([RedisServer.start(), RedisServer.start()]);
    const workload = await writeWorkload(join(dir, "workload.jsonl"), TEST_WORKLOAD);
    const lab = { redisUrl: server.url, dir, workload, timeoutMs: WAIT_MS, durableState: "off" as const };
    alone = cleanRun(lab, "one volatile process");
    shared = sharedFromTheStartRun(lab, "two volatile processes");
    const takeover = { ...lab, claimIdleMs: CLAIM_IDLE_MS, analyzerLeaseMs: 2_000 };
    takenOver = takeoverRun(takeover, "two volatile processes, one SIGKILLed", 0.3, ADOPT_WITHIN_MS);
    const stallServer = stalling;
    stalled = redisStallRun(
      { ...lab, redisUrl: stallServer.url, analyzerLeaseMs: STALL_LEASE_MS },
      0.4,
      async () => {
        await stallServer.kill("SIGSTOP");
        await Bun.sleep(STALL_MS);
        await stallServer.kill("SIGCONT");
      },
    );
    for (const [name, run] of Object.entries({ alone, shared, takenOver, stalled }))
      run.catch((error) => recordFailure(`volatile run "${name}"`, error));
  }, 30_000);

  afterAll(async () => {
    await Promise.allSettled([alone, shared, takenOver, stalled]);
    await Promise.all([server?.cleanup(), stalling?.cleanup()]);
    await rm(dir, { recursive: true, force: true });
  }, TEST_MS);

  test(
    "two analyze processes share the analyzers, each running its share on its whole stream: one process's alerts",
    async () => {
      const [one, two] = (await Promise.all([alone, shared])).map(withoutTimedAlerts) as [
        RunOutcome,
        RunOutcome,
      ];
      expect(one.streamLength).toBeGreaterThan(0);
      expectConsistent(one, two);
    },
    TEST_MS,
  );

  test(
    "one of two SIGKILLed: the survivor takes its analyzers over with the entries they held at once, and finishes",
    async () => {
      const run = await takenOver;
      // A moved analyzer starts from nothing, so the alerts are not one process's: every entry is handled
      // (the run drained), none given up on, no alert written twice, every process left exits 0.
      const { streamDuplicates, sinkDuplicates, sink, failedExits, extraDeadLetters } = verdict(
        await alone,
        run,
      );
      expect(
        { streamDuplicates, sinkDuplicates, sink, failedExits, extraDeadLetters },
        run.steps.join("\n"),
      ).toEqual({
        streamDuplicates: 0,
        sinkDuplicates: [],
        sink: { missing: [], extra: [] },
        failedExits: {},
        extraDeadLetters: {},
      });
    },
    TEST_MS,
  );

  test(
    "Redis stalled past three quarters of the lease, the process alone: it takes its analyzers again before anyone else and goes on with their state, one process's alerts",
    async () => {
      const [one, run] = (await Promise.all([alone, stalled])).map(withoutTimedAlerts) as [
        RunOutcome,
        RunOutcome,
      ];
      expectConsistent(one, run);
    },
    TEST_MS,
  );
});

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
import { cleanRun, type RunOutcome, sharedFromTheStartRun } from "./scanner-crash/scenarios.ts";
import { expectConsistent } from "./scanner-crash/verdict.ts";
import { TEST_WORKLOAD, writeWorkload } from "./scanner-crash/workload.ts";
import { canBreakRedis } from "./support.ts";

const WAIT_MS = 120_000;
const TEST_MS = 240_000;

/**
 * Without durable state the sybil analyzer applies the others' findings as they arrive, so its S3 alerts
 * may depend on timing between any two runs (README, Limitations): compared without them.
 */
function withoutTimedAlerts(run: RunOutcome): RunOutcome {
  const timed = (records: AlertRecord[]) => records.filter((r) => r.detector !== "cluster_control");
  const stream = run.stream === null ? null : timed(run.stream);
  return { ...run, stream, streamLength: stream?.length ?? run.streamLength, sink: timed(run.sink) };
}

describe.skipIf(!canBreakRedis())("analyzers placed by lease without durable state", () => {
  let server: RedisServer | undefined;
  let dir = "";
  let alone: Promise<RunOutcome>;
  let shared: Promise<RunOutcome>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "troupe-volatile-"));
    server = await RedisServer.start();
    const workload = await writeWorkload(join(dir, "workload.jsonl"), TEST_WORKLOAD);
    const lab = { redisUrl: server.url, dir, workload, timeoutMs: WAIT_MS, durableState: "off" as const };
    alone = cleanRun(lab, "one volatile process");
    shared = sharedFromTheStartRun(lab, "two volatile processes");
    for (const [name, run] of Object.entries({ alone, shared }))
      run.catch((error) => recordFailure(`volatile run "${name}"`, error));
  }, 30_000);

  afterAll(async () => {
    await Promise.allSettled([alone, shared]);
    await server?.cleanup();
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
});

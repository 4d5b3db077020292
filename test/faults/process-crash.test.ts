/**
 * Process crash (RELIABILITY.md scenario 5): a consumer process running the real runtime is SIGKILLed
 * mid-run with entries in flight. Its entries stay pending under its consumer name: a new process with
 * the same name replays them first thing; a process with another name claims them once they have been
 * idle for `claimIdleMs`. Either way nothing is lost and no output is written twice.
 */
import { describe, expect, test } from "bun:test";
import { ConsumerProcess } from "../fixtures/faults/consumer-process.ts";
import { TaggedProducer } from "../fixtures/faults/tagged-producer.ts";
import { canBreakRedis, consumerConfig, faultSuite, names, untilDrained, verdict } from "./support.ts";

const ENTRIES = 600;
const CLAIM_IDLE_MS = 300;

describe.skipIf(!canBreakRedis())("a consumer process killed with SIGKILL mid-run", () => {
  const suite = faultSuite();
  const { running } = suite;
  const start = async (config: Parameters<typeof ConsumerProcess.start>[0], until?: "replayed") => {
    const consumer = await ConsumerProcess.start(config, until);
    running.push(consumer);
    return consumer;
  };

  /** Fills the stream, runs consumer `a` until it acked some, kills it; returns a's pending ids. */
  async function killMidRun(n: ReturnType<typeof names>, claimIdleMs: number) {
    const producer = new TaggedProducer(suite.redis.url, n.stream);
    await producer.sendAll(ENTRIES, 100);
    await producer.close();
    const a = await start(
      consumerConfig(suite.redis, n, "a", {
        workMs: 2,
        capacity: 32,
        pump: { claimIdleMs, sweepIntervalMs: 100 },
      }),
    );
    await a.waitFor("acked", { match: () => a.acked >= 100 });
    await a.kill();
    const killedAt = Date.now();
    const pending = await suite.redis.backend.pending(n.stream, n.group, { count: ENTRIES, consumer: "a" });
    expect(pending.length).toBeGreaterThan(0);
    // The freshest entry became claimable no earlier than `claimIdleMs - minIdle` after `killedAt`.
    const minIdle = Math.min(...pending.map((p) => p.idleMs));
    return { producer, killedAt, minIdle, pending: pending.map((p) => p.id) };
  }

  test("a new process with the same consumer name replays its pending entries first", async () => {
    const n = names();
    // No claims: only a's own replay can bring its entries back.
    const { producer, pending } = await killMidRun(n, 600_000);
    const again = await start(
      consumerConfig(suite.redis, n, "a", { workMs: 2, pump: { claimIdleMs: 600_000, sweepIntervalMs: 0 } }),
      "replayed",
    );
    const replayed = await again.waitFor("replayed");
    expect(replayed.count).toBe(pending.length);
    await untilDrained(suite.redis, n, [again]);

    const result = await verdict(suite.redis, n, producer.history);
    expect(result).toMatchObject({ acknowledged: ENTRIES, processed: ENTRIES, lost: 0, unexpected: 0 });
    expect(result.duplicated).toBe(0);
    expect(await suite.redis.backend.pending(n.stream, n.group, { count: 10 })).toEqual([]);
  }, 30_000);

  test("a process with another consumer name claims them once idle for claimIdleMs", async () => {
    const n = names();
    const { producer, pending, killedAt, minIdle } = await killMidRun(n, CLAIM_IDLE_MS);
    const b = await start(
      consumerConfig(suite.redis, n, "b", {
        workMs: 2,
        pump: { claimIdleMs: CLAIM_IDLE_MS, sweepIntervalMs: 100 },
      }),
    );
    const takenOver = await b.waitFor("claimed", { match: () => b.claimed >= pending.length });
    expect(b.claimed).toBe(pending.length);
    // Not before every entry had been idle claimIdleMs (10 ms of clock slack), and soon after that.
    const takeoverMs = takenOver.t - killedAt;
    expect(takeoverMs).toBeGreaterThanOrEqual(CLAIM_IDLE_MS - minIdle - 10);
    expect(takeoverMs).toBeLessThan(CLAIM_IDLE_MS + 2_000);
    await untilDrained(suite.redis, n, [b]);

    const result = await verdict(suite.redis, n, producer.history);
    expect(result).toMatchObject({ acknowledged: ENTRIES, processed: ENTRIES, lost: 0, unexpected: 0 });
    expect(result.duplicated).toBe(0);
    expect(await suite.redis.backend.pending(n.stream, n.group, { count: 10, consumer: "a" })).toEqual([]);
  }, 30_000);
});

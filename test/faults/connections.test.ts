/**
 * Dropped connections and a stalled Redis (RELIABILITY.md scenarios 7 and 8). CLIENT KILL closes every
 * client connection: a pump's blocking read must fail at once and resume (ioredis, told not to re-send,
 * would otherwise leave it waiting for nothing until the watchdog, 3 s by default), and commits cut
 * mid-way must neither lose an entry nor write an output twice. A Redis frozen with SIGSTOP closes
 * nothing: the pump's health probe must show it in stats and events within 2 s, and clear it after.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { ConsumerProcess } from "../fixtures/faults/consumer-process.ts";
import { TaggedProducer } from "../fixtures/faults/tagged-producer.ts";
import { freePort } from "../support/redis-server.ts";
import {
  canBreakRedis,
  consumerConfig,
  type FaultRedis,
  type InProcessConsumer,
  inProcessConsumer,
  names,
  nextPumpEvent,
  startFaultRedis,
  untilDrained,
  verdict,
  whenPump,
} from "./support.ts";

describe.skipIf(!canBreakRedis())("dropped connections and a stalled redis", () => {
  let redis: FaultRedis | undefined;
  let consumers: ConsumerProcess[] = [];
  let local: InProcessConsumer | undefined;
  let producer: TaggedProducer | undefined;
  afterEach(async () => {
    await redis?.server.kill("SIGCONT");
    await Promise.all(consumers.map((c) => c.kill()));
    await local?.stop();
    await producer?.close();
    await redis?.close();
    consumers = [];
    local = producer = redis = undefined;
  });

  test("CLIENT KILL during a blocking read: the read resumes within 2 s", async () => {
    redis = await startFaultRedis();
    const n = names();
    producer = new TaggedProducer(redis.url, n.stream);
    // Default pump and backend options: BLOCK 1000 ms, read watchdog 2 s past it.
    const c = await ConsumerProcess.start(consumerConfig(redis, n, "a"));
    consumers.push(c);
    let failedReads = 0;
    for (let round = 1; round <= 3; round++) {
      await producer.send(1);
      await c.waitFor("acked", { match: () => c.acked >= round * 2 - 1 });
      // Idle now: its only command in flight is the blocking read.
      const mark = c.mark();
      const killedAt = Date.now();
      expect(await redis.admin.call("CLIENT", "KILL", "TYPE", "normal")).toBeGreaterThanOrEqual(1);
      await producer.send(1);
      const resumed = await c.waitFor("acked", { from: mark });
      expect(resumed.t - killedAt).toBeLessThan(2_000);
      // Unless the kill fell in the instant between two reads, the read in flight failed at once.
      for (const e of c.events.slice(mark)) {
        if (e.e !== "readFailed") continue;
        expect(e.error).toBe("redis: connection closed during XREADGROUP BLOCK 1000");
        failedReads++;
      }
    }
    expect(failedReads).toBeGreaterThan(0);
    const result = await verdict(redis, n, producer.history);
    expect(result).toMatchObject({ lost: 0, unexpected: 0, duplicated: 0 });
  }, 30_000);

  test("CLIENT KILL every 150 ms under load: nothing lost, no output written twice", async () => {
    redis = await startFaultRedis();
    const n = names();
    producer = new TaggedProducer(redis.url, n.stream);
    const pump = { claimIdleMs: 1_000, sweepIntervalMs: 200, retryMaxMs: 200 };
    consumers = await Promise.all(
      ["a", "b"].map((name) => ConsumerProcess.start(consumerConfig(redis!, n, name, { workMs: 1, pump }))),
    );
    const p = producer;
    const producing = (async () => {
      for (let i = 0; i < 30; i++) await p.send(50);
    })();
    let kills = 0;
    // The fault schedule (not a synchronisation): connections drop while reads, commits and acks run.
    while (kills < 12) {
      await Bun.sleep(150);
      await redis.admin.call("CLIENT", "KILL", "TYPE", "normal");
      kills++;
    }
    await producing;
    await untilDrained(redis, n, consumers);

    const result = await verdict(redis, n, p.history);
    expect(result.processed).toBeGreaterThan(0);
    expect(result).toMatchObject({ lost: 0, unexpected: 0, duplicated: 0, deadLettered: 0 });
    expect(await redis.backend.pending(n.stream, n.group, { count: 10 })).toEqual([]);
    const events = consumers.flatMap((c) => c.events);
    expect(events.some((e) => e.e === "readFailed" || e.e === "outputFailed")).toBe(true);
    expect(events.filter((e) => e.e === "actorFailed" || e.e === "deadLettered")).toEqual([]);
  }, 30_000);

  test("a stalled Redis (SIGSTOP) shows in stats and events within 2 s, and clears when it wakes", async () => {
    redis = await startFaultRedis();
    const n = names();
    producer = new TaggedProducer(redis.url, n.stream);
    local = await inProcessConsumer(redis, n, { consumer: "a" });
    const { pump } = local;
    await producer.send(5);
    await whenPump(pump, "acked", () => pump.stats.acked >= 5);
    expect(pump.stats.stalledSince).toBeNull();

    const stalled = nextPumpEvent(pump, "backendStalled");
    const frozenAt = Date.now();
    await redis.server.kill("SIGSTOP");
    const event = await stalled;
    const noticedMs = Date.now() - frozenAt;
    expect(noticedMs).toBeLessThan(2_000);
    expect(pump.stats.stalledSince).toBe(event.since);

    const recovered = nextPumpEvent(pump, "backendRecovered");
    await redis.server.kill("SIGCONT");
    expect((await recovered).stalledMs).toBeGreaterThanOrEqual(noticedMs - 1_000);
    expect(pump.stats.stalledSince).toBeNull();
    await producer.send(5);
    await whenPump(pump, "acked", () => pump.stats.acked >= 10);
  }, 30_000);

  test("a Redis that is away fails commands and reads; ioredis prints nothing", async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const printed: string[] = [];
    const original = console.error;
    // Only what names this backend's server: a client another test file left open may print meanwhile.
    console.error = (...args: unknown[]) => {
      const line = args.join(" ");
      if (line.includes(`:${port}`)) printed.push(line);
      else original(...args);
    };
    try {
      const backend = new RedisStreamBackend(url, { commandTimeoutMs: 300 });
      expect(((await backend.length("s").catch((e) => e)) as { code: string }).code).toBe(
        "ERR_STREAM_BACKEND",
      );
      const read = await backend.readNew("s", "g", "c", { count: 1, blockMs: 100 }).catch((e) => e);
      expect((read as { message: string }).message).toBe(
        "redis: connection closed before XREADGROUP BLOCK 100 was sent",
      );
      await backend.close();
    } finally {
      console.error = original;
    }
    // Without an error listener ioredis prints "[ioredis] Unhandled error event" per reconnect attempt.
    expect(printed).toEqual([]);
  });
});

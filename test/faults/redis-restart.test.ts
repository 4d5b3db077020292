/**
 * Redis restarts mid-run (RELIABILITY.md scenario 9). With AOF and `appendfsync always` every
 * acknowledged write survives, including the group, its pending lists and the output dedup markers:
 * nothing is lost and nothing stays pending. Without persistence the stream and the group are gone: the
 * pump sees NOGROUP, recreates the group once, reports how many entries the vanished group had not
 * finished, and goes on with new entries instead of crash-looping.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ConsumerProcess } from "../fixtures/faults/consumer-process.ts";
import { TaggedProducer } from "../fixtures/faults/tagged-producer.ts";
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

describe.skipIf(!canBreakRedis())("redis restarts mid-run", () => {
  let redis: FaultRedis | undefined;
  let consumer: ConsumerProcess | undefined;
  let local: InProcessConsumer | undefined;
  let producer: TaggedProducer | undefined;
  afterEach(async () => {
    await consumer?.kill();
    await local?.stop();
    await producer?.close();
    await redis?.close();
    consumer = local = producer = redis = undefined;
  });

  test("with AOF appendfsync always: nothing lost, nothing stuck pending", async () => {
    redis = await startFaultRedis({ appendonly: true, appendfsync: "always" });
    const n = names();
    producer = new TaggedProducer(redis.url, n.stream);
    consumer = await ConsumerProcess.start(
      consumerConfig(redis, n, "a", { workMs: 1, pump: { claimIdleMs: 1_000, sweepIntervalMs: 200 } }),
    );
    const c = consumer;
    const p = producer;
    // The producer keeps writing through the restart; writes without a reply are recorded as unknown.
    const producing = (async () => {
      for (let i = 0; i < 40; i++) await p.send(50);
    })();
    await c.waitFor("acked", { match: () => c.acked >= 300 });
    const mark = c.mark();
    await redis.server.kill("SIGKILL");
    await redis.server.restart();
    await producing;
    await untilDrained(redis, n, [c]);
    // The same process worked on across the restart (whether a read or commit failed, or ioredis
    // re-sent them transparently after reconnecting, depends on timing).
    expect(c.alive).toBe(true);
    expect(c.events.slice(mark).some((e) => e.e === "acked")).toBe(true);

    const result = await verdict(redis, n, p.history);
    expect(result.acknowledged).toBeGreaterThan(0);
    expect(result).toMatchObject({ lost: 0, unexpected: 0, duplicated: 0, deadLettered: 0 });
    expect(result.processed).toBe(result.acknowledged + result.recovered);
    expect(await redis.backend.pending(n.stream, n.group, { count: 10 })).toEqual([]);
    expect(c.events.filter((e) => e.e === "groupRecreated")).toEqual([]);
    // Reconnect attempts while Redis was away are reported through the pump, not printed by ioredis.
    expect(c.stderr).not.toContain("Unhandled error event");
  }, 30_000);

  test("without persistence: NOGROUP is detected, the group recreated once, the loss reported", async () => {
    redis = await startFaultRedis();
    const n = names();
    const total = 300;
    producer = new TaggedProducer(redis.url, n.stream);
    // A slow consumer, so a backlog is still unread when Redis loses everything.
    local = await inProcessConsumer(redis, n, {
      consumer: "a",
      workMs: 5,
      capacity: 8,
      pump: { blockMs: 200, sweepIntervalMs: 0, retryMaxMs: 500 },
    });
    const { pump } = local;
    await producer.sendAll(total, 100);
    // The last sighting of the group, after the last append: the loss estimate is then exact.
    await pump.refresh();
    await whenPump(pump, "acked", () => pump.stats.acked >= 50);

    const recreated = nextPumpEvent(pump, "groupRecreated");
    await redis.server.kill("SIGKILL");
    await redis.server.restart();
    const report = await recreated;
    await whenPump(pump, "acked", () => pump.stats.held === 0);
    // Every entry not finished before the loss or from what the pump held is gone with the group.
    expect(report.lost).toBe(total - pump.stats.acked);
    expect(report.lost).toBeGreaterThan(0);
    expect(report.lastSeenAt).not.toBeNull();
    expect(pump.stats).toMatchObject({ groupsRecreated: 1, entriesLost: report.lost });

    // No crash loop: new entries flow through the recreated group.
    const before = pump.stats.acked;
    await producer.sendAll(20, 20);
    await whenPump(pump, "acked", () => pump.stats.acked >= before + 20);
    expect(pump.stats.groupsRecreated).toBe(1);
    expect(pump.stats.readErrors).toBeLessThan(10);
    expect(await redis.backend.pending(n.stream, n.group, { count: 10 })).toEqual([]);
  }, 30_000);
});

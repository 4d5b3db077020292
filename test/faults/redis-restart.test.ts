/**
 * Redis restarts mid-run (RELIABILITY.md scenario 9). With AOF and `appendfsync always` every
 * acknowledged write survives, including the group, its pending lists and the output dedup markers:
 * nothing is lost and nothing stays pending. Without persistence the stream and the group are gone: the
 * pump sees NOGROUP, recreates the group once, reports how many entries the vanished group had not
 * finished, and goes on with new entries instead of crash-looping; a durable actor behind it finds no record
 * of its state at its next checkpoint and restarts from what Redis holds (nothing), without letting back in
 * an incarnation that held an epoch from before the loss.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createSystem } from "../../src/index.ts";
import type { ActorSystem } from "../../src/runtime/system.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { Pump } from "../../src/streams/pump.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
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

const COUNTS_ACTOR = new URL("../../examples/durable/counts.actor.ts", import.meta.url);

describe.skipIf(!canBreakRedis())("redis restarts mid-run", () => {
  let redis: FaultRedis | undefined;
  let consumer: ConsumerProcess | undefined;
  let local: InProcessConsumer | undefined;
  let producer: TaggedProducer | undefined;
  let durable: { system: ActorSystem; pump: Pump<unknown, unknown>; backend: RedisStreamBackend } | undefined;
  afterEach(async () => {
    await durable?.pump.stop();
    await durable?.system.stop({ deadlineMs: 1_000 });
    await durable?.backend.close();
    durable = undefined;
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

  test("without persistence: a durable actor restarts from what Redis holds and goes on; an older epoch stays out", async () => {
    redis = await startFaultRedis();
    const stream = names().stream;
    const backend = new RedisStreamBackend(redis.url);
    const store = backend.stateStore({ anchor: stream });
    const system = createSystem({ supervisor: { backoff: { minMs: 1, maxMs: 50 } } });
    const counts = await system.spawn<{ key: string }, number>(COUNTS_ACTOR, {
      name: "counts",
      state: { store, checkpointIntervalMs: 20 },
    });
    const pump = new Pump(backend, counts, {
      stream,
      group: "counts",
      consumer: "c",
      stateStore: store,
      blockMs: 100,
      retryMaxMs: 200,
      sweepIntervalMs: 0,
    });
    durable = { system, pump: pump as Pump<unknown, unknown>, backend };
    const acked: string[] = [];
    pump.on("acked", (e) => acked.push(...e.ids));
    await pump.start();
    const append = (n: number) =>
      redis!.backend.appendBatch(
        stream,
        Array.from({ length: n }, () => defaultCodec.encode({ key: "a" })),
      );

    await append(100);
    await whenPump(pump as never, "acked", () => acked.length >= 100);
    expect(await counts.query<number>("count", ["a"])).toBe(100);
    const before = counts.stats().instances[0]!.durable!.epoch;

    const lost = new Promise<{ reason: string }>((resolve) =>
      system.events.on("crashed", (event) => resolve(event)),
    );
    const restarted = new Promise<void>((resolve) => system.events.on("restarted", () => resolve()));
    const told = new Promise<{ lostEpoch: number; epoch: number }>((resolve) =>
      system.events.on("stateLost", (event) => resolve(event)),
    );
    const recreated = nextPumpEvent(pump as never, "groupRecreated");
    await redis.server.kill("SIGKILL");
    await redis.server.restart();
    await recreated;
    acked.length = 0;
    await append(50);
    // The first checkpoint after the loss finds no record: the instance restarts, restoring nothing.
    expect((await lost).reason).toBe("stateLost");
    await restarted;
    await whenPump(pump as never, "acked", () => acked.length >= 50);
    expect(await counts.query<number>("count", ["a"])).toBe(50);
    expect(await redis.backend.pending(stream, "counts", { count: 10 })).toEqual([]);
    const durableStats = counts.stats().instances[0]!.durable!;
    expect(durableStats).toMatchObject({ lostWrites: 1, fencedWrites: 0 });
    // Epochs are never handed out twice, although Redis lost the counter: one from before the loss is
    // older than the new incarnation's, and an incarnation continuing it is refused now the scope has a record.
    expect(durableStats.epoch).toBeGreaterThan(before);
    expect(await told).toMatchObject({
      actor: "counts",
      instance: 0,
      lostEpoch: before,
      epoch: durableStats.epoch,
    });
    await expect(store.restore({ actor: "counts", instance: 0 }, before)).rejects.toMatchObject({
      code: "ERR_FENCED",
    });
  }, 30_000);
});

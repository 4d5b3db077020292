/**
 * Consumer hygiene (RELIABILITY.md scenario 12). Redis never removes consumers, so 100 restarts under
 * fresh names would leave 100 behind. Pumps delete consumers idle past `deadConsumerIdleMs`, but never
 * one that still owns pending entries (XGROUP DELCONSUMER would silently drop them): those entries are
 * claimed first, then the consumer goes. Every other restart here is a "crash" that abandons entries.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSystem } from "../../src/index.ts";
import { Pump } from "../../src/streams/pump.ts";
import type { TaggedEntry } from "../fixtures/faults/tagged.actor.ts";
import { TaggedProducer } from "../fixtures/faults/tagged-producer.ts";
import {
  canBreakRedis,
  type FaultRedis,
  names,
  pumpDrained,
  startFaultRedis,
  verdict,
  whenPump,
} from "./support.ts";

const TAGGED_ACTOR = new URL("../fixtures/faults/tagged.actor.ts", import.meta.url);

describe.skipIf(!canBreakRedis())("consumer hygiene", () => {
  let redis: FaultRedis;
  beforeAll(async () => {
    redis = await startFaultRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  test("100 restarts under fresh consumer names: the consumer list stays bounded, no pending entry dropped", async () => {
    const n = names();
    const producer = new TaggedProducer(redis.url, n.stream);
    const system = createSystem();
    const ref = await system.spawn<TaggedEntry>(TAGGED_ACTOR, {
      instances: 2,
      capacity: 16,
      init: { outputs: n.outputs, consumer: "restarts", workMs: 2 },
    });
    const removed = new Set<string>();
    /** Consumers a "crashed" restart left with pending entries. */
    const leftPending = new Set<string>();
    let most = 0;
    const pumpOf = (consumer: string, crash: boolean) => {
      const pump = new Pump(redis.backend, ref, {
        stream: n.stream,
        group: n.group,
        consumer,
        blockMs: 10,
        claimIdleMs: 100,
        sweepIntervalMs: 50,
        deadConsumerIdleMs: 100,
        // A crash abandons what the pump holds: it stays pending under the old name.
        stopTimeoutMs: crash ? 0 : 1_000,
      });
      pump.on("consumerRemoved", (e) => removed.add(e.consumer));
      return pump;
    };
    try {
      for (let generation = 0; generation < 100; generation++) {
        const name = `gen-${generation}`;
        const crash = generation % 2 === 1;
        const pump = pumpOf(name, crash);
        // Under load: every life has new entries to take besides what it may claim.
        await producer.send(30);
        await pump.start();
        await whenPump(pump, "acked", () => pump.stats.acked >= 10);
        // A clean life runs at least one sweep (claims, then removes idle consumers that own nothing);
        // a crash stops at once, abandoning the entries still in its actors.
        if (!crash) await pump.sweep();
        await pump.stop();
        const consumers = await redis.backend.consumers(n.stream, n.group);
        most = Math.max(most, consumers.length);
        if ((consumers.find((c) => c.name === name)?.pending ?? 0) > 0) leftPending.add(name);
      }
      // A last consumer finishes everything, claiming what the crashed ones left, and cleans up.
      const final = pumpOf("final", false);
      await final.start();
      await pumpDrained(final, redis, n);
      await whenPump(final, "consumerRemoved", () => removed.size === 100);
      await final.stop();
    } finally {
      await system.stop({ deadlineMs: 1_000 });
      await producer.close();
    }

    expect(most).toBeLessThanOrEqual(10);
    expect(leftPending.size).toBeGreaterThan(10);
    // Every consumer that was left with pending entries was removed, after they were claimed: none lost.
    expect([...leftPending].filter((name) => !removed.has(name))).toEqual([]);
    const result = await verdict(redis, n, producer.history);
    expect(result).toMatchObject({
      processed: 3_000,
      lost: 0,
      unexpected: 0,
      duplicated: 0,
      deadLettered: 0,
    });
    expect((await redis.backend.consumers(n.stream, n.group)).length).toBeLessThanOrEqual(3);
  }, 60_000);
});

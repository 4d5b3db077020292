/**
 * Scale out (RELIABILITY.md scenario 5): two consumer processes with different names share one group
 * and split its work; when one is SIGKILLed the other claims its pending entries and finishes them.
 */
import { describe, expect, test } from "bun:test";
import { ConsumerProcess } from "../fixtures/faults/consumer-process.ts";
import { TaggedProducer } from "../fixtures/faults/tagged-producer.ts";
import { readOutputs } from "../fixtures/faults/total-queue.ts";
import { canBreakRedis, consumerConfig, faultSuite, names, untilDrained, verdict } from "./support.ts";

describe.skipIf(!canBreakRedis())("scale out", () => {
  const suite = faultSuite();
  const { running } = suite;

  test("two processes split a group's work; after one is SIGKILLed the other finishes its entries", async () => {
    const n = names();
    const producer = new TaggedProducer(suite.redis.url, n.stream);
    const pump = { claimIdleMs: 300, sweepIntervalMs: 100 };
    const [a, b] = await Promise.all(
      ["a", "b"].map((name) =>
        ConsumerProcess.start(consumerConfig(suite.redis, n, name, { workMs: 1, capacity: 32, pump })),
      ),
    );
    running.push(a!, b!);
    const producing = (async () => {
      for (let i = 0; i < 20; i++) await producer.send(100);
    })();
    await a!.waitFor("acked", { match: () => a!.acked >= 200 });
    await b!.waitFor("acked", { match: () => b!.acked >= 200 });
    await a!.kill();
    const orphaned = await suite.redis.backend.pending(n.stream, n.group, { count: 2_000, consumer: "a" });
    expect(orphaned.length).toBeGreaterThan(0);
    await b!.waitFor("claimed", { match: () => b!.claimed >= orphaned.length });
    await producing;
    await producer.close();
    await untilDrained(suite.redis, n, [b!]);

    const result = await verdict(suite.redis, n, producer.history);
    expect(result).toMatchObject({ processed: 2_000, lost: 0, unexpected: 0, duplicated: 0 });
    const by = new Set((await readOutputs(suite.redis.backend, n.outputs)).map((o) => o.by));
    expect([...by].sort()).toEqual(["a", "b"]);
    expect(await suite.redis.backend.pending(n.stream, n.group, { count: 10 })).toEqual([]);
  }, 30_000);
});

/**
 * The scanner pipeline on a real 3-master Redis Cluster gives the same alerts as in memory: the eval of a
 * small generated workload, once per backend, scored alike.
 */
import { afterAll, expect, test } from "bun:test";
import { evaluate } from "../../src/eval/evaluate.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { RedisCluster } from "../support/redis-cluster.ts";
import { redisServerInstalled } from "../support/redis-server.ts";

let cluster: RedisCluster | null = null;
afterAll(async () => {
  await cluster?.cleanup();
});

test.skipIf(!redisServerInstalled())(
  "eval on a redis cluster: the same alerts and scorecard as in memory",
  async () => {
    const workload = { kind: "generated", seed: 2, hours: 0.5, scale: 0.1 } as const;
    const memory = new MemoryStreamBackend();
    const inMemory = await evaluate(memory, workload, "eval:");
    await memory.close();
    cluster = await RedisCluster.start();
    const redis = new RedisStreamBackend({ cluster: cluster.nodes });
    // One hash tag for the scanner's streams: a sybil checkpoint acks tx and findings entries in one script.
    const onCluster = await evaluate(redis, workload, "{eval}:");
    await redis.close();
    expect(inMemory.alerts).toBeGreaterThan(0);
    expect(onCluster.events).toBe(inMemory.events);
    expect(onCluster.alerts).toBe(inMemory.alerts);
    expect(onCluster.scorecard).toEqual(inMemory.scorecard);
  },
  120_000,
);

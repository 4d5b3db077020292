/**
 * Per-backend test harnesses: a fresh backend and a unique key prefix per test, fault hooks where
 * they are safe (a private redis-server, never the shared one), and clean-up of every key the test made.
 */

import { afterAll } from "bun:test";
import { randomUUID } from "node:crypto";
import Redis, { type Cluster } from "ioredis";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { type Clock, systemClock } from "../../src/time/clock.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { RedisCluster } from "../support/redis-cluster.ts";
import {
  redisServerInstalled,
  startPrivateRedis,
  startTestRedis,
  type TestRedis,
} from "../support/redis-server.ts";
import type { ContractHarness } from "./contract.ts";

export function testPrefix(): string {
  return `troupe-test:${randomUUID()}`;
}

export async function memoryHarness(): Promise<ContractHarness & { backend: MemoryStreamBackend }> {
  const manual = new ManualClock();
  // Idle times move by hand, so they are exact; a BLOCK still times out in real time, as on Redis.
  const clock: Clock = { ...systemClock, now: () => manual.now() };
  const backend = new MemoryStreamBackend({ clock });
  return {
    backend,
    clock,
    prefix: testPrefix(),
    elapse: async (ms) => manual.advance(ms),
    breakWrites: async () => backend.setMaxEntries(0),
    healWrites: async () => backend.setMaxEntries(Number.POSITIVE_INFINITY),
    bulkFill: async (stream, count, fields) => {
      for (let i = 0; i < count; i++) await backend.append(stream, fields);
    },
    cleanup: () => backend.close(),
  };
}

/**
 * Deletes every key under `prefix`, and those named in its slot (`{prefix…}`: dedup markers, durable state),
 * by SCAN + UNLINK one key at a time (a cluster node refuses a multi-key UNLINK across slots): never
 * FLUSHDB, the server may be shared. For a cluster, call it on every master.
 */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const admin = new Redis(url, { protocol: 2 });
  try {
    for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
      let cursor = "0";
      do {
        const [next, keys] = await admin.scan(cursor, "MATCH", pattern, "COUNT", 1000);
        if (keys.length > 0) await keys.reduce((p, key) => p.unlink(key), admin.pipeline()).exec();
        cursor = next;
      } while (cursor !== "0");
    }
  } finally {
    admin.disconnect();
  }
}

const BULK_CHUNK = 20_000;
const BULK_FILL_LUA =
  "for i = 1, tonumber(ARGV[1]) do redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2)) end return 1";

export async function redisHarness(
  redis: TestRedis,
): Promise<ContractHarness & { backend: RedisStreamBackend }> {
  const backend = new RedisStreamBackend(redis.url);
  const prefix = testPrefix();
  const server = redis.server;
  const config = async (value: string) => {
    const admin = new Redis(redis.url, { protocol: 2 });
    await admin.config("SET", "maxmemory", value).finally(() => admin.disconnect());
  };
  return {
    backend,
    prefix,
    clock: systemClock,
    elapse: (ms) => Bun.sleep(ms),
    // Out of memory for real: maxmemory 1 byte with noeviction refuses writes, accepts XACK and reads.
    ...(server && { breakWrites: () => config("1"), healWrites: () => config("0") }),
    lose: loseWith(() => new Redis(redis.url, { protocol: 2 })),
    connect: () => new RedisStreamBackend(redis.url),
    bulkFill: bulkFillWith(() => new Redis(redis.url, { protocol: 2 })),
    cleanup: async () => {
      await backend.close();
      await deleteKeys(redis.url, prefix);
    },
  };
}

/** `lose` through a connection of its own: one DEL per key, so a cluster's keys may lie in several slots. */
function loseWith(connect: () => Redis | Cluster): NonNullable<ContractHarness["lose"]> {
  return async (keys) => {
    const admin = connect();
    try {
      for (const key of keys) await admin.del(key);
    } finally {
      admin.disconnect();
    }
  };
}

/** `bulkFill` through a connection of its own (a server's or a cluster's), closed after. */
function bulkFillWith(connect: () => Redis | Cluster): ContractHarness["bulkFill"] {
  return async (stream, count, fields) => {
    const admin = connect();
    const args = Object.entries(fields).flatMap(([k, v]) => [k, typeof v === "string" ? v : Buffer.from(v)]);
    try {
      // Server-side loop in chunks: 200k XADDs without 200k round trips, never blocking Redis long.
      for (let done = 0; done < count; done += BULK_CHUNK) {
        await admin.eval(BULK_FILL_LUA, 1, stream, Math.min(BULK_CHUNK, count - done), ...args);
      }
    } finally {
      admin.disconnect();
    }
  };
}

/** A harness on a private Redis Cluster: every master's maxmemory breaks writes; keys go from every master. */
export async function redisClusterHarness(
  cluster: RedisCluster,
): Promise<ContractHarness & { backend: RedisStreamBackend }> {
  const backend = new RedisStreamBackend({ cluster: cluster.nodes });
  const prefix = testPrefix();
  const config = (value: string) =>
    Promise.all(
      cluster.servers.map(async (server) => {
        const admin = new Redis(server.url, { protocol: 2 });
        await admin.config("SET", "maxmemory", value).finally(() => admin.disconnect());
      }),
    ).then(() => {});
  return {
    backend,
    prefix,
    clock: systemClock,
    elapse: (ms) => Bun.sleep(ms),
    breakWrites: () => config("1"),
    healWrites: () => config("0"),
    lose: loseWith(() => new Redis.Cluster(cluster.nodes, { redisOptions: { protocol: 2 } })),
    connect: () => new RedisStreamBackend({ cluster: cluster.nodes }),
    bulkFill: bulkFillWith(() => new Redis.Cluster(cluster.nodes, { redisOptions: { protocol: 2 } })),
    cleanup: async () => {
      await backend.close();
      await Promise.all(cluster.servers.map((server) => deleteKeys(server.url, prefix)));
    },
  };
}

/**
 * Harness factories for a suite file on a private 3-master Redis Cluster (started by the first test, as in
 * {@link redisSuite}, and stopped after the file); its faults are safe, so `faulty` is the same factory.
 */
export function redisClusterSuite(): { create: () => Promise<ContractHarness> } {
  let cluster: RedisCluster | null = null;
  afterAll(async () => {
    await cluster?.cleanup();
  });
  const create = async () => {
    cluster ??= await RedisCluster.start();
    await cluster.revive();
    return redisClusterHarness(cluster);
  };
  return { create };
}

/**
 * Harness factories for a Redis suite file (registers its own afterAll; the server starts with the first test): `create` uses the
 * suite's Redis (REDIS_URL, else a private server); `faulty` always a private server, started on first
 * use when REDIS_URL points at a shared one, and absent when no redis-server is installed.
 */
export function redisSuite(): {
  create: () => Promise<ContractHarness>;
  faulty: (() => Promise<ContractHarness>) | undefined;
} {
  let redis: TestRedis | null = null;
  let faultRedis: TestRedis | null = null;
  afterAll(async () => {
    await redis?.close();
    await faultRedis?.close();
  });
  // Started by the first test, not in beforeAll: Bun's runner sometimes took a server spawned in a
  // file's beforeAll for a dangling process of the file before and killed it ("killed 1 dangling process",
  // then every test of the file refused). A test that still finds its private server gone starts it again.
  const create = async () => {
    if (!redis) redis = await startTestRedis();
    else if (redis.server && !redis.server.running) await redis.server.restart();
    return redisHarness(redis);
  };
  if (!process.env.REDIS_URL) return { create, faulty: create };
  const faulty = async () => {
    faultRedis ??= await startPrivateRedis();
    return redisHarness(faultRedis);
  };
  return { create, faulty: redisServerInstalled() ? faulty : undefined };
}

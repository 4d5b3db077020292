/**
 * Redis for benches: `REDIS_URL` or 127.0.0.1:6379, every key under a fresh `troupe-bench:<uuid>` prefix,
 * and only those keys deleted afterwards (never FLUSHALL / FLUSHDB: the server is shared with tests).
 */
import { randomUUID } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";

export function redisUrl(): string {
  return process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
}

/** A connection that gives up instead of reconnecting: a bench without its server must fail, not hang. */
export function connect(options: RedisOptions = {}): Redis {
  return new Redis(redisUrl(), { retryStrategy: () => null, ...options });
}

/**
 * Deletes every key that starts with `prefix` (a unique `troupe-bench:<uuid>`, with or without its colon),
 * or with `{prefix` (durable state's hash-tagged keys), in SCAN pages so a large run never blocks the server.
 * It matched `prefix:*` only: the scanner bench, whose prefix ends with a colon, left every run's streams and
 * state behind (1.3 GB in the shared Redis after an evening of runs).
 */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  // Durable state keys start with a hash tag: `{<prefix>...}:state:...` (src/streams/state-keys.ts).
  for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      if (keys.length > 0) deleted += await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
  }
  return deleted;
}

/**
 * Runs `use` with a connection and a fresh key prefix, then deletes the prefix's keys and disconnects, even
 * when `use` throws.
 */
export async function withBenchRedis<T>(use: (redis: Redis, prefix: string) => Promise<T>): Promise<T> {
  const redis = connect();
  const prefix = `troupe-bench:${randomUUID()}`;
  await redis.ping().catch((cause: unknown) => {
    redis.disconnect();
    throw new Error(`no Redis at ${redisUrl()} (set REDIS_URL)`, { cause });
  });
  try {
    return await use(redis, prefix);
  } finally {
    await deleteByPrefix(redis, prefix);
    redis.disconnect();
  }
}

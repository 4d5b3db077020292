/**
 * The Redis state store's storage work: it keeps checkpoint segments and compacted base chunks as zstd
 * frames (what it stores is smaller than what the worker wrote, and a restore from the log, then from a
 * compacted base, gives the same state; segments stored raw, before compression or too small to gain,
 * restore alongside them), and it compacts on the compaction thread over a connection of its own: the main
 * thread sends none of a compaction's commands (reading the base and the log, the swap), which moved tens of
 * megabytes through it per compaction of an analyzer's state. The commands a thread's ioredis clients send
 * are seen on that thread's `ioredis:command` tracing channel.
 */
import { afterAll, expect, test } from "bun:test";
import diagnosticsChannel from "node:diagnostics_channel";
import Redis from "ioredis";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { type ScopeKeys, scopeKeys, stateBase } from "../../src/streams/state-keys.ts";
import { redisAvailable, startTestRedis, type TestRedis } from "../support/redis-server.ts";
import { replayed, seg } from "../support/state.ts";

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const text = (value: unknown) => new TextDecoder().decode(value as Uint8Array);
const scope = { actor: "wallets", instance: 0 };

let server: TestRedis | null = null;
afterAll(async () => {
  await server?.close();
});

interface StoreCase {
  backend: RedisStreamBackend;
  /** A client of the test's own, to look at what the store wrote. */
  redis: Redis;
  anchor: string;
  keys: ScopeKeys;
}

/** A backend and a state store's keys under a prefix of their own, deleted after `use`. */
async function withStore(use: (c: StoreCase) => Promise<void>): Promise<void> {
  server ??= await startTestRedis();
  const prefix = `troupe-test:${crypto.randomUUID()}`;
  const backend = new RedisStreamBackend(server.url);
  const redis = new Redis(server.url);
  const anchor = `${prefix}:tx`;
  try {
    await use({ backend, redis, anchor, keys: scopeKeys(stateBase(anchor), scope) });
  } finally {
    const doomed = await redis.keys(`*${prefix}*`);
    if (doomed.length > 0) await redis.del(...doomed);
    redis.disconnect();
    await backend.close();
  }
}

test.skipIf(!redisAvailable())(
  "the Redis state store compresses what it stores, and restores the same state from log and base",
  () =>
    withStore(async ({ backend, redis, anchor, keys }) => {
      const store = backend.stateStore({ anchor, compactMinBytes: 50_000, compactRatio: 1 });
      const { epoch } = await store.restore(scope);
      const expected = new Map<string, string>();
      let written = 0;
      for (let round = 0; round < 12; round++) {
        const changes: (string | Uint8Array | null)[] = [];
        for (let i = 0; i < 2_000; i++) {
          // Wallet-like values: base58-ish keys, repeated field shapes.
          const key = `W${((round * 613 + i * 7919) % 9_000).toString(36).padStart(8, "x")}`;
          const value = `{"firstSeen":${1_700_000_000_000 + i},"funder":"F${i % 50}","events":${round + i}}`;
          changes.push("wallets", key, new TextEncoder().encode(value));
          expected.delete(key);
          expected.set(key, value);
        }
        const segments = seg(changes);
        written += segments[0]!.byteLength;
        await store.commit({ scope, epoch, segments, covers: [] });
      }
      // A tiny checkpoint gains nothing from compression and is stored as written.
      await store.commit({
        scope,
        epoch,
        segments: seg(["wallets", "tiny", new Uint8Array([1])]),
        covers: [],
      });
      expected.set("tiny", "\u0001");

      const stored = await redis.lrangeBuffer(keys.log, 0, -1);
      const compressed = stored.filter((v) => ZSTD_MAGIC.every((byte, i) => v[i] === byte));
      expect(compressed.length).toBeGreaterThan(0);
      expect(stored.at(-1)![0]).toBe(1); // the tiny one: a raw version-1 segment

      await store.idle();
      const base = await redis.hget(keys.meta, "base");
      expect(base).not.toBeNull();
      const chunks = await redis.lrangeBuffer(keys.base(base!), 0, -1);
      expect(chunks.every((v) => ZSTD_MAGIC.every((byte, i) => v[i] === byte))).toBe(true);
      const storedBytes =
        chunks.reduce((sum, v) => sum + v.byteLength, 0) +
        (await redis.lrangeBuffer(keys.log, 0, -1)).reduce((sum, v) => sum + v.byteLength, 0);
      expect(storedBytes).toBeLessThan(written / 2);

      const { chunks: restored } = await backend.stateStore({ anchor }).restore(scope);
      const wallets = (await replayed(restored)).tables.get("wallets")!;
      expect([...wallets].map(([key, value]) => [key, text(value)])).toEqual([...expected]);
    }),
);

test.skipIf(!redisAvailable())(
  "compaction sends no command from the main thread, and restores the same state",
  () =>
    withStore(async ({ backend, redis, anchor, keys }) => {
      const sent: string[] = [];
      const channel = diagnosticsChannel.tracingChannel("ioredis:command");
      const handlers = {
        start: (context: unknown) => {
          sent.push((context as { command: string }).command);
        },
      };
      channel.subscribe(handlers);
      const store = backend.stateStore({ anchor, compactMinBytes: 20_000, compactRatio: 1 });
      const expected = new Map<string, string>();
      try {
        const { epoch } = await store.restore(scope);
        for (let round = 0; round < 10; round++) {
          const changes: (string | Uint8Array | null)[] = [];
          for (let i = 0; i < 1_000; i++) {
            const key = `w${(round * 613 + i * 7) % 3_000}`;
            const value = `${round}:${i}:${"x".repeat(i % 40)}`;
            changes.push("wallets", key, new TextEncoder().encode(value));
            expected.delete(key);
            expected.set(key, value);
          }
          await store.commit({ scope, epoch, segments: seg(changes), covers: [] });
        }
        await store.idle();
      } finally {
        channel.unsubscribe(handlers);
      }
      expect(Number(await redis.hget(keys.meta, "compactions"))).toBeGreaterThan(0);
      // Commits and their staging writes only: no read of the log or a base (nor of the base's name).
      expect(sent).toContain("rpush");
      expect(sent.filter((command) => ["lrange", "llen", "hget"].includes(command))).toEqual([]);

      const wallets = (await replayed((await store.restore(scope)).chunks)).tables.get("wallets");
      expect(wallets?.size).toBe(expected.size);
      for (const [key, value] of expected) expect(text(wallets?.get(key))).toBe(value);
    }),
);

test.skipIf(!redisAvailable())(
  "a scope whose record was evicted starts from nothing: its leftover log is dropped, not replayed in part",
  () =>
    withStore(async ({ backend, redis, anchor, keys }) => {
      const store = backend.stateStore({ anchor });
      const { epoch } = await store.restore(scope);
      const one = new TextEncoder().encode("1");
      await store.commit({ scope, epoch, segments: seg(["wallets", "a", one]), covers: [] });
      expect(await redis.llen(keys.log)).toBe(1);
      // An evicting maxmemory-policy took the meta hash (and with it the base it named), not the log.
      await redis.del(keys.meta);
      const restarted = await store.restore(scope, epoch);
      expect(restarted.lost).toBe(true);
      expect((await replayed(restarted.chunks)).keys).toBe(0);
      expect(await redis.exists(keys.log)).toBe(0);
    }),
);

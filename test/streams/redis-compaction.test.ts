/**
 * The Redis state store's compaction runs whole on the compaction thread, over a connection of its own: the
 * main thread sends none of its commands (reading the base and the log, writing the new base, the swap),
 * which moved tens of megabytes through the main thread per compaction of an analyzer's state. The commands
 * a thread's ioredis clients send are seen on that thread's `ioredis:command` tracing channel.
 */
import { afterAll, expect, test } from "bun:test";
import diagnosticsChannel from "node:diagnostics_channel";
import Redis from "ioredis";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { scopeKeys, stateBase } from "../../src/streams/state-keys.ts";
import { redisAvailable, startTestRedis, type TestRedis } from "../support/redis-server.ts";
import { replayed, seg } from "../support/state.ts";

let server: TestRedis | null = null;
afterAll(async () => {
  await server?.close();
});

test.skipIf(!redisAvailable())(
  "compaction sends no command from the main thread, and restores the same state",
  async () => {
    server = await startTestRedis();
    const prefix = `troupe-test:${crypto.randomUUID()}`;
    const backend = new RedisStreamBackend(server.url);
    const redis = new Redis(server.url);
    const anchor = `${prefix}:tx`;
    const scope = { actor: "wallets", instance: 0 };
    const keys = scopeKeys(stateBase(anchor), scope);
    const sent: string[] = [];
    const channel = diagnosticsChannel.tracingChannel("ioredis:command");
    const handlers = {
      start: (context: unknown) => {
        sent.push((context as { command: string }).command);
      },
    };
    channel.subscribe(handlers);
    try {
      const store = backend.stateStore({ anchor, compactMinBytes: 20_000, compactRatio: 1 });
      const { epoch } = await store.restore(scope);
      const expected = new Map<string, string>();
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
      channel.unsubscribe(handlers);

      expect(Number(await redis.hget(keys.meta, "compactions"))).toBeGreaterThan(0);
      // Commits and their staging writes only: no read of the log or a base (nor of the base's name).
      expect(sent).toContain("rpush");
      expect(sent.filter((command) => ["lrange", "llen", "hget"].includes(command))).toEqual([]);

      const restored = await replayed((await store.restore(scope)).chunks);
      const wallets = restored.tables.get("wallets");
      expect(wallets?.size).toBe(expected.size);
      for (const [key, value] of expected) expect(new TextDecoder().decode(wallets?.get(key))).toBe(value);
    } finally {
      channel.unsubscribe(handlers);
      redis.disconnect();
      await backend.close();
    }
  },
);

/**
 * A member's presence on Redis (redis-leases.ts) is connections named after it: what the server drops when
 * the process dies. A connection dropped while the process lives (the server's `timeout`, an idle cut)
 * comes back within ioredis's first retry, and must not count as gone meanwhile.
 */
import { afterAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { membersKey, presenceName } from "../../src/streams/leases.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { redisAvailable, startTestRedis, type TestRedis } from "../support/redis-server.ts";
import { testPrefix } from "./harness.ts";

let redis: TestRedis | null = null;
afterAll(async () => {
  await redis?.close();
});

test.skipIf(!redisAvailable())(
  "a presence connection the server cut, back at ioredis's reconnect, is not taken for gone",
  async () => {
    redis = await startTestRedis();
    const key = membersKey(`${testPrefix()}:tx`, "g");
    const [one, two] = [new RedisStreamBackend(redis.url), new RedisStreamBackend(redis.url)];
    const admin = new Redis(redis.url, { protocol: 2 });
    try {
      const a = await one.leases().present(key, "a", () => {});
      await two.leases().present(key, "b", () => {});
      const list = String(await admin.call("CLIENT", "LIST", "TYPE", "normal"));
      const id = new RegExp(`^id=(\\d+) .* name=${presenceName(key, "b")} `, "m").exec(list)?.[1];
      expect(id).toBeDefined();
      await admin.call("CLIENT", "KILL", "ID", id as string);
      // Looked for at once, b is missing; looked for again before it counts as gone, it is back.
      expect(await a.departed(["b"])).toEqual([]);
      expect(String(await admin.call("CLIENT", "LIST", "TYPE", "normal"))).toContain(
        `name=${presenceName(key, "b")} `,
      );
      await two.close();
      expect(await a.departed(["b"])).toEqual(["b"]);
    } finally {
      admin.disconnect();
      await one.close();
      await two.close();
    }
  },
);

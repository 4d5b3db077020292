/**
 * A member's presence on Redis (redis-leases.ts) is connections named after it, which the server drops when
 * the process dies, recorded by place (the server's run id, the connection's client id) so the others look
 * those connections up alone. A connection dropped while the process lives (the server's `timeout`, an idle
 * cut) comes back within ioredis's first retry, recorded again, and must not count as gone meanwhile.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { membersKey, type Presence, presenceName, presenceRecordsKey } from "../../src/streams/leases.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import {
  redisAvailable,
  startPrivateRedis,
  startTestRedis,
  type TestRedis,
} from "../support/redis-server.ts";
import { testPrefix } from "./harness.ts";

let redis: TestRedis;
let admin: Redis;
beforeAll(async () => {
  if (!redisAvailable()) return;
  redis = await startTestRedis();
  admin = new Redis(redis.url, { protocol: 2 });
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.close();
});

/** The client id of the connection named `name` (the server's own list, by name). */
async function clientIdOf(name: string): Promise<string | undefined> {
  const list = String(await admin.call("CLIENT", "LIST", "TYPE", "normal"));
  return new RegExp(`^id=(\\d+) .* name=${name} `, "m").exec(list)?.[1];
}

async function runId(client = admin): Promise<string> {
  return /^run_id:(\w+)/m.exec(await client.info("server"))?.[1] as string;
}

interface Members {
  key: string;
  one: RedisStreamBackend;
  two: RedisStreamBackend;
  a: Presence;
  b: Presence;
}

/** Members "a" and "b" of a fresh members key, each present from a backend of its own (a process each). */
async function twoMembers(url: string, body: (members: Members) => Promise<void>): Promise<void> {
  const key = membersKey(`${testPrefix()}:tx`, "g");
  const [one, two] = [new RedisStreamBackend(url), new RedisStreamBackend(url)];
  try {
    const a = await one.leases().present(key, "a", 10_000, () => {});
    const b = await two.leases().present(key, "b", 10_000, () => {});
    await body({ key, one, two, a, b });
  } finally {
    await one.close();
    await two.close();
  }
}

/**
 * `presence.departed(members)` asked until it names `member` (the server drops a closed connection on its
 * own time), for 3 s at most: its last answer.
 */
async function untilGone(presence: Presence, members: string[], member: string): Promise<string[]> {
  const deadline = performance.now() + 3_000;
  let gone = await presence.departed(members);
  while (!gone.includes(member) && performance.now() < deadline) gone = await presence.departed(members);
  return gone;
}

test.skipIf(!redisAvailable())(
  "a presence connection the server cut, back at ioredis's reconnect, is not taken for gone",
  () =>
    twoMembers(redis.url, async ({ key, two, a }) => {
      const id = await clientIdOf(presenceName(key, "b"));
      expect(id).toBeDefined();
      await admin.call("CLIENT", "KILL", "ID", id as string);
      // Looked for at once, b is missing; looked for again before it counts as gone, it is back, recorded anew.
      expect(await a.departed(["b"])).toEqual([]);
      const again = await clientIdOf(presenceName(key, "b"));
      expect(again).not.toBe(id);
      expect(await admin.hget(presenceRecordsKey(key), "b")).toBe(`${await runId()}:${again}`);
      await two.close();
      expect(await a.departed(["b"])).toEqual(["b"]);
    }),
);

test.skipIf(!redisAvailable())(
  "a connection under a member's name is not its presence unless recorded as one",
  () =>
    twoMembers(redis.url, async ({ key, two, a }) => {
      // What a check by name alone would take for b: a connection of that name that b never recorded (a
      // process restarted under b's name and not yet present, say).
      const namesake = new Redis(redis.url, { protocol: 2, connectionName: presenceName(key, "b") });
      try {
        await namesake.ping();
        expect(await a.departed(["b"])).toEqual([]);
        await two.close();
        expect(await clientIdOf(presenceName(key, "b"))).toBeDefined();
        expect(await a.departed(["b"])).toEqual(["b"]);
      } finally {
        namesake.disconnect();
      }
    }),
);

test.skipIf(!redisAvailable())(
  "a member's record is written with its heartbeats and dropped when it leaves or expires",
  async () => {
    const key = membersKey(`${testPrefix()}:tx`, "g");
    const records = presenceRecordsKey(key);
    const backend = new RedisStreamBackend(redis.url);
    try {
      const leases = backend.leases();
      await leases.present(key, "a", 10_000, () => {});
      await leases.present(key, "b", 10_000, () => {});
      const a = `${await runId()}:${await clientIdOf(presenceName(key, "a"))}`;
      expect(await admin.hget(records, "a")).toBe(a);
      // Deleted behind its back (a member that expired and came back): its next heartbeat writes it again.
      await admin.hdel(records, "a");
      await leases.heartbeat(key, "a", 60_000);
      expect(await admin.hget(records, "a")).toBe(a);
      await leases.leave(key, "a");
      expect(await admin.hget(records, "a")).toBeNull();
      await leases.heartbeat(key, "b", 1);
      await Bun.sleep(5);
      // Any heartbeat drops the expired members with their records.
      expect(await leases.heartbeat(key, "c", 60_000)).toEqual(["c"]);
      expect(await admin.hkeys(records)).toEqual([]);
    } finally {
      await backend.close();
    }
  },
);

test.skipIf(!redisAvailable())(
  "where an ACL refuses CLIENT, members are still present and nobody is taken for gone",
  async () => {
    const own = await startPrivateRedis();
    const root = new Redis(own.url, { protocol: 2 });
    try {
      await root.call("ACL", "SETUSER", "limited", "on", ">pw", "~*", "&*", "+@all", "-client");
      const limited = new URL(own.url);
      limited.username = "limited";
      limited.password = "pw";
      await twoMembers(limited.toString(), async ({ key, one, a }) => {
        // Both joined as they became present.
        expect(await one.leases().heartbeat(key, "a", 60_000)).toEqual(["a", "b"]);
        expect(await a.departed(["b", "c"])).toEqual([]);
        // What it records says it cannot be looked up: a member that can is not to take it for gone either.
        expect(await root.hget(presenceRecordsKey(key), "a")).toMatch(/^\?/);
      });
    } finally {
      root.disconnect();
      await own.close();
    }
  },
);

test.skipIf(!redisAvailable())(
  "where an ACL refuses CLIENT, a name is refused while its member renews its membership, and free once that lapses",
  async () => {
    const own = await startPrivateRedis();
    const root = new Redis(own.url, { protocol: 2 });
    const limited = new URL(own.url);
    limited.username = "limited";
    limited.password = "pw";
    const key = membersKey(`${testPrefix()}:tx`, "g");
    const inUse = { code: "ERR_MEMBER_IN_USE" };
    const ttlMs = 600;
    let renewing: ReturnType<typeof setInterval> | undefined;
    try {
      await root.call("ACL", "SETUSER", "limited", "on", ">pw", "~*", "&*", "+@all", "-client");
      const [one, two] = [
        new RedisStreamBackend(limited.toString()),
        new RedisStreamBackend(limited.toString()),
      ];
      try {
        await one.leases().present(key, "a", ttlMs, () => {});
        // Renewed as a running ownership renews it (every renewMs, below half the ttl).
        renewing = setInterval(
          () =>
            void one
              .leases()
              .heartbeat(key, "a", ttlMs)
              .catch(() => {}),
          150,
        );
        // Neither can look the other's connections up: before, the second took the name at once, and two
        // processes held the same leases.
        await expect(two.leases().present(key, "a", ttlMs, () => {})).rejects.toMatchObject(inUse);
        // The first process dies (no leave): its membership lapses, and the name is free.
        clearInterval(renewing);
        await one.close();
        const second = await two.leases().present(key, "a", ttlMs, () => {});
        expect(await root.zrange(key, "0", "-1")).toEqual(["a"]);
        await second.close();
      } finally {
        clearInterval(renewing);
        await one.close();
        await two.close();
      }
    } finally {
      root.disconnect();
      await own.close();
    }
  },
);

test.skipIf(!redisAvailable())(
  "after a restart with its data (AOF), a record naming the old server is unknown, not gone, until renewed",
  async () => {
    const own = await startPrivateRedis({ appendonly: true, appendfsync: "always" });
    const root = new Redis(own.url, { protocol: 2 });
    try {
      await twoMembers(own.url, async ({ key, two, a }) => {
        const records = presenceRecordsKey(key);
        const before = (await root.hget(records, "b")) as string;
        await own.server!.restart();
        const runIdNow = await runId(root);
        // Both reconnect and record their new places (no event says so: asked until they have).
        const renewed = async (member: string) =>
          (await root.hget(records, member))?.startsWith(`${runIdNow}:`);
        while (!(await renewed("a")) || !(await renewed("b"))) await Bun.sleep(5);
        // b's record as the AOF gave it back, before b recorded anew: the old server's run id, no server's now.
        await root.hset(records, "b", before);
        expect(await a.departed(["b"])).toEqual([]);
        await two.leases().heartbeat(key, "b", 60_000);
        expect(await renewed("b")).toBe(true);
        expect(await a.departed(["b"])).toEqual([]);
        await two.close();
        expect(await untilGone(a, ["b"], "b")).toEqual(["b"]);
      });
    } finally {
      root.disconnect();
      await own.close();
    }
  },
);

test.skipIf(!redisAvailable())(
  "a record with a client id Redis would refuse does not hide the members that are gone",
  () =>
    twoMembers(redis.url, async ({ key, two, a }) => {
      await two.close();
      // Past 2^63 and with leading zeros: CLIENT LIST ID refuses either, for the whole call.
      for (const id of ["9223372036854775808", "18446744073709551616", "00000000000000000000001", "0"]) {
        await admin.hset(presenceRecordsKey(key), "junk", `${await runId()}:${id}`);
        expect(await untilGone(a, ["junk", "b"], "b")).toEqual(["junk", "b"]);
      }
    }),
);

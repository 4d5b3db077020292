/**
 * Redis-only behaviour that needs a private redis-server to break: a stalled server (SIGSTOP) trips
 * the blocking-read watchdog, a destroyed group (as after a restart without persistence) is recreated,
 * and a pump still starts while Redis refuses writes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import Redis from "ioredis";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import type { Output } from "../../src/streams/outputs.ts";
import { Pump } from "../../src/streams/pump.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { RedisServer, redisAvailable, redisServerInstalled } from "../support/redis-server.ts";
import { deleteKeys, testPrefix } from "./harness.ts";
import { TestTarget, until } from "./test-target.ts";

// A test that times out has bun 1.4.5 kill every process the file spawned (its private redis-server too),
// so one slow test on a loaded box fails the rest of the file: 30 s each, not bun's 5 s.
setDefaultTimeout(30_000);

const canRun = redisAvailable() && redisServerInstalled();

describe.skipIf(!canRun)("redis backend under faults (private server)", () => {
  let server: RedisServer;
  let admin: Redis;
  let backend: RedisStreamBackend;
  let prefix: string;
  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.url, { protocol: 2 });
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.cleanup();
  });
  afterEach(async () => {
    await server.kill("SIGCONT");
    await admin.config("SET", "maxmemory", "0");
    await backend?.close();
    await deleteKeys(server.url, prefix);
  });
  const open = () => {
    prefix = testPrefix();
    backend = new RedisStreamBackend(server.url, { readWatchdogGraceMs: 200 });
    return `${prefix}:tx`;
  };

  test("a blocking read on a stalled Redis fails with ERR_READ_STALLED; nothing it took is lost", async () => {
    const s = open();
    await backend.ensureGroup(s, "g");
    await backend.readNew(s, "g", "c", { count: 1, blockMs: 10 });
    await server.kill("SIGSTOP");
    const started = Date.now();
    const error = await backend.readNew(s, "g", "c", { count: 1, blockMs: 100 }).catch((e) => e);
    expect(error.code).toBe("ERR_READ_STALLED");
    expect(error.message).toBe("XREADGROUP BLOCK 100 got no reply in 300 ms");
    expect(Date.now() - started).toBeLessThan(2_000);
    await server.kill("SIGCONT");
    const id = await backend.append(s, { n: "1" });
    // The abandoned read may still run once Redis wakes and take the entry into c's pending list:
    // the entry is then in c's history (why the pump replays its history after a stalled read).
    const fresh = await backend.readNew(s, "g", "c", { count: 1, blockMs: 100 });
    const history = await backend.readPending(s, "g", "c", { count: 10 });
    expect([...fresh, ...history].map((e) => e.id)).toContain(id);
  });

  test("a pump reports a stalled read, replays its history and goes on once Redis is back", async () => {
    const s = open();
    const handled: number[] = [];
    const target = new TestTarget<{ n: number }, Output[]>({
      instances: 1,
      window: 8,
      key: () => "k",
      handler: async (m) => {
        handled.push(m.n);
        return [];
      },
    });
    // The abandoned read may still deliver into our pending list after the replay: the own-consumer
    // claim sweep is the net for that, so it runs here too.
    const pump = new Pump(backend, target, {
      stream: s,
      group: "g",
      blockMs: 100,
      retryMinMs: 10,
      claimIdleMs: 200,
      sweepIntervalMs: 100,
    });
    try {
      const replayed = new Promise((resolve) => pump.on("replayed", resolve));
      await pump.start();
      await replayed;
      const stalled = new Promise<{ error: { code: string } }>((resolve) => pump.on("readFailed", resolve));
      await server.kill("SIGSTOP");
      expect((await stalled).error.code).toBe("ERR_READ_STALLED");
      expect(pump.stats.readErrors).toBeGreaterThanOrEqual(1);
      await server.kill("SIGCONT");
      await admin.xadd(s, "*", "d", Buffer.from(defaultCodec.encode({ n: 1 }).d as Uint8Array));
      await until(
        (check) => pump.on("acked", check),
        () => pump.stats.acked >= 1,
      );
      expect(handled).toEqual([1]);
    } finally {
      await pump.stop();
    }
  });

  test("a destroyed group is recreated and reported; redelivered entries write no second output", async () => {
    const s = open();
    const out = `${prefix}:alerts`;
    const target = new TestTarget<{ n: number }, Output[]>({
      instances: 1,
      window: 8,
      key: () => "k",
      handler: async (m) => [{ stream: out, dedupId: "effect", payload: m }],
    });
    const pump = new Pump(backend, target, {
      stream: s,
      group: "g",
      blockMs: 50,
      retryMinMs: 10,
      sweepIntervalMs: 0,
    });
    const acked = (n: number) =>
      until(
        (check) => pump.on("acked", check),
        () => pump.stats.acked >= n,
      );
    try {
      await pump.start();
      await backend.appendBatch(s, [defaultCodec.encode({ n: 1 }), defaultCodec.encode({ n: 2 })]);
      await acked(2);
      const recreated = new Promise((resolve) => pump.on("groupRecreated", resolve));
      await admin.xgroup("DESTROY", s, "g");
      await recreated;
      await acked(4);
      expect(await backend.length(out)).toBe(2);
      expect(await backend.pending(s, "g", { count: 10 })).toEqual([]);
    } finally {
      await pump.stop();
    }
  });

  test("ensureGroup succeeds for an existing group while Redis refuses writes (out of memory)", async () => {
    const s = open();
    expect(await backend.ensureGroup(s, "g")).toBe(true);
    await admin.config("SET", "maxmemory", "1");
    expect(await backend.ensureGroup(s, "g")).toBe(false);
    const error = await backend.ensureGroup(`${prefix}:other`, "g").catch((e) => e);
    expect(error.code).toBe("ERR_STREAM_BACKEND");
    expect(error.message).toStartWith("redis: OOM");
  });
});

describe.skipIf(!canRun)("closing a backend", () => {
  for (const signal of ["SIGKILL", "SIGSTOP"] as const)
    test(`whose Redis is gone (${signal}) takes no command timeout (a spec test waited ~5 s for a QUIT nobody answered)`, async () => {
      const server = await RedisServer.start();
      try {
        const backend = new RedisStreamBackend(server.url, { commandTimeoutMs: 5_000 });
        await backend.ensureGroup(`${testPrefix()}:s`, "g");
        await server.kill(signal);
        const started = performance.now();
        await backend.close();
        expect(performance.now() - started).toBeLessThan(1_500);
      } finally {
        await server.kill("SIGCONT");
        await server.cleanup();
      }
    });
});

describe.skipIf(!canRun)("private redis-server helper", () => {
  test("restarts on the same port; AOF (appendfsync always) survives SIGKILL, no persistence does not", async () => {
    const durable = await RedisServer.start({ appendonly: true, appendfsync: "always" });
    const volatile = await RedisServer.start({ maxmemory: "64mb", enableDebugCommand: true });
    try {
      for (const server of [durable, volatile]) {
        const client = new Redis(server.url, { protocol: 2, maxRetriesPerRequest: 0, lazyConnect: true });
        await client.connect();
        await client.xadd("s", "*", "n", "1");
        client.disconnect();
        const port = server.port;
        await server.kill("SIGKILL");
        expect(server.running).toBe(false);
        await server.restart();
        expect([server.port, server.running]).toEqual([port, true]);
      }
      const lengths = await Promise.all(
        [durable, volatile].map(async (server) => {
          const client = new Redis(server.url, { protocol: 2 });
          try {
            return await client.xlen("s");
          } finally {
            client.disconnect();
          }
        }),
      );
      expect(lengths).toEqual([1, 0]);
    } finally {
      await durable.cleanup();
      await volatile.cleanup();
    }
  });
});

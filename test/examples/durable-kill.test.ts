/**
 * The README's kill -9 example (examples/durable/stream-counts.ts) as a real process on a real Redis: it is
 * SIGKILLed while it counts, started again, and the counts it leaves in its checkpoints are exactly the
 * entries' keys, each counted once.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { valueCodec } from "../../src/index.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { ChildOutput } from "../support/child-output.ts";
import { redisAvailable, startTestRedis, type TestRedis } from "../support/redis-server.ts";
import { replayed } from "../support/state.ts";

const EXAMPLE = new URL("../../examples/durable/stream-counts.ts", import.meta.url).pathname;
let redis: TestRedis;
let backend: RedisStreamBackend;

beforeAll(async () => {
  redis = await startTestRedis();
  backend = new RedisStreamBackend(redis.url);
});
afterAll(async () => {
  await backend.close();
  await redis.close();
});

function counter(stream: string) {
  const child = Bun.spawn(["bun", EXAMPLE, stream], {
    env: { ...process.env, REDIS_URL: redis.url },
    stdout: "pipe",
    stderr: "inherit",
  });
  return { child, output: new ChildOutput(child.stdout) };
}

/** Resolves once the group has read `atLeast` entries and holds none unacked past `settled`. */
async function progressed(stream: string, until: (read: number, pending: number) => boolean) {
  for (;;) {
    const info = await backend.groupInfo(stream, "counts");
    if (info && info.lag !== null && until(info.length - info.lag, info.pending)) return;
    // Polling the group is the only view a test has of another process's progress.
    await Bun.sleep(20);
  }
}

test.skipIf(!redisAvailable())(
  "per-key counters fed from a Redis stream survive kill -9",
  async () => {
    const stream = `troupe-test-durable:${crypto.randomUUID()}:events`;
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${(i * 7) % 53}`);
    for (let i = 0; i < keys.length; i += 1000)
      await backend.appendBatch(
        stream,
        keys.slice(i, i + 1000).map((key) => defaultCodec.encode({ key })),
      );

    const first = counter(stream);
    await first.output.waitFor(/counting/);
    await progressed(stream, (read) => read >= 5_000);
    first.child.kill("SIGKILL");
    await first.child.exited;

    const second = counter(stream);
    await second.output.waitFor(/counting/);
    await progressed(stream, (read, pending) => read === keys.length && pending === 0);
    second.child.kill("SIGTERM");
    expect(await second.child.exited).toBe(0);

    const expected: Record<string, number> = {};
    for (const key of keys) expected[key] = (expected[key] ?? 0) + 1;
    const counts: Record<string, number> = {};
    const restored = await backend.stateStore({ anchor: stream }).restore({ actor: "counts", instance: 0 });
    for (const [key, value] of (await replayed(restored.chunks)).tables.get("counts") ?? [])
      counts[key] = valueCodec.decode(value) as number;
    expect(counts).toEqual(expected);
    const client = new Redis(redis.url);
    for (const pattern of [`${stream}*`, `{${stream}}*`]) {
      const found = await client.keys(pattern);
      if (found.length > 0) await client.del(...found);
    }
    client.disconnect();
  },
  60_000,
);

/**
 * `bun run start` split across processes on one Redis: an ingest process replays a recording into the tx
 * stream, an analyze process consumes it, and the alerts appear in the alerts stream.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { ChildOutput } from "../support/child-output.ts";
import { redisAvailable, startTestRedis, type TestRedis } from "../support/redis-server.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURE = new URL("../fixtures/pumpportal/sample.jsonl", import.meta.url).pathname;
let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.close();
});

function start(role: "ingest" | "analyze", prefix: string, extra: string[] = []) {
  return Bun.spawn(["bun", "src/main.ts", "--role", role, ...extra], {
    cwd: ROOT,
    env: {
      ...process.env,
      REDIS_URL: redis.url,
      TROUPE_STREAM_PREFIX: prefix,
      TROUPE_HTTP_PORT: "0",
      TROUPE_CONSUMER: `${role}-1`,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
}

test.skipIf(!redisAvailable())(
  "an ingest process and an analyze process share one Redis",
  async () => {
    const prefix = `troupe-test-roles:${crypto.randomUUID()}:`;
    const analyzer = start("analyze", prefix);
    const analyzerLog = new ChildOutput(analyzer.stderr);
    await analyzerLog.waitFor(/control API/);
    const ingest = start("ingest", prefix, ["--replay", FIXTURE]);
    const ingestLog = new ChildOutput(ingest.stderr);
    await ingestLog.waitFor(/replay of .* done: [\d,]+ lines read, [\d,]+ events in, 0 rejected/);

    const client = new Redis(redis.url);
    try {
      // Block on the alerts stream until the three alerts of the recording are there (no polling sleeps).
      let seen = 0;
      let last = "0";
      while (seen < 3) {
        const reply = (await client.xread("BLOCK", 5000, "STREAMS", `${prefix}alerts`, last)) as Array<
          [string, Array<[string, string[]]>]
        > | null;
        if (!reply) break;
        for (const [, entries] of reply) {
          seen += entries.length;
          last = entries.at(-1)?.[0] ?? last;
        }
      }
      expect(seen).toBe(3);
    } finally {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
      client.disconnect();
    }
    for (const child of [ingest, analyzer]) child.kill("SIGTERM");
    expect(await ingest.exited).toBe(0);
    expect(await analyzer.exited).toBe(0);
    await analyzerLog.rest();
    expect(analyzerLog.text).toContain("role analyze, redis backend, consumer analyze-1");
  },
  30_000,
);

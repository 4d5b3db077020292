/**
 * `bun run start` on Redis: an unreachable server is named at once, a restart leaves no consumer behind, and
 * a partition count other than the stream's stops the process at start.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { USAGE_EXIT_CODE } from "../src/command-line.ts";
import { PartitionedStream } from "../src/streams/partitions.ts";
import { RedisStreamBackend } from "../src/streams/redis-backend.ts";
import { ChildOutput } from "./support/child-output.ts";
import { reaper } from "./support/reaper.ts";
import { freePort, redisServerInstalled, startPrivateRedis, type TestRedis } from "./support/redis-server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const track = reaper();

test.each([
  ["start", "src/main.ts"],
  ["eval", "src/eval/main.ts"],
])(
  "bun run %s with an unreachable REDIS_URL: host, port and 'connection refused' within two seconds, exit 1",
  async (_, script) => {
    const port = await freePort();
    const started = performance.now();
    const child = track(
      Bun.spawn(["bun", script], {
        cwd: ROOT,
        env: { ...process.env, TROUPE_HTTP_PORT: "0", REDIS_URL: `redis://127.0.0.1:${port}` },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    // The process's own start (Bun, the imports) is part of the wait a user sees.
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `redis at 127.0.0.1:${port} (REDIS_URL): connection refused (is redis-server running on that port?)\n`,
    );
  },
);

describe.skipIf(!redisServerInstalled())("analyze processes on a private Redis", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  /** `bun run start --role <role>` on the private Redis, under `prefix`, with `env` on top. */
  function startProcess(role: "analyze" | "ingest", prefix: string, env: Record<string, string | undefined>) {
    return track(
      Bun.spawn(["bun", "src/main.ts", "--role", role], {
        cwd: ROOT,
        env: {
          ...process.env,
          TROUPE_HTTP_PORT: "0",
          REDIS_URL: redis.url,
          TROUPE_STREAM_PREFIX: prefix,
          ...env,
        },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
  }

  /** Starts an analyze process with the default consumer name, waits until it serves, stops it. */
  async function startAndStop(prefix: string): Promise<string> {
    const child = startProcess("analyze", prefix, { TROUPE_CONSUMER: undefined });
    const stderr = new ChildOutput(child.stderr);
    const banner = await stderr.waitFor(/consumer (\S+),/);
    child.kill("SIGTERM");
    await stderr.rest();
    expect(await child.exited).toBe(0);
    return /consumer (\S+),/.exec(banner)?.[1] as string;
  }

  test("three restarts with the default name: one consumer per group, the same one", async () => {
    const prefix = `restarts-${crypto.randomUUID()}:`;
    const names = [await startAndStop(prefix), await startAndStop(prefix), await startAndStop(prefix)];
    const [name] = new Set(names);
    expect(names).toEqual([name, name, name] as string[]);
    const backend = new RedisStreamBackend(redis.url);
    try {
      for (const stream of [`${prefix}tx`, `${prefix}findings`]) {
        const groups = await backend.groups(stream);
        expect(groups.length).toBeGreaterThan(0);
        for (const group of groups)
          expect((await backend.consumers(stream, group.name)).map((c) => c.name)).toEqual([name as string]);
      }
    } finally {
      await backend.close();
    }
  }, 60_000);

  test("an ingest process started again goes on with the synthetic traffic where it stopped: no event id twice", async () => {
    const prefix = `generator-${crypto.randomUUID()}:`;
    const backend = new RedisStreamBackend(redis.url);
    // Past the newest 10,000 entries a writer remembers at its start: before the generator's mark, the
    // second run wrote its seed's first hour again.
    const ingestUntil = async (length: number) => {
      const child = startProcess("ingest", prefix, { TROUPE_RATE: "20000" });
      const stderr = new ChildOutput(child.stderr);
      await stderr.waitFor(/control API/);
      for (let polls = 0; (await backend.length(`${prefix}tx`)) < length; polls++) {
        expect(polls).toBeLessThan(3_000);
        await Bun.sleep(10);
      }
      child.kill("SIGINT");
      await stderr.rest();
      expect(await child.exited).toBe(0);
      return stderr.text;
    };
    try {
      expect(await ingestUntil(12_000)).not.toContain("earlier run");
      const first = await backend.length(`${prefix}tx`);
      const second = await ingestUntil(first + 12_000);
      const ids = (await backend.range(`${prefix}tx`, { count: 100_000 })).map(
        (entry) => (JSON.parse(String(entry.fields?.json)) as { id: string }).id,
      );
      expect(ids.length).toBeGreaterThanOrEqual(first + 12_000);
      expect(new Set(ids).size).toBe(ids.length);
      expect(second).toMatch(
        /generator \(seed 1\): an earlier run wrote its hour 0 up to event [\d,]+; going on after it\n/,
      );
    } finally {
      await backend.close();
    }
  }, 60_000);

  test("a process started with another partition count than the stream's stops at once, naming the setting", async () => {
    const prefix = `partitions-${crypto.randomUUID()}:`;
    const backend = new RedisStreamBackend(redis.url);
    try {
      await PartitionedStream.open(backend, `${prefix}tx:mint`, { partitions: 4 });
    } finally {
      await backend.close();
    }
    const child = startProcess("analyze", prefix, { TROUPE_PARTITIONS: "2" });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(USAGE_EXIT_CODE);
    expect(stderr).toContain(`TROUPE_PARTITIONS=2: partitions: stream "${prefix}tx:mint" was created with 4`);
  }, 30_000);

  test("partitions on a prefix analyzed without them stop the process at once, naming the setting and the group nothing would read", async () => {
    const prefix = `unkeyed-${crypto.randomUUID()}:`;
    const backend = new RedisStreamBackend(redis.url);
    try {
      // What a run without partitions leaves: the pattern analyzer's group on the tx stream.
      await backend.ensureGroup(`${prefix}tx`, "pattern-recognition");
      const child = startProcess("analyze", prefix, { TROUPE_PARTITIONS: "2" });
      const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
      expect(code).toBe(USAGE_EXIT_CODE);
      expect(stderr).toContain(
        `TROUPE_PARTITIONS=2: stream "${prefix}tx" has the group "pattern-recognition"`,
      );
      // Refused before the keyed stream was created: another count is still free to choose.
      expect(await backend.fixPartitions(`${prefix}tx:mint`, 3)).toBe(3);
    } finally {
      await backend.close();
    }
  }, 30_000);

  test("no partitions on a prefix created with them stop the process at once, naming the setting and the count", async () => {
    const prefix = `keyed-${crypto.randomUUID()}:`;
    const backend = new RedisStreamBackend(redis.url);
    try {
      // What a keyed run leaves, an ingest process's included: the mint stream's stored count.
      await PartitionedStream.open(backend, `${prefix}tx:mint`, { partitions: 8 });
      const child = startProcess("analyze", prefix, {});
      const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
      // It ran: the pattern analyzer's group it made then refused every keyed process after it.
      expect(code).toBe(USAGE_EXIT_CODE);
      expect(stderr).toContain(
        `TROUPE_PARTITIONS unset: stream "${prefix}tx:mint" was created with 8 partitions by a run with TROUPE_PARTITIONS=8`,
      );
      expect((await backend.groups(`${prefix}tx`)).map((g) => g.name)).not.toContain("pattern-recognition");
    } finally {
      await backend.close();
    }
  }, 30_000);
});

describe.skipIf(!redisServerInstalled())("bun run start on a Redis restarted without persistence", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  test("each analyzer says its state is gone, restarts from what Redis holds, and goes on", async () => {
    const child = track(
      Bun.spawn(["bun", "src/main.ts"], {
        cwd: ROOT,
        env: {
          ...process.env,
          TROUPE_HTTP_PORT: "0",
          TROUPE_RATE: "2000",
          REDIS_URL: redis.url,
          TROUPE_STREAM_PREFIX: `troupe-test:${crypto.randomUUID()}:`,
          TROUPE_CHECKPOINT_MS: "200",
        },
        stdout: "ignore",
        stderr: "pipe",
      }),
    );
    const stderr = new ChildOutput(child.stderr);
    // Within the test's time, or a failure that shows what the process said (the analyzers once came in
    // the order their leases were taken, which this pattern did not match).
    const within = <T>(wait: Promise<T>, what: string) =>
      Promise.race([
        wait,
        Bun.sleep(18_000).then(() => {
          throw new Error(`no ${what} in 18 s; stderr:\n${stderr.text.replace(/\r/g, "\n").slice(-6000)}`);
        }),
      ]);
    const flowing =
      /wallet-analyzer [1-9]\d*\/s .*pattern-recognition [1-9]\d*\/s .*sybil-detection [1-9]\d*\/s/;
    await within(stderr.waitFor(flowing), "analyzers flowing");
    const server = redis.server as NonNullable<TestRedis["server"]>;
    await server.kill("SIGKILL");
    await server.restart();
    const lost = (actor: string) => `${actor}#0: Redis holds no record of its state`;
    const analyzers = ["wallet-analyzer", "pattern-recognition", "sybil-detection"];
    await within(
      stderr.waitUntil((text) => analyzers.every((a) => text.includes(lost(a))), "the three notes"),
      "three notes",
    );
    const after = stderr.text.length;
    await within(
      stderr.waitUntil((text) => flowing.test(text.slice(after)), "the analyzers flowing again"),
      "flow again",
    );
    child.kill("SIGTERM");
    await stderr.rest();
    expect(await child.exited).toBe(0);
  }, 60_000);
});

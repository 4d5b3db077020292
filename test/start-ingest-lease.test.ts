/**
 * `bun run start --role ingest` twice on one prefix: one writes the tx stream, the other stands by and
 * takes the writing over when the first stops or dies, going on from the source's mark. Before the lease,
 * two processes replaying one recording each wrote every event (5 alerts more than one process, a spec test).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate } from "../src/ingest/generator.ts";
import { topology } from "../src/scanner/topology.ts";
import { RedisStreamBackend } from "../src/streams/redis-backend.ts";
import { ChildOutput } from "./support/child-output.ts";
import { reaper } from "./support/reaper.ts";
import { redisServerInstalled, startPrivateRedis, type TestRedis } from "./support/redis-server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const track = reaper();
const STANDING_BY = /another ingest process writes \S+: standing by|no longer writes \S+ \(rebalance/;

describe.skipIf(!redisServerInstalled())("ingest processes on one tx stream", () => {
  let redis: TestRedis;
  let dir: string;
  let file: string;
  let events: { id: string }[];
  beforeAll(async () => {
    redis = await startPrivateRedis();
    dir = await mkdtemp(join(tmpdir(), "troupe-ingest-lease-"));
    file = join(dir, "recording.jsonl");
    events = [...generate({ seed: 8, maxEvents: 150_000 }).events()];
    await Bun.write(file, `${events.map((e) => JSON.stringify(e)).join("\n")}\n`);
  });
  afterAll(async () => {
    await redis?.close();
    await rm(dir, { recursive: true, force: true });
  });

  function ingest(prefix: string) {
    const child = track(
      Bun.spawn(["bun", "src/main.ts", "--role", "ingest", "--replay", file], {
        cwd: ROOT,
        env: {
          ...process.env,
          TROUPE_HTTP_PORT: "0",
          REDIS_URL: redis.url,
          TROUPE_STREAM_PREFIX: prefix,
          TROUPE_ALERTS_FILE: "",
        },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    return { child, stderr: new ChildOutput(child.stderr) };
  }

  /** The event ids in the tx stream, in order, ticks left out. */
  async function written(backend: RedisStreamBackend, prefix: string): Promise<string[]> {
    const entries = await backend.range(topology(prefix).tx, { count: 1_000_000 });
    return entries
      .map((entry) => JSON.parse(String(entry.fields?.json)) as { kind: string; id?: string })
      .filter((event) => event.kind !== "tick")
      .map((event) => event.id as string);
  }

  test("two at once: one writes, the other stands by; both end, and each event is written once, in order", async () => {
    const prefix = `lease-both-${crypto.randomUUID()}:`;
    const backend = new RedisStreamBackend(redis.url);
    try {
      const [a, b] = [ingest(prefix), ingest(prefix)];
      const [textA, textB] = await Promise.all([a.stderr.rest(), b.stderr.rest()]);
      expect([await a.child.exited, await b.child.exited]).toEqual([0, 0]);
      expect(await written(backend, prefix)).toEqual(events.map((e) => e.id));
      // One of them stood by at some point (at its start, or when the other joined and took the writing).
      expect(STANDING_BY.test(textA) || STANDING_BY.test(textB)).toBe(true);
    } finally {
      await backend.close();
    }
  }, 90_000);

  test("the writer SIGKILLed mid-file: the one standing by takes over from the mark; each event once, in order", async () => {
    const prefix = `lease-kill-${crypto.randomUUID()}:`;
    const backend = new RedisStreamBackend(redis.url);
    try {
      const processes = [ingest(prefix), ingest(prefix)];
      // Which one stands by once both are up: the one whose last word on the lease is that it stands by.
      const standsBy = (text: string) => {
        const by = text.lastIndexOf("standing by");
        return by >= 0 && !text.slice(by).includes("from now");
      };
      await Promise.race(processes.map(({ stderr }) => stderr.waitFor(STANDING_BY)));
      for (let polls = 0; (await backend.length(topology(prefix).tx)) < 20_000; polls++) {
        expect(polls).toBeLessThan(3_000);
        await Bun.sleep(10);
      }
      const writer = processes.find(({ stderr }) => !standsBy(stderr.text));
      const standby = processes.find(({ stderr }) => standsBy(stderr.text));
      expect(writer).toBeDefined();
      expect(standby).toBeDefined();
      writer?.child.kill("SIGKILL");
      await writer?.child.exited;
      expect(await backend.length(topology(prefix).tx)).toBeLessThan(events.length);
      const text = await standby?.stderr.rest();
      expect(await standby?.child.exited).toBe(0);
      expect(text).toMatch(/ingest writes \S+ from now \(lease generation \d+\)/);
      expect(text).toMatch(/replay of \S+: an earlier run wrote it up to line [\d,]+; going on after it/);
      expect(await written(backend, prefix)).toEqual(events.map((e) => e.id));
    } finally {
      await backend.close();
    }
  }, 90_000);
});

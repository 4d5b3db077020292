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
import { writeRecording } from "./support/recording.ts";
import { redisServerInstalled, startPrivateRedis, type TestRedis } from "./support/redis-server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const track = reaper();
const STANDING_BY = /another ingest process writes \S+: standing by to take over when it stops or dies\n/;

describe.skipIf(!redisServerInstalled())("ingest processes on one tx stream", () => {
  let redis: TestRedis;
  let dir: string;
  let file: string;
  let events: { id: string }[];
  beforeAll(async () => {
    redis = await startPrivateRedis();
    dir = await mkdtemp(join(tmpdir(), "troupe-ingest-lease-"));
    file = join(dir, "recording.jsonl");
    events = await writeRecording(file, 8, 150_000);
  }, 30_000);
  afterAll(async () => {
    await redis?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** `--role ingest` on `prefix`: the recording, or with `source` null the live generator (20,000 events/s). */
  function ingest(prefix: string, source: string[] | null = ["--replay", file]) {
    const child = track(
      Bun.spawn(["bun", "src/main.ts", "--role", "ingest", ...(source ?? [])], {
        cwd: ROOT,
        env: {
          ...process.env,
          TROUPE_HTTP_PORT: "0",
          REDIS_URL: redis.url,
          TROUPE_STREAM_PREFIX: prefix,
          TROUPE_ALERTS_FILE: "",
          TROUPE_RATE: "20000",
        },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    return { child, stderr: new ChildOutput(child.stderr) };
  }

  /** `troupe_ingest_writer` on the control API of the process whose stderr so far is `text`. */
  async function writerGauge(text: string): Promise<number> {
    const url = /control API (\S+)/.exec(text)?.[1] as string;
    const exposition = await (await fetch(new URL("metrics", url))).text();
    return Number(/^troupe_ingest_writer (\d)$/m.exec(exposition)?.[1]);
  }

  /** Resolves once the tx stream holds `count` entries (polled: the writer's progress is in Redis). */
  async function untilLength(backend: RedisStreamBackend, prefix: string, count: number): Promise<void> {
    for (let polls = 0; (await backend.length(topology(prefix).tx)) < count; polls++) {
      expect(polls).toBeLessThan(3_000);
      await Bun.sleep(1);
    }
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
      // One stood by, then (the recording written, the writer gone) took over and found nothing left.
      expect([STANDING_BY.test(textA), STANDING_BY.test(textB)].sort()).toEqual([false, true]);
    } finally {
      await backend.close();
    }
  }, 90_000);

  test("the writer SIGKILLed mid-file: the one standing by takes over from the mark; each event once, in order", async () => {
    const prefix = `lease-kill-${crypto.randomUUID()}:`;
    const backend = new RedisStreamBackend(redis.url);
    try {
      const writer = ingest(prefix);
      await writer.stderr.waitFor(/control API/);
      await untilLength(backend, prefix, 10_000);
      // A process that joins stands by: the lease stays with the writer.
      const standby = ingest(prefix);
      await standby.stderr.waitFor(STANDING_BY);
      writer.child.kill("SIGKILL");
      await writer.child.exited;
      expect(await backend.length(topology(prefix).tx)).toBeLessThan(events.length);
      const text = await standby.stderr.rest();
      expect(await standby.child.exited).toBe(0);
      expect(text).toMatch(/ingest writes \S+ from now \(lease generation \d+\)/);
      expect(text).toMatch(/replay of \S+: an earlier run wrote it up to line [\d,]+; going on after it/);
      expect(await written(backend, prefix)).toEqual(events.map((e) => e.id));
    } finally {
      await backend.close();
    }
  }, 90_000);

  test("the live generator: the stand-by goes on with the synthetic traffic after the writer is SIGKILLed, in the seed's order", async () => {
    const prefix = `lease-generator-${crypto.randomUUID()}:`;
    const backend = new RedisStreamBackend(redis.url);
    try {
      const writer = ingest(prefix, null);
      await writer.stderr.waitFor(/control API/);
      await untilLength(backend, prefix, 10_000);
      const standby = ingest(prefix, null);
      await standby.stderr.waitFor(STANDING_BY);
      expect([await writerGauge(writer.stderr.text), await writerGauge(standby.stderr.text)]).toEqual([1, 0]);
      writer.child.kill("SIGKILL");
      await writer.child.exited;
      await standby.stderr.waitFor(
        /generator \(seed 1\): an earlier run wrote its hour 0 up to event [\d,]+; going on after it\n/,
      );
      const killedAt = await backend.length(topology(prefix).tx);
      await untilLength(backend, prefix, killedAt + 10_000);
      expect(await writerGauge(standby.stderr.text)).toBe(1);
      standby.child.kill("SIGINT");
      const text = await standby.stderr.rest();
      expect(await standby.child.exited).toBe(0);
      expect(text).toMatch(/ingest writes \S+ from now \(lease generation \d+\)/);
      const ids = await written(backend, prefix);
      // Seed 1's first hour, as the live generator makes it.
      const seed: string[] = [];
      for (const event of generate({ seed: 100_003, durationMs: 3_600_000 }).events()) {
        if (seed.length === ids.length) break;
        seed.push(event.id);
      }
      expect(ids).toEqual(seed);
    } finally {
      await backend.close();
    }
  }, 90_000);

  test("the writer frozen (SIGSTOP) past its lease: the stand-by goes on; thawed, the old writer sends nothing more; each event once", async () => {
    const prefix = `lease-freeze-${crypto.randomUUID()}:`;
    const backend = new RedisStreamBackend(redis.url);
    try {
      const writer = ingest(prefix);
      await writer.stderr.waitFor(/control API/);
      await untilLength(backend, prefix, 20_000);
      // Frozen mid-file, most likely waiting for a batch's reply, which is there when it thaws.
      writer.child.kill("SIGSTOP");
      expect(await backend.length(topology(prefix).tx)).toBeLessThan(events.length);
      const standby = ingest(prefix);
      await standby.stderr.waitFor(/ingest writes \S+ from now/);
      const text = await standby.stderr.rest();
      expect(await standby.child.exited).toBe(0);
      expect(text).toContain("standing by");
      expect(await written(backend, prefix)).toEqual(events.map((e) => e.id));
      writer.child.kill("SIGCONT");
      const thawed = await writer.stderr.rest();
      expect(await writer.child.exited).toBe(0);
      expect(thawed).toMatch(/ingest no longer writes \S+ \(lost, lease generation \d+\): standing by/);
      expect(await written(backend, prefix)).toEqual(events.map((e) => e.id));
    } finally {
      await backend.close();
    }
  }, 90_000);
});

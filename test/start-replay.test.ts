/**
 * `bun run start --replay FILE`: it ends by itself once the file went through the analyzers and the
 * sinks, with a summary of what was read, written, rejected (and where that went) and found; it keeps
 * running when asked; and SIGINT stops it promptly even while the producer waits for analyzers that are
 * down, keeping what was written.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import type { Alert } from "../src/detection/alert.ts";
import { generate } from "../src/ingest/generator.ts";
import { topology } from "../src/scanner/topology.ts";
import { RedisStreamBackend } from "../src/streams/redis-backend.ts";
import { ChildOutput } from "./support/child-output.ts";
import { reaper, runToEnd } from "./support/reaper.ts";
import { writeRecording } from "./support/recording.ts";
import { redisServerInstalled, startPrivateRedis, type TestRedis } from "./support/redis-server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const track = reaper();
const SAMPLE = new URL("./fixtures/pumpportal/sample.jsonl", import.meta.url).pathname;
const ENV = { ...process.env, TROUPE_HTTP_PORT: "0", REDIS_URL: "", TROUPE_ALERTS_FILE: "" };

let dir: string;
let recording: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-replay-"));
  recording = join(dir, "capture.jsonl");
  // The PumpPortal sample (14 lines, 3 alerts) after one malformed line.
  await Bun.write(recording, `{not json\n${await Bun.file(SAMPLE).text()}`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SUMMARY = (file: string) =>
  `replay of ${file} done: 15 lines read, 16 events in, 1 rejected (in troupe:tx:dlq, source ${file}), 3 alerts (in troupe:alerts)`;

test("exits 0 once drained, every alert shown, with a summary of lines, events, rejects and where they went", async () => {
  const { code, stdout, stderr } = await runToEnd(track, ["bun", "src/main.ts", "--replay", recording], {
    cwd: ROOT,
    env: ENV,
  });
  expect(code).toBe(0);
  const alerts = stdout
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Alert);
  expect(alerts.map((a) => a.detector).sort()).toEqual(["dev_dump", "fresh_sniper", "launch_bundle"]);
  expect(stderr).toContain(`\n${SUMMARY(recording)}\n`);
  expect(stderr).toEndWith("troupe scanner stopped\n");
}, 30_000);

test("--keep-running: the summary once drained, and still serving after it", async () => {
  const child = track(
    Bun.spawn(["bun", "src/main.ts", "--replay", recording, "--keep-running"], {
      cwd: ROOT,
      env: ENV,
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  const stdout = new ChildOutput(child.stdout);
  const stderr = new ChildOutput(child.stderr);
  const url = /control API (\S+)/.exec(await stderr.waitFor(/control API \S+\n/))?.[1] as string;
  await stderr.waitFor(new RegExp(`${SUMMARY(recording).replace(/[()]/g, "\\$&")}\n`));
  // Every alert shown (on the other pipe, so maybe not read yet), and the process still there.
  await stdout.waitFor(/(.*\n){3}/);
  expect((await fetch(new URL("health", url))).status).toBe(200);
  child.kill("SIGTERM");
  await stderr.rest();
  expect(await child.exited).toBe(0);
  expect(stderr.text.split("replay of")).toHaveLength(2);
  expect(stderr.text).toEndWith("troupe scanner stopped\n");
}, 30_000);

describe.skipIf(!redisServerInstalled())("SIGINT while the analyzers are down", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  test("the producer, paused by backpressure, stops at once; what was written stays and the summary says where to resume", async () => {
    const prefix = `sigint-${crypto.randomUUID()}:`;
    const names = topology(prefix);
    const backend = new RedisStreamBackend(redis.url);
    // The analyzer groups exist, and no analyzer reads them: at 95,000 entries of lag the producer pauses.
    for (const { group } of names.analyzers) await backend.ensureGroup(names.tx, group);
    const big = join(dir, "big.jsonl");
    const events = await writeRecording(big, 5, 110_000);
    const child = track(
      Bun.spawn(["bun", "src/main.ts", "--role", "ingest", "--replay", big], {
        cwd: ROOT,
        env: { ...ENV, REDIS_URL: redis.url, TROUPE_STREAM_PREFIX: prefix },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    const stderr = new ChildOutput(child.stderr);
    // The progress line stands still near the critical watermark: the producer waits.
    await stderr.waitFor(/\nin 9[5-9],\d{3} \(0\/s\)/);
    const interrupted = performance.now();
    child.kill("SIGINT");
    await stderr.rest();
    expect(await child.exited).toBe(0);
    expect(performance.now() - interrupted).toBeLessThan(3_000);
    const summary = new RegExp(
      `replay of ${big} stopped: lines 1-([\\d,]+) written \\(resume after line \\1: --resume-after (\\d+)\\): [\\d,]+ lines read, ([\\d,]+) events in, 0 rejected\\n`,
    ).exec(stderr.text);
    expect(summary).not.toBeNull();
    const written = await backend.length(names.tx);
    expect(Number(summary?.[3]?.replaceAll(",", ""))).toBe(written);
    expect(Number(summary?.[1]?.replaceAll(",", ""))).toBe(written);
    expect(Number(summary?.[2])).toBe(written);
    expect(written).toBeGreaterThanOrEqual(95_000);
    expect(written).toBeLessThan(events.length);
    // Resumed where it stopped (the groups gone, so nothing holds it back): every event once, in order.
    const admin = new Redis(redis.url);
    for (const { group } of names.analyzers) await admin.xgroup("DESTROY", names.tx, group);
    admin.disconnect();
    const resumed = track(
      Bun.spawn(
        ["bun", "src/main.ts", "--role", "ingest", "--replay", big, "--resume-after", summary?.[2] ?? ""],
        {
          cwd: ROOT,
          env: { ...ENV, REDIS_URL: redis.url, TROUPE_STREAM_PREFIX: prefix },
          stdout: "pipe",
          stderr: "pipe",
        },
      ),
    );
    const [code, text] = await Promise.all([resumed.exited, new Response(resumed.stderr).text()]);
    expect(code).toBe(0);
    expect(text).toContain(
      `replay of ${big} done (resumed after line ${Number(summary?.[2]).toLocaleString("en")}):`,
    );
    const ids = (await backend.range(names.tx, { count: 200_000 })).map(
      (entry) => (JSON.parse(entry.fields?.json?.toString() ?? "{}") as { id?: string }).id,
    );
    await backend.close();
    expect(ids).toEqual(events.map((e) => e.id));
  }, 90_000);

  test("a replay SIGKILLed mid-file, run again as it was, goes on where it stopped: every event once, in order, then the closing tick", async () => {
    const prefix = `sigkill-${crypto.randomUUID()}:`;
    const names = topology(prefix);
    const backend = new RedisStreamBackend(redis.url);
    const file = join(dir, "killed.jsonl");
    const events = [...generate({ seed: 6, maxEvents: 60_000 }).events()];
    // A few lines that write nothing (rejected, blank) among the events, so lines and events differ.
    const lines = events.map((e) => JSON.stringify(e));
    lines.splice(1_000, 0, "{not json");
    lines.splice(30_000, 0, "");
    // The last line rejected: the mark covers it too, so a finished replay reads nothing again.
    lines.push("{not json either");
    await Bun.write(file, `${lines.join("\n")}\n`);
    const replay = () =>
      track(
        Bun.spawn(["bun", "src/main.ts", "--role", "ingest", "--replay", file], {
          cwd: ROOT,
          env: { ...ENV, REDIS_URL: redis.url, TROUPE_STREAM_PREFIX: prefix },
          stdout: "pipe",
          stderr: "pipe",
        }),
      );
    const killed = replay();
    // Killed between batches or inside one, as a crash comes: no summary says where it got.
    for (let polls = 0; (await backend.length(names.tx)) < 10_000; polls++) {
      expect(polls).toBeLessThan(3_000);
      await Bun.sleep(10);
    }
    killed.kill("SIGKILL");
    await killed.exited;
    const before = await backend.length(names.tx);
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(events.length);
    // As if it had written two batches more than it marked (a kill between a batch and its mark, twice):
    // those come again, and go in once.
    const markName = `replay:${file}`;
    const mark = JSON.parse((await backend.readMark(names.tx, markName)) ?? "null") as {
      line: number;
      ts: number;
    };
    expect(mark.line).toBeGreaterThan(1_000);
    await backend.writeMark(names.tx, markName, JSON.stringify({ ...mark, line: mark.line - 1_000 }));

    const again = replay();
    const [code, text] = await Promise.all([again.exited, new Response(again.stderr).text()]);
    expect(code).toBe(0);
    expect(text).toContain(
      `replay of ${file}: an earlier run wrote it up to line ${(mark.line - 1_000).toLocaleString("en")}; going on after it`,
    );
    expect(text).toMatch(/, 1,\d{3} duplicates skipped \(an id written already\)/);
    const entries = (await backend.range(names.tx, { count: 100_000 })).map(
      (entry) =>
        JSON.parse(entry.fields?.json?.toString() ?? "{}") as { kind: string; id?: string; ts: number },
    );
    expect(entries.filter((e) => e.kind !== "tick").map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(entries.at(-1)).toMatchObject({ kind: "tick", ts: events.at(-1)!.ts + 60_000 });

    // Done: once more, and once more again (a run that read nothing marked line 0, and the next one
    // replayed the whole file: a spec test), writes nothing, rejects nothing, and says so.
    for (let run = 0; run < 2; run++) {
      const done = replay();
      const [doneCode, doneText] = await Promise.all([done.exited, new Response(done.stderr).text()]);
      expect(doneCode).toBe(0);
      expect(doneText).toContain(
        `replay of ${file} done (resumed after line ${lines.length.toLocaleString("en")}): 0 lines read, 0 events in, 0 rejected`,
      );
    }
    const after = await backend.range(names.tx, { count: 100_000 });
    expect(after.filter((e) => !e.fields?.json?.toString().includes('"tick"')).length).toBe(events.length);
    expect(JSON.parse((await backend.readMark(names.tx, markName)) ?? "null")).toEqual({
      line: lines.length,
      ts: events.at(-1)!.ts,
    });
    await backend.close();
  }, 90_000);
});

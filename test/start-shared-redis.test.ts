/**
 * `bun run start` (every role in one process) twice on one Redis prefix: the processes take turns writing
 * the tx stream and share the analyzers by lease, as `--role ingest` and `--role analyze` processes do, so
 * the alerts are one process's. Before, each wrote the recording (52,000 of its 120,000 events twice),
 * each ran all three analyzers on the same groups, fencing the other's, and one never ended: 310 alerts
 * written against 172, 140 of them not one process's.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { topology } from "../src/scanner/topology.ts";
import { type AlertRecord, duplicates } from "./faults/scanner-crash/alert-records.ts";
import { ScannerRedis } from "./faults/scanner-crash/scanner-redis.ts";
import { ChildOutput } from "./support/child-output.ts";
import { reaper } from "./support/reaper.ts";
import { writeRecording } from "./support/recording.ts";
import { redisServerInstalled, startPrivateRedis, type TestRedis } from "./support/redis-server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const track = reaper();
const STANDING_BY = /another ingest process writes \S+: standing by to take over when it stops or dies\n/;
const TAKES_AN_ANALYZER = /\S+ runs here from now \(lease generation \d+, state restored\)\n/;

describe.skipIf(!redisServerInstalled())("two `bun run start` on one Redis prefix", () => {
  let redis: TestRedis;
  let dir: string;
  let file: string;
  let events: { id: string }[];
  /** One process's alerts over the recording: what any number of processes must write. */
  let alone: AlertRecord[];

  beforeAll(async () => {
    redis = await startPrivateRedis();
    dir = await mkdtemp(join(tmpdir(), "troupe-shared-redis-"));
    file = join(dir, "recording.jsonl");
    events = await writeRecording(file, 3, 60_000);
    const prefix = `shared-alone-${crypto.randomUUID()}:`;
    const only = start(prefix, "solo");
    await only.stderr.rest();
    expect(await only.child.exited).toBe(0);
    alone = await alertsOf(prefix);
  }, 60_000);
  afterAll(async () => {
    await redis?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** `bun run start --replay` on `prefix`, every role in this process, under the consumer name `consumer`. */
  function start(prefix: string, consumer: string) {
    const child = track(
      Bun.spawn(["bun", "src/main.ts", "--replay", file], {
        cwd: ROOT,
        env: {
          ...process.env,
          TROUPE_HTTP_PORT: "0",
          REDIS_URL: redis.url,
          TROUPE_STREAM_PREFIX: prefix,
          TROUPE_CONSUMER: consumer,
          TROUPE_ALERTS_FILE: "",
          TROUPE_ALERTS_STDOUT: "off",
        },
        stdout: "ignore",
        stderr: "pipe",
      }),
    );
    return { child, stderr: new ChildOutput(child.stderr) };
  }

  async function alertsOf(prefix: string): Promise<AlertRecord[]> {
    // Closed after: a client left open reconnects to the stopped server for ever, printing an ioredis error
    // each time, which failed test/faults/connections.test.ts (it checks that ioredis prints nothing).
    const client = new ScannerRedis(redis.url, prefix);
    try {
      return await client.alertEntries();
    } finally {
      await client.close();
    }
  }

  /**
   * Entries ever added to the tx stream (retention trims what the analyzers are done with): the events, and
   * each replay's closing tick. An event written twice would add its batch (500) again.
   */
  async function added(prefix: string): Promise<number> {
    const client = new Redis(redis.url);
    try {
      const info = (await client.xinfo("STREAM", topology(prefix).tx)) as unknown[];
      return Number(info[info.indexOf("entries-added") + 1]);
    } finally {
      client.disconnect();
    }
  }

  /** The alerts stream of `prefix` holds one process's alert ids, none twice. */
  async function expectOneProcessAlerts(prefix: string): Promise<void> {
    const ids = (records: readonly AlertRecord[]) => records.map((r) => r.alertId).sort();
    const alerts = await alertsOf(prefix);
    expect(duplicates(alerts)).toEqual([]);
    expect(ids(alerts)).toEqual(ids(alone));
  }

  test("started at once: one writes, both analyze, both end; each event once, one process's alerts, none twice", async () => {
    expect(alone.length).toBeGreaterThan(30);
    const prefix = `shared-both-${crypto.randomUUID()}:`;
    const [a, b] = [start(prefix, "a"), start(prefix, "b")];
    const [textA, textB] = await Promise.all([a.stderr.rest(), b.stderr.rest()]);
    expect([await a.child.exited, await b.child.exited]).toEqual([0, 0]);
    expect([STANDING_BY.test(textA), STANDING_BY.test(textB)].sort()).toEqual([false, true]);
    // Each ran some analyzers (three analyzers, two processes: two and one once both have joined).
    expect([TAKES_AN_ANALYZER.test(textA), TAKES_AN_ANALYZER.test(textB)]).toEqual([true, true]);
    // The events, the writer's closing tick, and the stand-by's (it took the writing over once the writer
    // ended, found the file written, and closed it again).
    expect(await added(prefix)).toBe(events.length + 2);
    await expectOneProcessAlerts(prefix);
  }, 90_000);

  test("the writer SIGKILLed mid-file: the other writes the rest and takes its analyzers over; one process's alerts, none twice", async () => {
    const prefix = `shared-kill-${crypto.randomUUID()}:`;
    const first = start(prefix, "a");
    await first.stderr.waitFor(/control API/);
    const second = start(prefix, "b");
    await second.stderr.waitFor(STANDING_BY);
    // The second runs its share of the analyzers before the first dies.
    await second.stderr.waitFor(TAKES_AN_ANALYZER);
    expect(await added(prefix)).toBeLessThan(events.length);
    first.child.kill("SIGKILL");
    await first.child.exited;
    const text = await second.stderr.rest();
    expect(await second.child.exited).toBe(0);
    expect(text).toMatch(/ingest writes \S+ from now \(lease generation \d+\)/);
    expect(await added(prefix)).toBe(events.length + 1);
    await expectOneProcessAlerts(prefix);
  }, 90_000);

  test("a second process under the same TROUPE_CONSUMER is refused at start, naming the setting; the first goes on", async () => {
    const prefix = `shared-name-${crypto.randomUUID()}:`;
    const first = start(prefix, "same");
    await first.stderr.waitFor(TAKES_AN_ANALYZER);
    const second = start(prefix, "same");
    const text = await second.stderr.rest();
    expect(await second.child.exited).toBe(2);
    expect(text).toContain(
      `TROUPE_CONSUMER=same: another live process analyzes stream prefix ${prefix} under this name; give each process its own\n`,
    );
    await first.stderr.rest();
    expect(await first.child.exited).toBe(0);
    await expectOneProcessAlerts(prefix);
  }, 90_000);
});

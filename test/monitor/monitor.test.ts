/**
 * The terminal monitor, run as its own process against a live system, read from its output. The alerts it
 * lists come from `GET /alerts`, served beside the control API here in that route's shape (`{ alerts,
 * next, scanned }`, newest first): the route itself belongs to the API's detections half.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { Hono } from "hono";
import type { Alert } from "../../src/detection/alert.ts";
import { type ControlApi, createControlApi, createStreamsSource } from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import type { MonitorFrame } from "../../src/monitor/client.ts";
import { renderFrame } from "../../src/monitor/render.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { ECHO } from "../support/runtime.ts";
import { draws, runInTerminal, scriptInstalled } from "../support/terminal-screen.ts";

const MAIN = new URL("../../src/monitor/main.ts", import.meta.url).pathname;
/** Cursor to the top left: where each frame of the monitor starts on a terminal. */
const HOME = "\x1b\\[H";
const ALERTS: Alert[] = [
  {
    alertId: "a2",
    groupId: "g2",
    detector: "dev_dump",
    analyzer: "pattern",
    severity: "high",
    score: 1,
    mint: "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
    key: "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
    wallets: ["creator"],
    windowStart: 0,
    detectedAt: new Date(2025, 9, 9, 9, 10, 0).getTime(),
    triggerId: "t:2",
    events: ["t:2"],
    timing: "exact",
    evidence: { soldOfPeak: 0.97 },
  },
  {
    alertId: "a1",
    groupId: "g1",
    detector: "funding_hub",
    analyzer: "sybil",
    severity: "low",
    score: 0.35,
    key: "txguv5bn9SG2Pqosi6bENSt1VekmQ2",
    wallets: ["txguv5bn9SG2Pqosi6bENSt1VekmQ2", "w2"],
    windowStart: 0,
    detectedAt: new Date(2025, 9, 9, 9, 3, 33).getTime(),
    triggerId: "t:1",
    events: ["t:1"],
    timing: "exact",
    evidence: { recipients: 7 },
  },
];

let system: ActorSystem;
let api: ControlApi;
let server: Server<undefined>;
let url: string;

beforeAll(async () => {
  system = createSystem();
  const echo = await system.spawn(ECHO, { name: "echo", instances: 2 });
  await Promise.all([1, 2, 3].map((n) => echo.ask({ n })));
  const backend = new MemoryStreamBackend();
  await backend.ensureGroup("tx", "workers");
  for (let i = 0; i < 4; i++) await backend.append("tx", { n: String(i) });
  api = createControlApi({
    system,
    defaultMetrics: false,
    streams: createStreamsSource({ backend, streams: ["tx"], lag: { high: 2, critical: 10 } }),
  });
  const app = new Hono()
    .get("/alerts", (c) =>
      c.json({ alerts: ALERTS.slice(0, Number(c.req.query("count"))), next: null, scanned: 2 }),
    )
    .route("/", api.app);
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
  url = `http://127.0.0.1:${server.port}/`;
});
afterAll(async () => {
  api.close();
  await server.stop(true);
  await system.stop({ deadlineMs: 1000 });
});

async function monitor(...args: string[]) {
  return monitorWith({}, ...args);
}

async function monitorWith(env: Record<string, string>, ...args: string[]) {
  const child = Bun.spawn(["bun", MAIN, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "", TROUPE_API_TOKEN: "", ...env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { stdout, stderr, code };
}

describe("bun run monitor --once", () => {
  test("prints one plain frame (stdout is a pipe: no escape sequences) and exits 0", async () => {
    const { stdout, stderr, code } = await monitor("--once", "--url", url);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).not.toContain("\x1b");
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toStartWith(`┌─ Troupe monitor · ${url} · `);
    expect(lines).toContain(`│ ${"health: OK".padEnd(116)} │`);
    expect(stdout).toContain("backend: memory up, ping ");
    expect(stdout).toMatch(
      /throughput [\d.]+ msg\/s {3}processed 3 {3}failed 0 {3}dead-lettered 0 {3}restarts 0 {3}workers alive 2\/2/,
    );
    const echoRow = lines.find((l) => l.startsWith("│ echo "));
    expect(echoRow?.split(/\s+/).slice(1, 5)).toEqual(["echo", "running", "2", "0/2,048"]);
    // The latest alerts, newest first, as `bun run start` prints them.
    const alerts = lines.slice(lines.findIndex((l) => l.startsWith("├─ alerts, newest first ")) + 1);
    expect(alerts.slice(0, 2).map((l) => l.slice(2, -1).trimEnd())).toEqual([
      "09:10:00  HIGH  dev_dump             mint 9WzD…AWWM    dev sold 97% of peak",
      "09:03:33  LOW   funding_hub          wallet txgu…kmQ2  7 recipients, 2 wallets",
    ]);
    // The group's box: status (the watermark, past its high band of 2), workers, pending, lag, dead letters.
    const box = lines.slice(lines.findIndex((l) => l.startsWith("├─ consumer groups ")) + 1).slice(0, 6);
    // Lag in seconds and the rate appear where the API reports them (`lagSeconds`, `rate`).
    expect(box.map((l) => l.slice(2, 36))).toEqual([
      "┌─ tx › workers ─────────────────┐",
      "│ WARNING          workers 0     │",
      expect.stringMatching(/^│ pending 0 {8}rate (\?|[\d,]+\/s) +│$/),
      expect.stringMatching(/^│ lag 4( · [\d.,?]+ s)? +│$/),
      "│ dead letters 0                 │",
      "└────────────────────────────────┘",
    ]);
    expect(lines.at(-1)).toMatch(/^└─+┘$/);
  });

  test("--json prints the frame's data", async () => {
    const { stdout, code } = await monitor("--once", "--json", "--url", url.replace(/\/$/, ""));
    expect(code).toBe(0);
    const frame = JSON.parse(stdout) as MonitorFrame;
    expect(frame.readiness?.status).toBe("ok");
    expect(frame.actors?.map((a) => a.name)).toEqual(["echo"]);
    expect(frame.streams?.groups.map((g) => `${g.stream}/${g.group}`)).toEqual(["tx/workers"]);
    expect(frame.alerts).toEqual(ALERTS);
    expect(frame.errors).toEqual([]);
  });

  test("an unreachable API: exit 1 and the reason on stderr; bad usage: exit 2", async () => {
    const down = await monitor("--once", "--url", "http://127.0.0.1:9/");
    expect(down.code).toBe(1);
    expect(down.stderr).toStartWith("cannot read http://127.0.0.1:9/: health: ");
    const bad = await monitor("--once", "--url", "ftp://x");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toStartWith("--url: must be an http(s) URL, got ftp://x");
    // An empty TROUPE_MONITOR_URL means unset (the default address), not a bad --url.
    const empty = await monitorWith({ TROUPE_MONITOR_URL: "" }, "--once");
    expect(empty.stderr).not.toContain("--url");
    expect(empty.code).not.toBe(2);
    const interval = await monitor("--interval", "5");
    expect(interval).toMatchObject({ code: 2 });
    expect(interval.stderr).toStartWith("--interval: must be an integer >= 100, got 5");
  });
});

describe("renderFrame", () => {
  const frame: MonitorFrame = {
    url: "http://127.0.0.1:7070/",
    at: 0,
    readiness: {
      status: "degraded",
      reasons: [
        { code: "actor-failed", message: "actor x failed: restart intensity exceeded, it is not restarted" },
      ],
      failedActors: ["x"],
      backend: null,
    },
    actors: [],
    streams: { backend: null, groups: [] },
    alerts: "not-served",
    errors: [],
  };

  test("colour only when asked: the status painted, the reason listed", () => {
    const colored = renderFrame(frame, { color: true, width: 100 });
    expect(colored).toContain("\x1b[33mDEGRADED\x1b[0m");
    expect(colored).toContain("actor x failed: restart intensity exceeded");
    expect(renderFrame(frame, { color: false, width: 100 })).not.toContain("\x1b");
  });

  test("an instance without GET /alerts says so, and is not an error", () => {
    expect(renderFrame(frame, { color: false, width: 100 })).toContain(
      "│ this instance serves no alerts (no GET /alerts) ",
    );
  });

  test("lag in seconds and the rate when the API reports them; boxes side by side as the width allows", () => {
    const group = {
      stream: "troupe:tx",
      group: "wallet-analyzer",
      length: 10,
      lag: 1200,
      pending: 100,
      oldestPendingIdleMs: null,
      consumers: 1,
      deadLetterStream: "troupe:tx:dlq",
      deadLetters: 0,
      watermark: "critical" as const,
      lagSeconds: 75.25,
      rate: 199.6,
    };
    const text = renderFrame(
      { ...frame, streams: { backend: null, groups: [group, { ...group, group: "pattern-recognition" }] } },
      { color: false, width: 100 },
    );
    expect(text).toContain("│ ┌─ troupe:tx › wallet-analyzer ──┐  ┌─ troupe:tx › pattern-recogni… ─┐");
    expect(text).toContain("│ │ CRITICAL         workers 1     │  │ CRITICAL         workers 1     │");
    expect(text).toContain("│ │ pending 100      rate 200/s    │");
    expect(text).toContain("│ │ lag 1,200 · 75.3 s             │");
  });

  test("a partition's box names its owner and the time left on its lease", () => {
    const group = {
      stream: "{shop:p3}:orders",
      group: "tally",
      length: 10,
      lag: 0,
      pending: 2,
      oldestPendingIdleMs: null,
      consumers: 2,
      deadLetterStream: "{shop:p3}:orders:dlq",
      deadLetters: 0,
      watermark: "ok" as const,
      lagSeconds: 0,
      rate: null,
      partition: {
        of: "{shop}:orders",
        index: 3,
        partitions: 8,
        owner: "host-a",
        leaseTtlMs: 1_640,
        ownedForMs: 12_000,
      },
    };
    const text = renderFrame(
      { ...frame, streams: { backend: null, groups: [group] } },
      { color: false, width: 100 },
    );
    expect(text).toContain("│ │ lag 0 · 0 s      owner host-a  │");
    expect(text).toContain("│ │ dead letters 0   lease 1.6 s   │");
  });

  test("every line fits the width, long ones cut with an ellipsis", () => {
    const lines = renderFrame(frame, { color: false, width: 60 }).split("\n");
    for (const line of lines) expect(line.length).toBe(60);
    expect(lines.find((l) => l.includes("actor x failed"))).toEndWith("… │");
  });
});

describe.skipIf(!scriptInstalled())("bun run monitor on a terminal", () => {
  test("redraws each frame in place on the alternate screen, and q leaves it as it was", async () => {
    const run = runInTerminal(`bun ${MAIN} --url ${url} --interval 100`, {
      columns: 100,
      cwd: process.cwd(),
      env: { ...process.env, NO_COLOR: "1", TROUPE_API_TOKEN: "" },
    });
    // Three frames drawn: each starts at the top of the screen (cursor home), none scrolls.
    await run.output.waitFor(new RegExp(`(${HOME}.*Troupe monitor.*){3}`, "s"));
    run.child.stdin.write("q");
    run.child.stdin.flush();
    await run.output.rest();
    expect(await run.child.exited).toBe(0);
    const text = run.output.text;
    expect(text).toStartWith("\x1b[?1049h\x1b[?25l");
    expect(text).toEndWith("\x1b[?25h\x1b[?1049l");
    expect(text.split("\x1b[H").length - 1).toBeGreaterThanOrEqual(3);
    for (const row of draws(text).flat()) expect(row.length).toBeLessThanOrEqual(100);
  }, 20_000);
});

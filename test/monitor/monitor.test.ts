/** The terminal monitor, run as its own process against a live system, read from its output. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createStreamsSource, type ServedControlApi, serveControlApi } from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import type { MonitorFrame } from "../../src/monitor/client.ts";
import { renderFrame } from "../../src/monitor/render.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { ECHO } from "../support/runtime.ts";

const MAIN = new URL("../../src/monitor/main.ts", import.meta.url).pathname;

let system: ActorSystem;
let served: ServedControlApi;

beforeAll(async () => {
  system = createSystem();
  const echo = await system.spawn(ECHO, { name: "echo", instances: 2 });
  await Promise.all([1, 2, 3].map((n) => echo.ask({ n })));
  const backend = new MemoryStreamBackend();
  await backend.ensureGroup("tx", "workers");
  for (let i = 0; i < 4; i++) await backend.append("tx", { n: String(i) });
  served = serveControlApi({
    system,
    port: 0,
    defaultMetrics: false,
    streams: createStreamsSource({ backend, streams: ["tx"], lag: { high: 2, critical: 10 } }),
  });
});
afterAll(async () => {
  await served.shutdown({ deadlineMs: 500 });
  await system.stop({ deadlineMs: 1000 });
});

async function monitor(...args: string[]) {
  const child = Bun.spawn(["bun", MAIN, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "", TROUPE_API_TOKEN: "" },
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
    const { stdout, stderr, code } = await monitor("--once", "--url", served.url);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).not.toContain("\x1b");
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toStartWith(`┌─ Troupe monitor · ${served.url} · `);
    expect(lines).toContain(`│ ${"health: OK".padEnd(116)} │`);
    expect(stdout).toContain("backend: memory up, ping ");
    expect(stdout).toMatch(
      /throughput [\d.]+ msg\/s {3}processed 3 {3}failed 0 {3}dead-lettered 0 {3}restarts 0 {3}workers alive 2\/2/,
    );
    const echoRow = lines.find((l) => l.startsWith("│ echo "));
    expect(echoRow?.split(/\s+/).slice(1, 5)).toEqual(["echo", "running", "2", "0/2,048"]);
    const txRow = lines.find((l) => l.startsWith("│ tx/workers"));
    expect(txRow?.split(/\s+/).slice(1, 9)).toEqual(["tx/workers", "4", "4", "0", "-", "0", "0", "high"]);
    expect(lines.at(-1)).toMatch(/^└─+┘$/);
  });

  test("--json prints the frame's data", async () => {
    const { stdout, code } = await monitor("--once", "--json", "--url", served.url.replace(/\/$/, ""));
    expect(code).toBe(0);
    const frame = JSON.parse(stdout) as MonitorFrame;
    expect(frame.readiness?.status).toBe("ok");
    expect(frame.actors?.map((a) => a.name)).toEqual(["echo"]);
    expect(frame.streams?.groups.map((g) => `${g.stream}/${g.group}`)).toEqual(["tx/workers"]);
    expect(frame.errors).toEqual([]);
  });

  test("an unreachable API: exit 1 and the reason on stderr; bad usage: exit 2", async () => {
    const down = await monitor("--once", "--url", "http://127.0.0.1:9/");
    expect(down.code).toBe(1);
    expect(down.stderr).toStartWith("cannot read http://127.0.0.1:9/: health: ");
    const bad = await monitor("--once", "--url", "ftp://x");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toStartWith("--url: must be an http(s) URL, got ftp://x");
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
    errors: [],
  };

  test("colour only when asked: the status painted, the reason listed", () => {
    const colored = renderFrame(frame, { color: true, width: 100 });
    expect(colored).toContain("\x1b[33mDEGRADED\x1b[0m");
    expect(colored).toContain("actor x failed: restart intensity exceeded");
    expect(renderFrame(frame, { color: false, width: 100 })).not.toContain("\x1b");
  });

  test("every line fits the width, long ones cut with an ellipsis", () => {
    const lines = renderFrame(frame, { color: false, width: 60 }).split("\n");
    for (const line of lines) expect(line.length).toBe(60);
    expect(lines.find((l) => l.includes("actor x failed"))).toEndWith("… │");
  });
});

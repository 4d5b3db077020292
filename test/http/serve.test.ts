/** End to end over a real socket: Bun.serve on port 0, the live event stream, the connection cap, shutdown. */
import { afterEach, describe, expect, test } from "bun:test";
import { type ServedControlApi, serveControlApi } from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { ECHO } from "../support/runtime.ts";
import { SseReader } from "./sse.ts";
import { AUTH, TOKEN } from "./support.ts";

let system: ActorSystem;
let served: ServedControlApi;
const readers: SseReader[] = [];

async function start(options: Partial<Parameters<typeof serveControlApi>[0]> = {}) {
  system = createSystem({ supervisor: { backoff: { minMs: 5, maxMs: 10 } } });
  await system.spawn(ECHO, { name: "echo" });
  served = serveControlApi({
    system,
    token: TOKEN,
    port: 0,
    defaultMetrics: false,
    heartbeatMs: 100,
    ...options,
  });
}

async function events(): Promise<SseReader> {
  const response = await fetch(`${served.url}events`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  const reader = new SseReader(response);
  readers.push(reader);
  return reader;
}

afterEach(async () => {
  for (const reader of readers.splice(0)) await reader.cancel().catch(() => {});
  await served?.shutdown({ deadlineMs: 500 });
  await system?.stop({ deadlineMs: 1000 });
});

describe("serveControlApi", () => {
  test("binds 127.0.0.1 on the port asked for (0: any free one)", async () => {
    await start();
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(served.server.port).toBeGreaterThan(0);
    expect((await fetch(`${served.url}health/live`)).status).toBe(200);
  });

  test("an IPv6 host, with or without its brackets, is bracketed once in the URL it gives", async () => {
    for (const hostname of ["::1", "[::1]"]) {
      await start({ hostname });
      expect(served.url).toMatch(/^http:\/\/\[::1\]:\d+\/$/);
      expect((await fetch(`${served.url}health/live`)).status).toBe(200);
      await served.shutdown({ deadlineMs: 500 });
      await system.stop({ deadlineMs: 1000 });
    }
  });

  test("on loopback it answers to the loopback names only: a rebound name is refused, reads included", async () => {
    await start();
    const port = served.server.port;
    const as = (host: string) => fetch(`${served.url}actors`, { headers: { host } });
    // A page on evil.example, its name pointed at 127.0.0.1: same-origin to the browser, so it read every
    // route that needs no token on loopback.
    const rebound = await as(`evil.example:${port}`);
    expect(rebound.status).toBe(403);
    expect(await rebound.json()).toMatchObject({ error: { code: "ERR_FORBIDDEN" } });
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "localhost"])
      expect((await as(host)).status).toBe(200);
  });

  test("allowedHosts names the hosts it answers to, as behind a proxy", async () => {
    await start({ allowedHosts: ["ops.example.com"] });
    const as = (host: string) => fetch(`${served.url}health/live`, { headers: { host } });
    expect((await as("ops.example.com")).status).toBe(200);
    expect((await as(`127.0.0.1:${served.server.port}`)).status).toBe(403);
  });

  test("allowedHosts null answers any host, on loopback too", async () => {
    await start({ allowedHosts: null });
    expect((await fetch(`${served.url}health/live`, { headers: { host: "anything.example" } })).status).toBe(
      200,
    );
  });

  test("/events: hello, stats snapshots, heartbeats, and a lifecycle event as it happens", async () => {
    await start({ liveIntervalMs: 200 });
    const stream = await events();
    expect((await stream.next("hello"))?.data).toMatchObject({
      recent: [],
      heartbeatMs: 100,
      intervalMs: 200,
    });
    const stats = (await stream.next("stats"))?.data as {
      readiness: { status: string };
      counters: Record<string, number>;
      actors: Array<{ name: string }>;
    };
    expect(stats.readiness.status).toBe("ok");
    expect(stats.counters).toMatchObject({ actors: 1, restarts: 0 });
    expect(stats.actors[0]?.name).toBe("echo");
    expect((await stream.next("heartbeat"))?.data).toHaveProperty("at");
    const restart = await fetch(`${served.url}actors/echo/restart`, { method: "POST", headers: AUTH });
    expect(restart.status).toBe(202);
    const kinds: string[] = [];
    while (!kinds.includes("restarted")) {
      const event = await stream.next("lifecycle");
      if (!event) throw new Error("the event stream ended");
      kinds.push((event.data as { kind: string }).kind);
    }
    expect(kinds).toEqual(["restarting", "started", "restarted"]);
    expect(stream.seen.findLast((e) => e.event === "lifecycle")?.data).toMatchObject({
      source: "actor",
      actor: "echo",
      instance: 0,
      level: "info",
      message: expect.stringMatching(/^echo#0 restarted after \d+ ms$/),
    });
  });

  test("a connection cap: the stream beyond it is refused with 429", async () => {
    await start({ maxEventStreams: 2 });
    await events();
    await events();
    const third = await fetch(`${served.url}events`);
    expect(third.status).toBe(429);
    expect(await third.json()).toEqual({
      error: { code: "ERR_TOO_MANY_CLIENTS", message: "too many event streams open (limit 2)" },
    });
  });

  test("a closed stream frees its place under the cap", async () => {
    await start({ maxEventStreams: 1 });
    const first = await served.api.app.request("/events");
    expect((await served.api.app.request("/events")).status).toBe(429);
    await first.body?.cancel();
    expect(served.api.eventStreams).toBe(0);
    const second = await served.api.app.request("/events");
    expect(second.status).toBe(200);
    await second.body?.cancel();
  });

  test("shutdown: readiness 503 and no new streams at once, drain runs, open streams end with `shutdown`", async () => {
    await start();
    const stream = await events();
    await stream.next("hello");
    let drained!: () => void;
    const draining = new Promise<void>((resolve) => {
      drained = resolve;
    });
    let drainStarted!: () => void;
    const inDrain = new Promise<void>((resolve) => {
      drainStarted = resolve;
    });
    const done = served.shutdown({
      drain: () => {
        drainStarted();
        return draining;
      },
    });
    await inDrain;
    // The listener is closed; the app itself answers what a load balancer would see.
    const health = await served.api.app.request("/health");
    expect(health.status).toBe(503);
    expect((await served.api.app.request("/events")).status).toBe(503);
    drained();
    await done;
    await stream.drain();
    expect(stream.seen.at(-1)?.event).toBe("shutdown");
  });
});

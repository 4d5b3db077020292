import { afterEach, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import {
  type ControlApi,
  createControlApi,
  createStreamsSource,
  type Readiness,
} from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { RedisServer, redisAvailable } from "../support/redis-server.ts";
import { collect, SCRIPTED } from "../support/runtime.ts";
import { SseReader } from "./sse.ts";
import { call } from "./support.ts";

let system: ActorSystem;
let api: ControlApi | undefined;
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  api?.close();
  api = undefined;
  await system?.stop({ deadlineMs: 1000 });
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const health = (target: ControlApi) => call<Readiness>(target, "GET", "/health");

describe("readiness and liveness", () => {
  test("ok with an embedded backend: 200, no reasons, the backend up", async () => {
    system = createSystem();
    const backend = new MemoryStreamBackend();
    api = createControlApi({
      system,
      streams: createStreamsSource({ backend, streams: ["tx"] }),
      defaultMetrics: false,
    });
    const { status, body } = await health(api);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "ok", reasons: [], failedActors: [] });
    expect(body.backend).toMatchObject({ kind: "memory", up: true, error: null });
    expect(await call(api, "GET", "/health/live")).toMatchObject({ status: 200, body: { status: "alive" } });
  });

  test("an actor past its restart intensity makes readiness degraded (still 200)", async () => {
    system = createSystem({ supervisor: { backoff: { minMs: 5, maxMs: 10 } } });
    api = createControlApi({ system, defaultMetrics: false });
    const failed = collect(system, "failed");
    const ref = await system.spawn<ScriptedMessage>(SCRIPTED, {
      name: "flaky",
      maxRestarts: 1,
      maxDeliveries: 100,
    });
    expect((await health(api)).body.status).toBe("ok");
    await ref.tell({ id: 1, op: "exit" });
    await failed.atLeast(1);
    expect(await health(api)).toMatchObject({
      status: 200,
      body: {
        status: "degraded",
        failedActors: ["flaky"],
        reasons: [
          {
            code: "actor-failed",
            message: "actor flaky failed: restart intensity exceeded, it is not restarted",
          },
        ],
      },
    });
  });

  test("a group past its critical watermark makes readiness degraded", async () => {
    system = createSystem();
    const clock = new ManualClock();
    const backend = new MemoryStreamBackend({ clock });
    await backend.ensureGroup("tx", "slow");
    for (let i = 0; i < 5; i++) await backend.append("tx", { n: String(i) });
    clock.advance(2_500);
    const streams = createStreamsSource({ backend, streams: ["tx"], lag: { high: 2, critical: 5 }, clock });
    api = createControlApi({ system, streams, defaultMetrics: false });
    expect((await health(api)).body).toMatchObject({
      status: "degraded",
      reasons: [
        {
          code: "watermark-critical",
          message: "tx/slow over its critical watermark (lag 5 entries, 2.5 s; pending 0)",
        },
      ],
    });
  });

  test("shutting down: readiness 503 at once, liveness still 200", async () => {
    system = createSystem();
    api = createControlApi({ system, defaultMetrics: false });
    api.beginShutdown();
    expect(await health(api)).toMatchObject({
      status: 503,
      body: {
        status: "unhealthy",
        reasons: [{ code: "shutting-down", message: "the process is shutting down" }],
      },
    });
    expect((await call(api, "GET", "/health/live")).status).toBe(200);
  });
});

describe.skipIf(!redisAvailable())("readiness on the test's own redis-server", () => {
  async function redisApi(
    options: { slowPingMs?: number } = {},
    probeTimeoutMs = 300,
    commandTimeoutMs = 500,
  ) {
    const server = await RedisServer.start();
    cleanups.push(() => server.cleanup());
    // Short: closing a client whose server is gone waits this long for its QUIT.
    const backend = new RedisStreamBackend(server.url, { commandTimeoutMs });
    cleanups.push(() => backend.close());
    const stream = `troupe-test-http:${randomUUID()}:tx`;
    await backend.ensureGroup(stream, "g");
    system = createSystem();
    const streams = createStreamsSource({ backend, streams: [stream], probeTimeoutMs });
    api = createControlApi({ system, streams, sourceTimeoutMs: 1500, defaultMetrics: false, ...options });
    return { server, api };
  }

  test("redis stopped → unhealthy 503 with the reason, quickly; liveness never checks Redis", async () => {
    const { server, api } = await redisApi();
    expect((await health(api)).body).toMatchObject({ status: "ok", backend: { kind: "redis", up: true } });
    await server.stop();
    const started = performance.now();
    const { status, body } = await health(api);
    // The probe's deadline (300 ms) decides, not the overview's (1500 ms): ioredis would hold it until a reconnect.
    expect(performance.now() - started).toBeLessThan(1000);
    expect(status).toBe(503);
    expect(body.status).toBe("unhealthy");
    expect(body.reasons[0]).toMatchObject({ code: "backend-unreachable" });
    expect(body.reasons[0]?.message).toStartWith("redis unreachable: ");
    expect(body.backend).toMatchObject({ kind: "redis", up: false, pingMs: null });
    expect((await call(api, "GET", "/health/live")).status).toBe(200);
    // The dashboard's data never hangs either: /streams answers 503 with the cause.
    expect((await call(api, "GET", "/streams")).status).toBe(503);
    // The change is an alert, seen by whichever assessment came first (here /health, with no dashboard
    // open): a dashboard that opens later finds it among the recent ones. Compared only within the stats
    // sent on /events, one that connected just before Redis went down got no alert at all (a spec test).
    const events = new SseReader(await api.app.request("/events"));
    const hello = (await events.next("hello"))?.data as { recent: { source: string; message: string }[] };
    expect(hello.recent.filter((alert) => alert.source === "health")).toEqual([
      expect.objectContaining({
        level: "critical",
        kind: "unhealthy",
        message: expect.stringContaining("readiness ok → unhealthy: redis unreachable"),
      }),
    ]);
    await events.cancel();
  });

  test("a stalled redis (CLIENT PAUSE) → degraded by ping latency", async () => {
    // The pause outlasts a busy machine's delay before the probe (400 ms did not, under load), and the
    // probe's deadline and command timeout outlast the pause.
    const { server, api } = await redisApi({ slowPingMs: 100 }, 4000, 4000);
    const admin = new Redis(server.url, { protocol: 2 });
    cleanups.push(async () => admin.disconnect());
    // The history sampler's first reading starts with the API and is shared by a /health that comes while
    // it runs (its ping taken before the pause): let it finish first.
    expect((await health(api)).body.status).toBe("ok");
    // Every other client's commands wait 1 s from now (the API's own deadline is 1.5 s): the probe's round trip.
    await admin.call("CLIENT", "PAUSE", "1000", "ALL");
    const { status, body } = await health(api);
    expect(status).toBe(200);
    expect(body.status).toBe("degraded");
    expect(body.reasons.map((r) => r.code)).toEqual(["backend-slow"]);
    expect(body.reasons[0]?.message).toMatch(/^redis ping \d+(\.\d+)? ms is over 100 ms$/);
  });
});

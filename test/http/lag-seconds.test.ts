/**
 * Time-based lag: a group's `lagSeconds` is the age of its oldest undelivered entry, and its status follows
 * the seconds watermark as it does the entry counts. Time is a ManualClock shared by the memory backend
 * (entry ids are its write times) and the streams source (its "now"), so the ages are exact, with no sleep.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import {
  type ControlApi,
  createControlApi,
  createStreamsSource,
  type Readiness,
  type StreamGroupInfo,
} from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { Pump } from "../../src/streams/pump.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import type { CounterMessage } from "../fixtures/counter.actor.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { redisAvailable, startTestRedis, type TestRedis } from "../support/redis-server.ts";
import { call } from "./support.ts";

const COUNTER = new URL("../fixtures/counter.actor.ts", import.meta.url);

let system: ActorSystem | undefined;
let api: ControlApi | undefined;
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  api?.close();
  api = undefined;
  await system?.stop({ deadlineMs: 1000 });
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function group(target: ControlApi, name: string): Promise<StreamGroupInfo> {
  const { body } = await call<{ groups: StreamGroupInfo[] }>(target, "GET", "/streams");
  const found = body.groups.find((g) => g.group === name);
  if (!found) throw new Error(`no group ${name} in ${JSON.stringify(body.groups)}`);
  return found;
}

/** A consumer that took one entry and then stopped reading, with traffic still arriving every second. */
async function stalledConsumer(backend: StreamBackend, clock: ManualClock, stream: string) {
  await backend.ensureGroup(stream, "analyzer");
  await backend.append(stream, { n: "0" });
  await backend.readNew(stream, "analyzer", "stuck", { count: 1 });
  clock.advance(1_000);
  await backend.append(stream, { n: "1" });
  return {
    async traffic(seconds: number) {
      for (let s = 0; s < seconds; s++) {
        clock.advance(1_000);
        await backend.append(stream, { n: String(s + 2) });
      }
    },
  };
}

describe("lag in seconds per group", () => {
  test("a stalled consumer crosses warning, then critical, at the configured ages; readiness degrades on critical", async () => {
    system = createSystem();
    const clock = new ManualClock();
    const backend = new MemoryStreamBackend({ clock });
    const consumer = await stalledConsumer(backend, clock, "tx");
    api = createControlApi({
      system,
      streams: createStreamsSource({
        backend,
        streams: ["tx"],
        lagSeconds: { high: 10, critical: 60 },
        pending: { high: 100, critical: 1000 },
        clock,
      }),
      defaultMetrics: false,
    });

    expect(await group(api, "analyzer")).toMatchObject({ lag: 1, lagSeconds: 0, watermark: "ok" });
    await consumer.traffic(9);
    expect(await group(api, "analyzer")).toMatchObject({ lag: 10, lagSeconds: 9, watermark: "ok" });
    await consumer.traffic(1);
    expect(await group(api, "analyzer")).toMatchObject({ lagSeconds: 10, watermark: "high" });
    expect((await call<Readiness>(api, "GET", "/health")).body.status).toBe("ok");

    await consumer.traffic(49);
    expect(await group(api, "analyzer")).toMatchObject({ lagSeconds: 59, watermark: "high" });
    await consumer.traffic(1);
    expect(await group(api, "analyzer")).toMatchObject({ lag: 61, lagSeconds: 60, watermark: "critical" });
    expect((await call<Readiness>(api, "GET", "/health")).body).toMatchObject({
      status: "degraded",
      reasons: [
        {
          code: "watermark-critical",
          message: "tx/analyzer over its critical watermark (lag 61 entries, 60 s; pending 1)",
        },
      ],
    });

    const metrics = await call<string>(api, "GET", "/metrics");
    const family = parsePrometheusTextFormat(metrics.body).find(
      (f) => f.name === "troupe_stream_lag_seconds",
    );
    expect(family?.type).toBe("GAUGE");
    expect(family?.metrics).toEqual([{ labels: { stream: "tx", group: "analyzer" }, value: "60" }]);

    // Caught up: nothing undelivered, no lag in seconds, healthy again.
    await backend.readNew("tx", "analyzer", "stuck", { count: 1_000 });
    expect(await group(api, "analyzer")).toMatchObject({ lag: 0, lagSeconds: 0, watermark: "ok" });
  });

  test("other bands move the thresholds: warning at 2 s, critical at 5 s", async () => {
    system = createSystem();
    const clock = new ManualClock();
    const backend = new MemoryStreamBackend({ clock });
    const consumer = await stalledConsumer(backend, clock, "tx");
    api = createControlApi({
      system,
      streams: createStreamsSource({ backend, streams: ["tx"], lagSeconds: { high: 2, critical: 5 }, clock }),
      defaultMetrics: false,
    });
    await consumer.traffic(1);
    expect(await group(api, "analyzer")).toMatchObject({ lagSeconds: 1, watermark: "ok" });
    await consumer.traffic(1);
    expect(await group(api, "analyzer")).toMatchObject({ lagSeconds: 2, watermark: "high" });
    await consumer.traffic(3);
    expect(await group(api, "analyzer")).toMatchObject({ lagSeconds: 5, watermark: "critical" });
  });

  test("the rate is entries delivered per second over the window", async () => {
    system = createSystem();
    const clock = new ManualClock();
    const backend = new MemoryStreamBackend({ clock });
    await backend.ensureGroup("tx", "g");
    for (let i = 0; i < 100; i++) await backend.append("tx", { n: String(i) });
    api = createControlApi({
      system,
      streams: createStreamsSource({ backend, streams: ["tx"], rateWindowMs: 10_000, clock }),
      defaultMetrics: false,
    });
    expect((await group(api, "g")).rate).toBeNull();
    await backend.readNew("tx", "g", "c", { count: 50 });
    clock.advance(5_000);
    expect((await group(api, "g")).rate).toBe(10);
    clock.advance(10_000);
    expect((await group(api, "g")).rate).toBe(0);
  });

  test("bad bands are refused by name", () => {
    const backend = new MemoryStreamBackend();
    expect(() => createStreamsSource({ backend, lagSeconds: { high: 60, critical: 10 } })).toThrow(
      "lagSeconds: high must be below critical",
    );
    expect(() => createStreamsSource({ backend, lagSeconds: { high: 0, critical: 10 } })).toThrow(
      "lagSeconds.high: must be above 0",
    );
  });
});

describe.skipIf(!redisAvailable())("lag in seconds on Redis", () => {
  test("the age comes from the entry id Redis gave the first undelivered entry", async () => {
    const redis: TestRedis = await startTestRedis();
    cleanups.push(() => redis.close());
    const backend = new RedisStreamBackend(redis.url);
    const stream = `troupe-test-http:${randomUUID()}:tx`;
    cleanups.push(async () => {
      const client = new Redis(redis.url);
      await client.del(stream);
      client.disconnect();
      await backend.close();
    });
    await backend.ensureGroup(stream, "analyzer");
    const first = await backend.append(stream, { n: "0" });
    await backend.readNew(stream, "analyzer", "stuck", { count: 1 });
    const waiting = await backend.append(stream, { n: "1" });
    await backend.append(stream, { n: "2" });
    // "Now" 30 s after the first undelivered entry was written: its age, whatever the entries' own times.
    const clock = new ManualClock(Number(waiting.split("-")[0]) + 30_000);
    system = createSystem();
    api = createControlApi({
      system,
      streams: createStreamsSource({ backend, streams: [stream], clock }),
      defaultMetrics: false,
    });
    expect(first < waiting).toBe(true);
    expect(await group(api, "analyzer")).toMatchObject({ lag: 2, lagSeconds: 30, watermark: "high" });
  });
});

describe("pending under way is not stuck", () => {
  test("entries a live pump holds for its durable actor (uncovered by a checkpoint yet) do not raise the pending watermark; the same count with no pump does", async () => {
    system = createSystem();
    const backend = new MemoryStreamBackend();
    const store = backend.stateStore({ anchor: "tx" });
    const counter = await system.spawn<CounterMessage>(COUNTER, {
      name: "counter",
      capacity: 64,
      // No checkpoint before the test ends: every handled entry stays pending, held by the pump.
      state: { store, checkpointEvery: 1_000, checkpointIntervalMs: 600_000 },
    });
    const pump = new Pump(backend, counter, {
      stream: "tx",
      group: "counter",
      stateStore: store,
      sweepIntervalMs: 0,
      blockMs: 20,
    });
    cleanups.push(() => pump.stop());
    await pump.start();
    // Read means held (handled or waiting in the mailbox); the checkpoint that would ack them is far off.
    const held = new Promise<void>((resolve) => {
      const off = pump.on("read", () => {
        if (pump.stats.held < 20) return;
        off();
        resolve();
      });
    });
    for (let id = 1; id <= 20; id++)
      await backend.append("tx", defaultCodec.encode({ key: `k${id % 3}`, id }));
    await held;
    // A group nobody serves, holding as many entries pending: a consumer that took them and died.
    await backend.ensureGroup("tx", "orphans", "0");
    await backend.readNew("tx", "orphans", "dead", { count: 20 });
    api = createControlApi({
      system,
      streams: createStreamsSource({ backend, pumps: [pump], pending: { high: 5, critical: 10 } }),
      defaultMetrics: false,
    });
    expect(await group(api, "counter")).toMatchObject({ pending: 20, watermark: "ok" });
    expect(await group(api, "orphans")).toMatchObject({ pending: 20, watermark: "critical" });
  });
});

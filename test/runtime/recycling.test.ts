/**
 * Worker recycling (issue 15): a planned restart after N messages or past a heap limit loses nothing,
 * handles nothing twice, and is not a failure (an actor allowed no restart at all keeps running). Also
 * durable state under concurrency: the checkpoint barrier keeps every checkpoint exact across crashes.
 */
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { type ApiServer, startApiServer } from "../../examples/enrichment/api-server.ts";
import { type ActorSystem, createSystem, MemoryStateStore } from "../../src/index.ts";
import { engineOf } from "../../src/runtime/actor-ref.ts";
import type { AsyncCounterMessage } from "../fixtures/async-counter.actor.ts";
import type { CounterMessage } from "../fixtures/counter.actor.ts";
import type { FetchMessage } from "../fixtures/fetcher.actor.ts";
import { collect, range, sharedLog, trips } from "../support/runtime.ts";

const FETCHER = new URL("../fixtures/fetcher.actor.ts", import.meta.url);
const COUNTER = new URL("../fixtures/counter.actor.ts", import.meta.url);
const ASYNC_COUNTER = new URL("../fixtures/async-counter.actor.ts", import.meta.url);

let api: ApiServer;
let system: ActorSystem;

beforeAll(() => {
  api = startApiServer({ latencyMs: 5 });
});
afterAll(async () => {
  await api.stop();
});
afterEach(async () => {
  await system?.stop({ deadlineMs: 1000 });
});

/** Ids whose handler started, from the fetcher's log (`id * 2` on entry). */
function startedIds(values: number[]): number[] {
  return values.filter((v) => v % 2 === 0).map((v) => v / 2);
}

test("recycling after N messages restarts the worker as planned: nothing lost or repeated, no failure", async () => {
  // maxRestarts 0: a restart counted as a failure would fail the actor at once.
  system = createSystem({ supervisor: { maxRestarts: 0 } });
  const recycled = collect(system, "recycled");
  const crashed = collect(system, "crashed");
  const log = sharedLog(1000);
  const ref = await system.spawn<FetchMessage>(FETCHER, {
    concurrency: 5,
    capacity: 16,
    recycle: { afterMessages: 50 },
    init: { baseUrl: api.url, log: log.buffer },
  });
  const replies = await Promise.all(
    range(0, 200).map((id) => ref.ask({ id, path: `/check/a?mint=${id}` }, { timeoutMs: 20_000 })),
  );
  expect(replies).toHaveLength(200);
  await recycled.atLeast(3);
  expect(recycled.seen.every((e) => e.reason === "messages" && e.handled >= 50)).toBe(true);
  expect(startedIds(log.ids()).sort((a, b) => a - b)).toEqual(range(0, 200));
  expect(crashed.seen).toHaveLength(0);
  expect(ref.status).toBe("running");
  const stats = ref.stats().instances[0];
  expect(stats?.restarts).toBe(0);
  expect(stats?.recycles).toBe(recycled.seen.length);
}, 30_000);

test("recycling past a heap limit: the leaking worker is replaced before it grows further, nothing lost", async () => {
  system = createSystem({ supervisor: { maxRestarts: 0 } });
  const recycled = collect(system, "recycled");
  const log = sharedLog(1000);
  const ref = await system.spawn<FetchMessage>(FETCHER, {
    concurrency: 2,
    capacity: 4,
    recycle: { maxHeapMb: 48 },
    init: { baseUrl: api.url, log: log.buffer },
  });
  // 4 MiB kept per message: 120 of them would hold 480 MiB in one worker.
  const replies = await Promise.all(
    range(0, 120).map((id) =>
      ref.ask({ id, op: "leak", leakKb: 4096, path: `/check/a?mint=${id}&ms=1` }, { timeoutMs: 30_000 }),
    ),
  );
  expect(replies).toHaveLength(120);
  await recycled.atLeast(1);
  expect(recycled.seen[0]).toMatchObject({ reason: "heap" });
  expect(recycled.seen[0]?.heapBytes).toBeGreaterThan(48 * 1024 * 1024);
  expect(startedIds(log.ids()).sort((a, b) => a - b)).toEqual(range(0, 120));
  expect(ref.status).toBe("running");
  expect(ref.stats().instances[0]?.restarts).toBe(0);
}, 60_000);

test("a durable actor is recycled through a checkpoint and restores its state", async () => {
  system = createSystem({ supervisor: { maxRestarts: 0 } });
  const recycled = collect(system, "recycled");
  const ref = await system.spawn<CounterMessage>(COUNTER, {
    capacity: 64,
    recycle: { afterMessages: 100 },
    state: { store: new MemoryStateStore(), checkpointEvery: 30 },
  });
  const messages = range(0, 400).map((id) => ({ key: `k${id % 7}`, id: id + 1 }));
  for (const message of messages) await ref.tell(message);
  await recycled.atLeast(3);
  const counts = await ref.ask({ key: "k0", id: 0, op: "get" });
  expect(counts).toBe(58);
  const all = await ref.query<Record<string, number>>("counts");
  expect(Object.values(all).reduce((a, b) => a + b, 0)).toBe(400);
  expect(ref.stats().instances[0]?.restarts).toBe(0);
}, 30_000);

test("durable state under concurrency: checkpoints wait for handlers in progress, so crashes count each message once", async () => {
  system = createSystem({ supervisor: { backoff: { minMs: 10, maxMs: 50 }, maxRestarts: 20 } });
  const restarted = collect(system, "restarted");
  const ref = await system.spawn<AsyncCounterMessage>(ASYNC_COUNTER, {
    concurrency: 8,
    orderBy: "none",
    capacity: 64,
    state: { store: new MemoryStateStore(), checkpointEvery: 5, checkpointIntervalMs: 20 },
    init: { trips: trips(3) },
  });
  const messages = range(0, 600).map((id) => ({
    key: `k${id % 5}`,
    id,
    // Varied waits finish them out of order; three crashes after an effect no checkpoint covers yet.
    ms: (id * 7) % 13,
    ...(id % 150 === 149 ? { op: "exit" as const } : {}),
  }));
  for (const message of messages) await ref.tell(message);
  // Drained: every message handled and covered by a durable checkpoint.
  await engineOf(ref).instances[0]?.mailbox.drained();
  expect(restarted.seen).toHaveLength(3);
  expect(await ref.query("counts")).toEqual({ k0: 120, k1: 120, k2: 120, k3: 120, k4: 120 });
}, 30_000);

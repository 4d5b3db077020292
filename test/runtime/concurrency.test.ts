/**
 * Concurrent async handlers in one worker (issue 15): real workers calling a real local HTTP server (the
 * enrichment example's API server), which counts requests in flight and connections closed on it.
 */
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { type ApiServer, startApiServer } from "../../examples/enrichment/api-server.ts";
import { type ActorDeadLetter, type ActorSystem, createSystem, TroupeError } from "../../src/index.ts";
import { defaultCodec, MemoryStreamBackend, Pump } from "../../src/streams/index.ts";
import type { FetcherInit, FetchMessage } from "../fixtures/fetcher.actor.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { collect, range, SCRIPTED, sharedLog, trips } from "../support/runtime.ts";

const FETCHER = new URL("../fixtures/fetcher.actor.ts", import.meta.url);

let api: ApiServer;
let system: ActorSystem;

beforeAll(() => {
  api = startApiServer({ latencyMs: 50 });
});
afterAll(async () => {
  await api.stop();
});
afterEach(async () => {
  await system?.stop({ deadlineMs: 1000 });
  api.openGate();
  api.closeGate();
  api.resetCounts();
});

function init(extra: Partial<FetcherInit> = {}): FetcherInit {
  return { baseUrl: api.url, ...extra };
}

/** Entries (`id * 2`) of the fixture's log, in the order the handlers started. */
function starts(ids: number[]): number[] {
  return ids.filter((v) => v % 2 === 0).map((v) => v / 2);
}

test("200 messages of 50 ms awaited I/O at concurrency 20 on one instance overlap 20 at a time", async () => {
  system = createSystem();
  const ref = await system.spawn<FetchMessage>(FETCHER, { concurrency: 20, init: init() });
  const started = performance.now();
  const replies = await Promise.all(range(0, 200).map((id) => ref.ask({ id, path: `/check/a?mint=${id}` })));
  const elapsed = performance.now() - started;
  expect(replies).toHaveLength(200);
  expect(api.maxInFlight).toBe(20);
  // Serially this is 200 × 50 ms = 10 s; 20 at a time, ~0.5 s. A quarter of the serial sum is a wide margin.
  expect(elapsed).toBeLessThan((200 * 50) / 4);
  expect(ref.stats().instances[0]?.restarts).toBe(0);
}, 30_000);

test("a hung request is aborted at its deadline, redelivered, then dead-lettered; the worker lives on", async () => {
  const deadLetters: ActorDeadLetter[] = [];
  system = createSystem({ onDeadLetter: (dl) => deadLetters.push(dl) });
  const crashed = collect(system, "crashed");
  const dead = collect(system, "deadLettered");
  const ref = await system.spawn<FetchMessage>(FETCHER, {
    concurrency: 8,
    messageTimeoutMs: 300,
    maxDeliveries: 3,
    init: init(),
  });
  await ref.tell({ id: 0, path: "/check/a?mint=hung&hang=1" });
  const others = range(1, 41).map((id) => ref.ask({ id, path: `/check/a?mint=${id}&ms=20` }));
  expect(await Promise.all(others)).toHaveLength(40);
  await dead.atLeast(1);
  // The server saw each of the three deliveries' connections closed by the client.
  await api.abortedReached(3);
  expect(api.aborted).toBe(3);
  expect(deadLetters).toHaveLength(1);
  expect(deadLetters[0]).toMatchObject({ message: { id: 0 }, reason: "ERR_MAX_DELIVERIES", deliveries: 3 });
  expect(deadLetters[0]?.error).toMatchObject({ code: "ERR_HANDLER_TIMEOUT" });
  expect(crashed.seen).toHaveLength(0);
  const stats = ref.stats().instances[0];
  expect(stats?.restarts).toBe(0);
  expect(stats?.failed).toBe(3);
}, 30_000);

test("a handler that ignores its signal and keeps the CPU busy is still stopped by the worker deadline, and blamed", async () => {
  const deadLetters: ActorDeadLetter[] = [];
  system = createSystem({ onDeadLetter: (dl) => deadLetters.push(dl) });
  const crashed = collect(system, "crashed");
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, {
    concurrency: 4,
    messageTimeoutMs: 200,
    deadlineMs: 600,
    maxDeliveries: 1,
    init: { trips: trips(1, 1) },
  });
  // 1 awaits forever (the oldest in progress), then 2 spins: its deadline cannot fire, the worker's can.
  const first = ref.ask({ id: 1, op: "await-forever", trip: 0 }, { timeoutMs: 10_000 });
  await ref.tell({ id: 2, op: "hang", trip: 1 });
  await crashed.atLeast(1);
  expect(crashed.seen[0]).toMatchObject({ reason: "deadline", error: { code: "ERR_DEADLINE_EXCEEDED" } });
  // The spinning handler is blamed (dead-lettered at its first failure), not the oldest one in progress.
  expect(deadLetters.map((dl) => dl.message)).toEqual([{ id: 2, op: "hang", trip: 1 }]);
  expect(await first).toBe(1);
}, 30_000);

test("a crash with 20 messages in progress redelivers all 20, in order, to the restarted worker", async () => {
  system = createSystem();
  const restarted = collect(system, "restarted");
  const log = sharedLog(1000);
  const ref = await system.spawn<FetchMessage>(FETCHER, {
    concurrency: 21,
    init: init({ log: log.buffer, trips: trips(1) }),
  });
  const replies = range(0, 20).map((id) =>
    ref.ask({ id, path: `/check/a?mint=${id}&gate=1` }, { timeoutMs: 20_000 }),
  );
  await api.inFlightReached(20);
  const exit = ref.ask({ id: 20, op: "exit" }, { timeoutMs: 20_000 });
  await restarted.atLeast(1);
  // The restarted worker got them again and started them in seq order; the exit is armed once only.
  await api.inFlightReached(20);
  api.openGate();
  const results = (await Promise.all([...replies, exit])) as Array<{ id: number; deliveries: number }>;
  expect(results.map((r) => r.id)).toEqual(range(0, 21));
  expect(results.every((r) => r.deliveries === 2)).toBe(true);
  const entries = starts(log.ids());
  expect(entries.slice(0, 21)).toEqual(range(0, 21));
  expect(entries.slice(21)).toEqual(range(0, 21));
  expect(ref.stats().instances[0]?.restarts).toBe(1);
}, 30_000);

test("messages with the same order key run one at a time, in order, while different keys overlap", async () => {
  system = createSystem();
  const log = sharedLog(10_000);
  const ref = await system.spawn<FetchMessage>(FETCHER, {
    concurrency: 16,
    orderBy: (message) => message.key ?? 0,
    init: init({ log: log.buffer }),
  });
  const keys = 8;
  const perKey = 25;
  const messages = range(0, keys * perKey).map((id) => ({
    id,
    key: id % keys,
    // Later messages of a key are faster, so without ordering they would overtake the earlier ones.
    path: `/check/a?mint=${id}&ms=${40 - Math.floor(id / keys)}`,
  }));
  await Promise.all(messages.map((message) => ref.ask(message, { timeoutMs: 20_000 })));
  const events = log.ids();
  for (let key = 0; key < keys; key++) {
    const ofKey = events.filter((v) => Math.floor(v / 2) % keys === key);
    const expected = range(0, perKey).flatMap((n) => [(n * keys + key) * 2, (n * keys + key) * 2 + 1]);
    expect(ofKey).toEqual(expected);
  }
  expect(api.maxInFlight).toBe(keys);
}, 30_000);

test("a pump-fed actor routed by key keeps stream order per key by default, under concurrency", async () => {
  system = createSystem();
  const backend = new MemoryStreamBackend();
  const log = sharedLog(10_000);
  const keys = 6;
  const perKey = 20;
  const ref = await system.spawn<FetchMessage>(FETCHER, {
    concurrency: 12,
    route: (message) => message.key ?? 0,
    init: init({ log: log.buffer }),
  });
  const pump = new Pump(backend, ref, { stream: "ordered", group: "fetcher" });
  await pump.start();
  const all = Promise.withResolvers<void>();
  let acked = 0;
  pump.on("acked", ({ ids }) => {
    acked += ids.length;
    if (acked === keys * perKey) all.resolve();
  });
  await backend.appendBatch(
    "ordered",
    range(0, keys * perKey).map((id) =>
      defaultCodec.encode({
        id,
        key: id % keys,
        path: `/check/a?mint=${id}&ms=${30 - Math.floor(id / keys)}`,
      } satisfies FetchMessage),
    ),
  );
  await all.promise;
  await pump.stop();
  const events = log.ids();
  for (let key = 0; key < keys; key++) {
    const ofKey = events.filter((v) => Math.floor(v / 2) % keys === key);
    expect(ofKey).toEqual(range(0, perKey).flatMap((n) => [(n * keys + key) * 2, (n * keys + key) * 2 + 1]));
  }
  expect(api.maxInFlight).toBe(keys);
}, 30_000);

test("askMany settles one result per message, in order, with typed errors for the failed ones", async () => {
  system = createSystem();
  const ref = await system.spawn<FetchMessage, { id: number; deliveries: number }>(FETCHER, {
    concurrency: 10,
    maxDeliveries: 2,
    init: init(),
  });
  const messages: FetchMessage[] = range(0, 30).map((id) => ({
    id,
    path:
      id % 10 === 3
        ? `/check/a?mint=${id}&fail=1`
        : id === 7
          ? `/check/a?mint=${id}&hang=1`
          : `/check/a?mint=${id}&ms=10`,
  }));
  const settled = await ref.askMany(messages, { timeoutMs: 10_000, messageTimeoutMs: 500 });
  expect(settled).toHaveLength(30);
  for (const [i, outcome] of settled.entries()) {
    if (i % 10 === 3) {
      expect(outcome.ok).toBe(false);
      expect(!outcome.ok && outcome.error).toBeInstanceOf(TroupeError);
      expect(!outcome.ok && outcome.error.code).toBe("ERR_MAX_DELIVERIES");
    } else if (i === 7) {
      expect(!outcome.ok && outcome.error.code).toBe("ERR_ASK_TIMEOUT");
    } else {
      expect(outcome).toEqual({ ok: true, value: { id: i, deliveries: 1 } });
    }
  }
  // The hung one was cancelled in its worker: the server saw its connection closed.
  await api.abortedReached(1);
});

test("askMany spreads a batch over the instances and their concurrency", async () => {
  system = createSystem();
  const ref = await system.spawn<FetchMessage, { id: number }>(FETCHER, {
    instances: 2,
    concurrency: 10,
    init: init(),
  });
  const settled = await ref.askMany(range(0, 100).map((id) => ({ id, path: `/check/a?mint=${id}&ms=30` })));
  expect(settled.map((s) => s.ok && s.value.id)).toEqual(range(0, 100));
  expect(api.maxInFlight).toBe(20);
  expect(ref.stats().instances.map((i) => i.processed)).toEqual([50, 50]);
});

// Undefined: the default, one message at a time in the worker's serial loop (a spec test found a handler
// rejecting on its abort there taken for a failure, and its message run again).
for (const concurrency of [undefined, 1, 4]) {
  test(`an ask that times out cancels its message (concurrency ${concurrency ?? "unset"}): its request is aborted, no redelivery`, async () => {
    system = createSystem();
    const ref = await system.spawn<FetchMessage>(FETCHER, {
      ...(concurrency !== undefined && { concurrency }),
      maxDeliveries: 3,
      init: init(),
    });
    const asked = ref.ask({ id: 1, path: "/check/a?mint=asked&hang=1" }, { timeoutMs: 300 }).catch((e) => e);
    // Queued behind the hung one (concurrency 1), or running beside it: cancelled either way. It times out
    // first: with equal timeouts, the hung one's cancellation could free the slot a moment before this
    // one's arrived, and it would start (a request more) on a loaded machine.
    const queued = ref
      .ask({ id: 2, path: "/check/a?mint=queued&hang=1" }, { timeoutMs: 100 })
      .catch((e) => e);
    expect(await asked).toMatchObject({ code: "ERR_ASK_TIMEOUT" });
    expect(await queued).toMatchObject({ code: "ERR_ASK_TIMEOUT" });
    const serial = (concurrency ?? 1) === 1;
    await api.abortedReached(serial ? 1 : 2);
    // Handled after both: a redelivery of either would have reached the server before this one.
    expect(await ref.ask({ id: 3, path: "/check/a?mint=after&ms=1" })).toEqual({ id: 3, deliveries: 1 });
    expect(api.requests).toBe(serial ? 2 : 3);
    // Given up on by their askers: neither a handler failure nor a dead letter.
    expect(ref.stats().instances[0]).toMatchObject({ failed: 0, deadLettered: 0 });
  });
}

test("askMany's overall timeout settles what is left with ERR_ASK_TIMEOUT and never rejects", async () => {
  system = createSystem();
  const ref = await system.spawn<FetchMessage>(FETCHER, { concurrency: 4, init: init() });
  const settled = await ref.askMany(
    [
      { id: 0, path: "/check/a?mint=0&ms=1" },
      { id: 1, path: "/check/a?mint=1&hang=1" },
    ],
    { timeoutMs: 300, messageTimeoutMs: 5000 },
  );
  expect(settled[0]).toEqual({ ok: true, value: { id: 0, deliveries: 1 } });
  expect(settled[1]).toMatchObject({ ok: false, error: { code: "ERR_ASK_TIMEOUT" } });
  await api.abortedReached(1);
});

test("options that cannot work fail at spawn, naming the setting", async () => {
  system = createSystem();
  await expect(system.spawn(FETCHER, { concurrency: 2000, capacity: 1024 })).rejects.toMatchObject({
    code: "ERR_INVALID_OPTION",
    option: "concurrency",
  });
  await expect(system.spawn(FETCHER, { messageTimeoutMs: 30_000, deadlineMs: 30_000 })).rejects.toMatchObject(
    {
      option: "messageTimeoutMs",
    },
  );
  await expect(system.spawn(FETCHER, { recycle: {} })).rejects.toMatchObject({ option: "recycle" });
  await expect(system.spawn(FETCHER, { orderBy: "stream" as "route" })).rejects.toMatchObject({
    option: "orderBy",
  });
});

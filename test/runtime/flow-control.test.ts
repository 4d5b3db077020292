import { afterEach, expect, test } from "bun:test";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { engineOf } from "../../src/runtime/actor-ref.ts";
import type { AsyncCounterMessage } from "../fixtures/async-counter.actor.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { collect, rejectionOf, SCRIPTED, sharedLog } from "../support/runtime.ts";

const ASYNC_COUNTER = new URL("../fixtures/async-counter.actor.ts", import.meta.url);

let system: ActorSystem;
afterEach(async () => {
  await system?.stop({ deadlineMs: 2000 });
});

/** Documented bound (README, Limitations): the main thread's heap grows by less than this under backpressure. */
const HEAP_GROWTH_BOUND = 32 * 1024 * 1024;

test("a producer 100× faster than a 1 ms actor never has more than `capacity` unprocessed messages per instance", async () => {
  system = createSystem();
  const backpressure = collect(system, "backpressure");
  const log = sharedLog(100_000);
  const capacity = 256;
  // Ten workers of one actor sleeping 1 ms per message: the producer below posts at > 100k msg/s.
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, {
    capacity,
    instances: 10,
    init: { log: log.buffer },
  });
  const mailboxes = engineOf(ref).instances.map((i) => i.mailbox);
  Bun.gc(true);
  const heapBefore = process.memoryUsage().heapUsed;
  let maxHeld = 0;
  let maxHeap = heapBefore;
  for (let id = 1; id <= 100_000; id++) {
    await ref.tell({ id, op: "sleep", ms: 1 });
    for (const mailbox of mailboxes) maxHeld = Math.max(maxHeld, mailbox.held);
    if (id % 1000 === 0) maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed);
  }
  await Promise.all(mailboxes.map((m) => m.drained()));
  expect(maxHeld).toBeLessThanOrEqual(capacity);
  expect(maxHeld).toBe(capacity);
  expect(maxHeap - heapBefore).toBeLessThan(HEAP_GROWTH_BOUND);
  expect(new Set(log.ids()).size).toBe(100_000);
  expect(backpressure.seen.length).toBeGreaterThan(0);
}, 60_000);

test("tryTell reports no credit instead of queueing, and never exceeds capacity", async () => {
  system = createSystem();
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { capacity: 8 });
  await ref.tell({ id: 0, op: "sleep", ms: 200 });
  let accepted = 1;
  while (ref.tryTell({ id: accepted })) accepted++;
  expect(accepted).toBe(8);
  expect(ref.stats().instances[0]).toMatchObject({ credits: 0, capacity: 8 });
  expect(await ref.ask({ id: 99 })).toBe(99);
});

test("tellMany sends in order through the credit window", async () => {
  system = createSystem();
  const log = sharedLog(5001);
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { capacity: 16, init: { log: log.buffer } });
  await ref.tellMany(Array.from({ length: 5000 }, (_, i) => ({ id: i })));
  await ref.ask({ id: -1 });
  expect(log.ids()).toEqual([...Array.from({ length: 5000 }, (_, i) => i), -1]);
});

test("too many senders waiting for credit are refused with a typed error", async () => {
  system = createSystem();
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { capacity: 1, maxWaiting: 2 });
  await ref.tell({ id: 0, op: "sleep", ms: 100 });
  const waiting = [ref.tell({ id: 1 }), ref.tell({ id: 2 })];
  expect(await rejectionOf(ref.tell({ id: 3 }))).toMatchObject({ code: "ERR_TOO_MANY_WAITING" });
  await Promise.all(waiting);
});

test("a full mailbox keeps sending large frames (regression: credits returned in dribbles shrank frames to ~2 messages)", async () => {
  system = createSystem();
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { capacity: 1024 });
  for (let id = 0; id < 100_000; id++) {
    if (!ref.tryTell({ id })) await ref.tell({ id });
  }
  await engineOf(ref).instances[0]?.mailbox.drained();
  const { processed, frames } = ref.stats().instances[0]!;
  expect(processed).toBe(100_000);
  expect(processed / frames).toBeGreaterThan(64);
});

test("a reply does not wait for the messages queued behind it: an ask of 1 ms ahead of fifteen of 100 ms", async () => {
  system = createSystem();
  const ref = await system.spawn<AsyncCounterMessage, number>(ASYNC_COUNTER);
  const asked = performance.now();
  const replied = ref.ask({ key: "a", id: 0, ms: 1 }).then(() => performance.now() - asked);
  for (let id = 1; id <= 15; id++) await ref.tell({ key: "b", id, ms: 100 });
  // Acks are batched; before, the worker acked once it ran dry: ~1,500 ms, past a 1 s ask timeout.
  expect(await replied).toBeLessThan(400);
  // And a batch's messages are answered as they finish, not at its end.
  const other = await system.spawn<AsyncCounterMessage, number>(ASYNC_COUNTER, { name: "other" });
  const many = other.askMany(
    Array.from({ length: 8 }, (_, id) => ({ key: "c", id, ms: 50 })),
    { timeoutMs: 250 },
  );
  const settled = await many;
  expect(settled.filter((s) => s.ok).length).toBeGreaterThanOrEqual(3);
}, 10_000);

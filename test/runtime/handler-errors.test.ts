import { afterEach, expect, test } from "bun:test";
import { type ActorDeadLetter, type ActorSystem, createSystem } from "../../src/index.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { collect, range, rejectionOf, SCRIPTED, sharedLog, trips } from "../support/runtime.ts";

let system: ActorSystem;
afterEach(async () => {
  await system?.stop({ deadlineMs: 1000 });
});

test("a throwing message is redelivered, then dead-lettered with its error; every other message is handled once", async () => {
  const deadLetters: ActorDeadLetter[] = [];
  system = createSystem({ onDeadLetter: (dl) => deadLetters.push(dl) });
  const dead = collect(system, "deadLettered");
  const crashed = collect(system, "crashed");
  const log = sharedLog(1000);
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, {
    maxDeliveries: 3,
    capacity: 32,
    init: { log: log.buffer },
  });
  for (const id of range(1, 301)) await ref.tell(id === 100 ? { id, op: "throw-always" } : { id });
  await dead.atLeast(1);
  await ref.ask({ id: 1000 });

  const ids = log.ids();
  expect(ids.filter((id) => id !== 1000).sort((a, b) => a - b)).toEqual(
    range(1, 301).filter((id) => id !== 100),
  );
  expect(deadLetters).toHaveLength(1);
  expect(deadLetters[0]).toMatchObject({
    actor: "scripted",
    deliveries: 3,
    reason: "ERR_MAX_DELIVERIES",
    message: { id: 100 },
  });
  expect(deadLetters[0]?.error.message).toBe("handler failed on 100");
  expect(dead.seen[0]).toMatchObject({ reason: "ERR_MAX_DELIVERIES", deliveries: 3 });
  expect(crashed.seen).toHaveLength(0);
  const stats = ref.stats().instances[0];
  expect(stats).toMatchObject({ failed: 3, deadLettered: 1, restarts: 0, processed: 300 });
  expect(stats?.lastError?.message).toBe("handler failed on 100");
});

test("a message that fails twice then succeeds is handled, with its delivery count", async () => {
  system = createSystem();
  const ref = await system.spawn<ScriptedMessage, number>(SCRIPTED, {
    maxDeliveries: 5,
    init: { trips: trips(2) },
  });
  expect(await ref.ask({ id: 7, op: "throw" })).toBe(7);
  expect(ref.stats().instances[0]?.failed).toBe(2);
});

test("ask on a message that keeps failing rejects with ERR_MAX_DELIVERIES", async () => {
  system = createSystem();
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { maxDeliveries: 2 });
  expect(await rejectionOf(ref.ask({ id: 1, op: "throw-always" }))).toMatchObject({
    code: "ERR_MAX_DELIVERIES",
  });
});

test('onHandlerError "crash" turns a throw into a worker crash, blamed on that message', async () => {
  const deadLetters: ActorDeadLetter[] = [];
  system = createSystem({
    supervisor: { backoff: { minMs: 10, maxMs: 20 }, maxRestarts: 10 },
    onDeadLetter: (dl) => deadLetters.push(dl),
  });
  const crashes = collect(system, "crashed");
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { onHandlerError: "crash", maxDeliveries: 2 });
  await ref.tell({ id: 1, op: "throw-always" });
  expect(await ref.ask({ id: 2 })).toBe(2);
  await crashes.atLeast(2);
  expect(crashes.seen.map((e) => e.reason)).toEqual(["handlerError", "handlerError"]);
  expect(deadLetters.map((dl) => [dl.message, dl.reason])).toEqual([
    [{ id: 1, op: "throw-always" }, "ERR_MAX_DELIVERIES"],
  ]);
});

test("a bystander redelivered after another message's crash is not blamed for it (regression)", async () => {
  const deadLetters: ActorDeadLetter[] = [];
  system = createSystem({
    supervisor: { backoff: { minMs: 5, maxMs: 10 } },
    onDeadLetter: (dl) => deadLetters.push(dl),
  });
  const restarted = collect(system, "restarted");
  const log = sharedLog(10);
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, {
    maxDeliveries: 2,
    init: { log: log.buffer, trips: trips(1, 1) },
  });
  // 1 kills the worker once; 2, in flight then, is redelivered (delivery 2) and kills the worker once itself.
  await ref.tell({ id: 1, op: "exit", trip: 0 });
  await ref.tell({ id: 2, op: "exit", trip: 1 });
  await restarted.atLeast(2);
  expect(await ref.ask({ id: 3 })).toBe(3);
  expect(deadLetters).toEqual([]);
  // At-least-once: 1 may be handled again (it was in flight, unacked, when 2 crashed the worker).
  expect(new Set(log.ids())).toEqual(new Set([1, 2, 3]));
  expect(log.ids().slice(-2)).toEqual([2, 3]);
});

test("a rejected message is dead-lettered at once, never redelivered", async () => {
  const deadLetters: ActorDeadLetter[] = [];
  system = createSystem({ onDeadLetter: (dl) => deadLetters.push(dl) });
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { maxDeliveries: 5 });
  await ref.tell({ id: 1, op: "refuse" });
  expect(await ref.ask({ id: 2 })).toBe(2);
  expect(deadLetters.map((dl) => [dl.reason, dl.deliveries, dl.error.message])).toEqual([
    ["ERR_MESSAGE_REJECTED", 1, "refused 1"],
  ]);
  expect(await rejectionOf(ref.ask({ id: 3, op: "refuse" }))).toMatchObject({ code: "ERR_MESSAGE_REJECTED" });
  expect(ref.stats().instances[0]?.deadLettered).toBe(2);
});

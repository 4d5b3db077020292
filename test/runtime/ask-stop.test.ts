import { afterEach, expect, test } from "bun:test";
import { type ActorDeadLetter, type ActorSystem, createSystem, TroupeError } from "../../src/index.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { collect, range, rejectionOf, SCRIPTED, sharedLog } from "../support/runtime.ts";

let system: ActorSystem;
afterEach(async () => {
  await system?.stop({ deadlineMs: 1000 });
});

test("ask times out with a typed error", async () => {
  system = createSystem();
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED);
  const error = await rejectionOf(ref.ask({ id: 1, op: "sleep", ms: 300 }, { timeoutMs: 50 }));
  expect(error).toBeInstanceOf(TroupeError);
  expect(error).toMatchObject({ code: "ERR_ASK_TIMEOUT", actor: "scripted" });
  expect((error as Error).message).toBe("ask to scripted got no reply within 50 ms");
});

test("stop drains in-flight work before its deadline", async () => {
  system = createSystem();
  const stopped = collect(system, "stopped");
  const log = sharedLog(1000);
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { capacity: 256, init: { log: log.buffer } });
  for (const id of range(0, 200)) await ref.tell({ id, op: "sleep", ms: 2 });
  const result = await ref.stop({ deadlineMs: 5000 });
  expect(result).toEqual({ drained: true, undelivered: 0 });
  expect(log.ids()).toEqual(range(0, 200));
  expect(stopped.seen[0]).toEqual({ actor: "scripted", drained: true, undelivered: 0 });
  expect(await rejectionOf(ref.tell({ id: 1 }))).toMatchObject({ code: "ERR_ACTOR_STOPPED" });
  expect(system.actor("scripted")).toBeUndefined();
});

test("two stops at once are one stop: the same result, one stopped event", async () => {
  system = createSystem();
  const stopped = collect(system, "stopped");
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { capacity: 64 });
  for (const id of range(0, 20)) await ref.tell({ id, op: "sleep", ms: 2 });
  const [first, second] = await Promise.all([ref.stop({ deadlineMs: 5000 }), ref.stop({ deadlineMs: 5000 })]);
  expect(first).toEqual({ drained: true, undelivered: 0 });
  expect(second).toEqual(first);
  expect(await ref.stop()).toEqual(first);
  expect(stopped.seen).toEqual([{ actor: "scripted", drained: true, undelivered: 0 }]);
});

test("stop past its deadline terminates and reports what it could not finish", async () => {
  const deadLetters: ActorDeadLetter[] = [];
  system = createSystem({ onDeadLetter: (dl) => deadLetters.push(dl) });
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { capacity: 64 });
  for (const id of range(0, 50)) await ref.tell({ id, op: "sleep", ms: 20 });
  const result = await system.stop({ deadlineMs: 100 });
  expect(result.drained).toBe(false);
  expect(result.undelivered).toBeGreaterThan(30);
  expect(deadLetters).toHaveLength(result.undelivered);
  expect(new Set(deadLetters.map((dl) => dl.reason))).toEqual(new Set(["ERR_ACTOR_STOPPED"]));
  expect(system.health().status).toBe("stopping");
});

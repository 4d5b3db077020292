import { afterEach, expect, test } from "bun:test";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { engineOf } from "../../src/runtime/actor-ref.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { ECHO, entered, rejectionOf, SCRIPTED, sharedLog } from "../support/runtime.ts";

let system: ActorSystem;
afterEach(async () => {
  await system?.stop({ deadlineMs: 1000 });
});

test("snapshot and queries reach each instance's state through the control plane", async () => {
  system = createSystem();
  const ref = await system.spawn<unknown, unknown>(ECHO, {
    instances: 2,
    route: (m) => (m as { k: number }).k,
  });
  for (let k = 0; k < 10; k++) await ref.tell({ k });
  await ref.ask({ k: 0 });
  await ref.ask({ k: 1 });
  const counts = await Promise.all([0, 1].map((instance) => ref.query<number>("count", [], { instance })));
  expect(counts[0]! + counts[1]!).toBe(12);
  const snapshot = (await ref.snapshot({ instance: 0 })) as { seen: Array<{ k: number }> };
  expect(snapshot.seen).toHaveLength(counts[0]!);
});

test("the same key always reaches the same instance", async () => {
  system = createSystem();
  const ref = await system.spawn<{ key: string; n: number }>(ECHO, { instances: 3, route: (m) => m.key });
  const keys = ["mint-a", "mint-b", "mint-c", "mint-d", "mint-e", "mint-f"];
  for (let n = 0; n < 60; n++) await ref.tell({ key: keys[n % keys.length]!, n });
  for (const i of [0, 1, 2]) await engineOf(ref).instances[i]?.mailbox.drained();
  const seen = await Promise.all(
    [0, 1, 2].map((instance) => ref.query<Array<{ key: string }>>("seen", [], { instance })),
  );
  const owner = new Map<string, number>();
  seen.forEach((messages, instance) => {
    for (const { key } of messages) {
      expect(owner.get(key) ?? instance).toBe(instance);
      owner.set(key, instance);
    }
  });
  expect(owner.size).toBe(keys.length);
});

test("an unknown query is a typed error; a busy instance times out the control call", async () => {
  system = createSystem();
  const inside = entered();
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, {
    deadlineMs: 5000,
    init: { entered: inside.buffer },
  });
  expect(await rejectionOf(ref.query("nope"))).toMatchObject({
    code: "ERR_QUERY_NOT_FOUND",
    message: 'actor scripted has no query "nope"',
  });
  expect(await ref.query("handled")).toBe(0);
  await ref.tell({ id: 1, op: "sleep", ms: 400 });
  await inside.first();
  expect(await rejectionOf(ref.query("handled", [], { timeoutMs: 50 }))).toMatchObject({
    code: "ERR_CONTROL_TIMEOUT",
  });
});

test("a query that throws, arguments or an answer that cannot be sent: each its own typed error, at once; the actor unaffected", async () => {
  system = createSystem();
  const ref = await system.spawn<unknown, unknown>(ECHO);
  // Not "no such query", and not a timeout: the query exists, and nothing was busy.
  expect(await rejectionOf(ref.query("fails"))).toMatchObject({
    code: "ERR_HANDLER_THREW",
    message: "the query failed",
  });
  const started = performance.now();
  expect(await rejectionOf(ref.query("echo", [() => 1]))).toMatchObject({ code: "ERR_MESSAGE_ENCODE" });
  expect(await rejectionOf(ref.query("unsendable"))).toMatchObject({ code: "ERR_MESSAGE_ENCODE" });
  expect(performance.now() - started).toBeLessThan(1_000);
  expect(await ref.query("echo", [{ a: [1] }])).toEqual({ a: [1] });
  expect(await ref.ask({ k: 1 })).toEqual({ k: 1 });
});

test("stopping a paused actor handles what it accepted, without waiting out the deadline; handBack gives it back", async () => {
  system = createSystem();
  const log = sharedLog(100);
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "held", init: { log: log.buffer } });
  await ref.ask({ id: 0 });
  // Held by two: the stop releases both.
  system.pause("held");
  system.pause("held", "lease");
  for (let id = 1; id <= 5; id++) await ref.tell({ id });
  const started = performance.now();
  expect(await ref.stop({ deadlineMs: 20_000 })).toEqual({ drained: true, undelivered: 0 });
  expect(performance.now() - started).toBeLessThan(10_000);
  expect(log.ids()).toEqual([0, 1, 2, 3, 4, 5]);
  expect(ref.stats()).toMatchObject({ paused: false, pausedBy: [] });

  const other = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "handed", init: { log: log.buffer } });
  await other.ask({ id: 6 });
  system.pause("handed");
  const asked = other.ask({ id: 7 }, { timeoutMs: 20_000 });
  expect((await other.stop({ deadlineMs: 20_000, handBack: true })).drained).toBe(true);
  expect(await rejectionOf(asked)).toMatchObject({ code: "ERR_CANCELLED" });
  expect(log.ids()).toEqual([0, 1, 2, 3, 4, 5, 6]);
});

test("an init the worker cannot be sent fails the spawn naming it, and leaves the name free", async () => {
  system = createSystem();
  expect(await rejectionOf(system.spawn(ECHO, { name: "e", init: { f: () => 1 } }))).toMatchObject({
    code: "ERR_INVALID_OPTION",
    option: "init",
  });
  const ref = await system.spawn<unknown, unknown>(ECHO, { name: "e", init: { n: 1 } });
  expect(await ref.ask(1)).toBe(1);
});

test("a paused actor gets nothing new and reports no credit; resume delivers everything, in order", async () => {
  system = createSystem();
  const log = sharedLog(100);
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { capacity: 16, init: { log: log.buffer } });
  await ref.ask({ id: 0 });
  system.pause("scripted");
  expect(engineOf(ref).freeCredits()).toBe(0);
  for (let id = 1; id <= 10; id++) await ref.tell({ id });
  expect(ref.stats().instances[0]).toMatchObject({ state: "paused", inFlight: 0 });
  expect(log.ids()).toEqual([0]);
  system.resume("scripted");
  expect(await ref.ask({ id: 11 })).toBe(11);
  expect(log.ids()).toEqual(Array.from({ length: 12 }, (_, i) => i));
  expect(() => system.pause("nobody")).toThrow("no actor named nobody");
});

test("a pause names its hold: the actor runs again once every hold is resumed, and a hold must be a name", async () => {
  system = createSystem();
  const log = sharedLog(100);
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { capacity: 16, init: { log: log.buffer } });
  system.pause("scripted", "lease");
  system.pause("scripted");
  expect(ref.stats()).toMatchObject({ paused: true, pausedBy: ["lease", "operator"] });
  await ref.tell({ id: 1 });
  system.resume("scripted");
  expect(ref.stats()).toMatchObject({ paused: true, pausedBy: ["lease"] });
  expect(ref.stats().instances[0]).toMatchObject({ state: "paused", inFlight: 0 });
  expect(log.ids()).toEqual([]);
  // Released twice, or never held: nothing changes.
  system.resume("scripted");
  system.resume("scripted", "lease");
  expect(ref.stats()).toMatchObject({ paused: false, pausedBy: [] });
  expect(await ref.ask({ id: 2 })).toBe(2);
  expect(log.ids()).toEqual([1, 2]);
  for (const hold of ["", 7]) {
    expect(() => system.pause("scripted", hold as string)).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_OPTION", option: "hold" }),
    );
  }
  expect(ref.stats().paused).toBe(false);
});

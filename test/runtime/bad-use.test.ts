import { afterEach, expect, test } from "bun:test";
import { type ActorDeadLetter, type ActorSystem, createSystem, InvalidOptionError } from "../../src/index.ts";
import { collect, ECHO, rejectionOf } from "../support/runtime.ts";

const SCRIPTED = new URL("../fixtures/scripted.actor.ts", import.meta.url);

let system: ActorSystem;
afterEach(async () => {
  await system?.stop({ deadlineMs: 1000 });
});

test("an unknown actor module path", async () => {
  system = createSystem();
  const error = await rejectionOf(system.spawn("test/fixtures/does-not-exist.actor.ts"));
  expect(error).toMatchObject({ code: "ERR_ACTOR_MODULE_NOT_FOUND" });
  expect((error as Error).message).toEndWith("test/fixtures/does-not-exist.actor.ts");
});

test("a module without a handler", async () => {
  system = createSystem();
  const error = await rejectionOf(system.spawn(new URL("../fixtures/no-handler.actor.ts", import.meta.url)));
  expect(error).toMatchObject({ code: "ERR_ACTOR_NO_HANDLER" });
  expect((error as Error).message).toEndWith("must default-export defineActor({ initialState, handle })");
  expect(system.actors).toHaveLength(0);
});

test.each([
  [{ capacity: 0 }, "capacity: must be a positive integer, got 0"],
  [{ capacity: -5 }, "capacity: must be a positive integer, got -5"],
  [{ instances: 1.5 }, "instances: must be a positive integer, got 1.5"],
  [{ restart: "sometimes" }, "restart: must be one of permanent, transient, temporary, got sometimes"],
  [{ route: "random" }, 'route: must be "round-robin" or a function returning a key'],
  [{ name: "has space" }, 'name: must be 1-64 characters of letters, digits, "_", "-", ".", got has space'],
  [{ backoff: { minMs: 100, maxMs: 10 } }, "backoff.maxMs: must be ≥ minMs"],
  [{ capacity: 64, frameSize: 128 }, "frameSize: must be ≤ capacity (64), got 128"],
  // A misspelt option left its default in place without a word.
  [{ capcity: 8 }, "capcity: is not a spawn option"],
])("invalid spawn option %p", async (options, message) => {
  system = createSystem();
  const error = await rejectionOf(system.spawn(ECHO, options as never));
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect(error).toMatchObject({ code: "ERR_INVALID_OPTION", message });
});

test("an invalid supervisor option fails at creation, naming the setting", () => {
  expect(() => createSystem({ supervisor: { strategy: "all_for_none" as never } })).toThrow(
    "supervisor.strategy: must be one_for_one, one_for_all or rest_for_one, got all_for_none",
  );
});

test("a duplicate actor name", async () => {
  system = createSystem();
  await system.spawn(ECHO);
  expect(await rejectionOf(system.spawn(ECHO))).toMatchObject({ code: "ERR_DUPLICATE_ACTOR" });
});

test("a message that cannot be encoded: ask rejects, tell is dead-lettered, the others still go", async () => {
  const deadLetters: ActorDeadLetter[] = [];
  system = createSystem({ onDeadLetter: (dl) => deadLetters.push(dl) });
  const dead = collect(system, "deadLettered");
  const ref = await system.spawn(ECHO);
  const error = await rejectionOf(ref.ask({ bad: Symbol("no") }));
  expect(error).toMatchObject({ code: "ERR_MESSAGE_ENCODE" });
  expect((error as Error).message).toStartWith("message cannot be encoded: ");
  await ref.tell({ first: 1 });
  await ref.tell({ bad: Symbol("no") });
  expect(await ref.ask({ after: 2 })).toEqual({ after: 2 });
  expect(deadLetters.map((dl) => dl.reason)).toEqual(["ERR_MESSAGE_ENCODE"]);
  expect(dead.seen.map((e) => e.reason)).toEqual(["ERR_MESSAGE_ENCODE", "ERR_MESSAGE_ENCODE"]);
  expect(await ref.query("seen")).toEqual([{ first: 1 }, { after: 2 }]);
  expect(await rejectionOf(Promise.resolve().then(() => ref.snapshot({ instance: 3 })))).toMatchObject({
    code: "ERR_ACTOR_NOT_FOUND",
  });
});

test("typed arrays, Sets, Maps and big BigInts in a message reach the handler as what they are", async () => {
  system = createSystem();
  const ref = await system.spawn(ECHO);
  const message = {
    f64: new Float64Array([1.5, -2]),
    i32: new Int32Array([-1, 7]),
    f32: new Float32Array([0.5]),
    bytes: new Uint8Array([9, 8]),
    set: new Set(["a", "b"]),
    map: new Map([["k", 1]]),
    big: 2n ** 100n,
  };
  // The echo is what the handler got (a reply comes back by structured clone, types intact).
  const seen = (await ref.ask(message)) as typeof message;
  expect(seen.f64).toBeInstanceOf(Float64Array);
  expect([...seen.f64]).toEqual([1.5, -2]);
  expect(seen.i32).toBeInstanceOf(Int32Array);
  expect([...seen.i32]).toEqual([-1, 7]);
  expect([...seen.f32]).toEqual([0.5]);
  expect([...seen.bytes]).toEqual([9, 8]);
  expect(seen.set).toEqual(new Set(["a", "b"]));
  expect(seen.map).toEqual(new Map([["k", 1]]));
  expect(seen.big).toBe(2n ** 100n);
});

test("a reply that cannot travel back fails its message with ERR_MESSAGE_ENCODE; the worker and the others go on", async () => {
  system = createSystem();
  const crashed = collect(system, "crashed");
  const dead = collect(system, "deadLettered");
  const ref = await system.spawn(SCRIPTED, { maxDeliveries: 3 });
  // It crashed the worker at each redelivery (past maxDeliveries) until restart intensity failed the actor.
  const error = await rejectionOf(ref.ask({ id: 1, op: "bad-reply" }));
  expect(error).toMatchObject({ code: "ERR_MESSAGE_ENCODE" });
  expect((error as Error).message).toStartWith("the reply cannot be sent back: ");
  expect(await ref.ask({ id: 2 })).toBe(2);
  await ref.tell({ id: 3, op: "bad-reply" });
  expect(await ref.ask({ id: 4 })).toBe(4);
  // Handled once each, not redelivered: a reply that failed to travel would fail again. A tell's reply
  // never travels, so only the ask's message failed.
  expect(await ref.query("handled")).toBe(4);
  expect(crashed.seen).toEqual([]);
  expect(dead.seen.map((e) => e.reason)).toEqual(["ERR_MESSAGE_ENCODE"]);
});

test("initialState throwing at spawn rejects with ERR_ACTOR_INIT, naming the actor and the error", async () => {
  system = createSystem();
  const failStarts = new SharedArrayBuffer(4);
  new Int32Array(failStarts)[0] = 1;
  // It read ERR_ACTOR_MODULE_LOAD, though the module had loaded.
  const error = await rejectionOf(system.spawn(SCRIPTED, { name: "starter", init: { failStarts } }));
  expect(error).toMatchObject({ code: "ERR_ACTOR_INIT" });
  expect((error as Error).message).toBe("initialState of starter threw: initialState failed (scripted)");
  expect(system.actors).toHaveLength(0);
});

test("a route function that throws, or returns no key, fails that message naming the option", async () => {
  system = createSystem();
  const ref = await system.spawn<{ k: unknown }>(ECHO, {
    instances: 2,
    route: (m) => {
      if (m.k === "boom") throw new Error("no key for boom");
      return m.k as string;
    },
  });
  // It rejected with the route's own error (no code), and an object routed every message to one instance.
  expect(await rejectionOf(ref.ask({ k: "boom" }))).toMatchObject({
    code: "ERR_INVALID_OPTION",
    message: "route: threw for a message: no key for boom",
  });
  expect(await rejectionOf(ref.ask({ k: { nested: 1 } }))).toMatchObject({
    code: "ERR_INVALID_OPTION",
    message: "route: must return a string or a number, got object",
  });
  expect(await ref.ask({ k: "fine" })).toEqual({ k: "fine" });
});

/**
 * Where the README says the supervisor behaves as OTP's, it does: cases after Erlang/OTP's own
 * supervisor_SUITE (temporary_bystander, intensity 0, restart order, the intensity window), run against the
 * public API, plus the escalation action. See issue 17.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { type ActorSystem, createSystem, InvalidOptionError } from "../../src/index.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { collect, ECHO, rejectionOf, SCRIPTED, trips } from "../support/runtime.ts";

let system: ActorSystem;
afterEach(async () => {
  await system?.stop({ deadlineMs: 1000 });
});

const FAST = { minMs: 5, maxMs: 10 };

/** The fixture's init gate: `entered(n)` once n starts are inside `initialState`, `open(n)` lets n through. */
function initGate(open: number) {
  const buffer = new SharedArrayBuffer(8);
  const view = new Int32Array(buffer);
  view[1] = open;
  return {
    buffer,
    async entered(n: number): Promise<void> {
      // Bounded waits: a lost notify costs one re-check, never a hang.
      for (let seen = Atomics.load(view, 0); seen < n; seen = Atomics.load(view, 0)) {
        await Atomics.waitAsync(view, 0, seen, 50).value;
      }
    },
    open(n: number): void {
      Atomics.store(view, 1, n);
      Atomics.notify(view, 1);
    },
  };
}

describe("restart types under group strategies", () => {
  test.each(["one_for_all", "rest_for_one"] as const)(
    "%s: a temporary child taken down by a sibling's failure stays down",
    async (strategy) => {
      system = createSystem({ supervisor: { strategy, backoff: FAST } });
      const restarting = collect(system, "restarting");
      const restarted = collect(system, "restarted");
      const stopped = collect(system, "stopped");
      const a = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "a", init: { trips: trips(1) } });
      const t = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "t", restart: "temporary" });
      await a.tell({ id: 1, op: "exit" });
      await restarted.atLeast(1);

      expect(restarting.seen.map((e) => e.actor)).toEqual(["a"]);
      expect(restarted.seen.map((e) => e.actor)).toEqual(["a"]);
      expect(stopped.seen).toEqual([{ actor: "t", drained: false, undelivered: 0 }]);
      expect(t.status).toBe("stopped");
      expect(t.stats().instances[0]).toMatchObject({ state: "stopped", restarts: 0 });
      expect(await rejectionOf(t.tell({ id: 2 }))).toMatchObject({ code: "ERR_ACTOR_STOPPED" });
      expect(await a.ask({ id: 3 })).toBe(3);
    },
  );
});

describe("maxRestarts: 0", () => {
  test("is accepted by the system and by spawn: the first failure fails the actor, nothing restarts", async () => {
    system = createSystem({ supervisor: { maxRestarts: 0 } });
    const failed = collect(system, "failed");
    const restarting = collect(system, "restarting");
    const inherited = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "inherited" });
    const own = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "own", maxRestarts: 0 });
    await inherited.tell({ id: 1, op: "exit", code: 3 });
    await own.tell({ id: 1, op: "exit", code: 3 });
    await failed.atLeast(2);

    // The two workers exit in either order.
    expect(failed.seen.map((e) => [e.actor, e.restarts]).sort()).toEqual([
      ["inherited", 0],
      ["own", 0],
    ]);
    expect(restarting.seen).toHaveLength(0);
    expect([inherited.status, own.status]).toEqual(["failed", "failed"]);
  });

  test.each([
    [-1, "must be an integer ≥ 0, got -1"],
    [1.5, "must be an integer ≥ 0, got 1.5"],
  ])(
    "one rule for the system and for spawn: maxRestarts %p is refused by both alike",
    async (value, rule) => {
      expect(() => createSystem({ supervisor: { maxRestarts: value } })).toThrow(
        new InvalidOptionError("supervisor.maxRestarts", rule),
      );
      system = createSystem();
      const error = await rejectionOf(system.spawn(ECHO, { maxRestarts: value }));
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error).toMatchObject({
        code: "ERR_INVALID_OPTION",
        option: "maxRestarts",
        message: `maxRestarts: ${rule}`,
      });
    },
  );
});

describe("restart order of group strategies", () => {
  test.each([
    ["one_for_all", "c"],
    ["rest_for_one", "a"],
  ] as const)(
    "%s (%s fails): children stop in reverse start order, then start one at a time in start order",
    async (strategy, failing) => {
      system = createSystem({ supervisor: { strategy, backoff: FAST } });
      const restarting = collect(system, "restarting");
      const restarted = collect(system, "restarted");
      const gate = initGate(1);
      const faults = trips(1);
      const a = await system.spawn<ScriptedMessage>(SCRIPTED, {
        name: "a",
        init: { gate: gate.buffer, ...(failing === "a" ? { trips: faults } : {}) },
      });
      const b = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "b" });
      const c = await system.spawn<ScriptedMessage>(SCRIPTED, {
        name: "c",
        init: failing === "c" ? { trips: faults } : {},
      });
      await { a, c }[failing].tell({ id: 1, op: "exit" });

      // a's restart is held inside its initialState: b and c, started after it, have not begun to start.
      await gate.entered(2);
      expect([b, c].map((ref) => ref.stats().instances[0]?.state)).toEqual(["restarting", "restarting"]);
      gate.open(2);
      await restarted.atLeast(3);

      expect(restarting.seen.map((e) => e.actor)).toEqual(["c", "b", "a"]);
      expect(restarted.seen.map((e) => e.actor)).toEqual(["a", "b", "c"]);
      expect(await c.ask({ id: 2 })).toBe(2);
    },
  );

  test("a child that fails to start is restarted again with the children after it, which wait for it", async () => {
    system = createSystem({ supervisor: { strategy: "rest_for_one", backoff: FAST } });
    const crashed = collect(system, "crashed");
    const restarted = collect(system, "restarted");
    const failStarts = new SharedArrayBuffer(4);
    const a = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "a", init: { trips: trips(1) } });
    const b = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "b", init: { failStarts } });
    const c = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "c" });
    new Int32Array(failStarts)[0] = 1;
    await a.tell({ id: 1, op: "exit" });
    await restarted.atLeast(3);

    expect(crashed.seen.map((e) => [e.actor, e.reason])).toEqual([
      ["a", "exit"],
      ["b", "initError"],
    ]);
    expect(restarted.seen.map((e) => e.actor)).toEqual(["a", "b", "c"]);
    expect([a, b, c].map((ref) => ref.stats().instances[0]?.restarts)).toEqual([1, 1, 1]);
  });
});

describe("the intensity window", () => {
  test("a restart exactly periodMs before a failure still counts; one a millisecond older does not", async () => {
    const clock = new ManualClock();
    system = createSystem({
      clock,
      random: () => 0,
      supervisor: { maxRestarts: 1, periodMs: 1000, backoff: { minMs: 10, maxMs: 10, jitter: 0 } },
    });
    const restarted = collect(system, "restarted");
    const failed = collect(system, "failed");
    const crashed = collect(system, "crashed");
    const edge = await system.spawn<ScriptedMessage>(SCRIPTED, {
      name: "edge",
      init: { trips: trips(1, 1) },
    });
    const past = await system.spawn<ScriptedMessage>(SCRIPTED, {
      name: "past",
      init: { trips: trips(1, 1) },
    });

    // Both fail at t0 and are restarted 10 ms later.
    await edge.tell({ id: 1, op: "exit", trip: 0 });
    await past.tell({ id: 1, op: "exit", trip: 0 });
    await crashed.atLeast(2);
    clock.advance(10);
    await restarted.atLeast(2);

    // t0 + 1000: edge's first failure is exactly periodMs old, so this one is its second within the period.
    clock.advance(990);
    await edge.tell({ id: 2, op: "exit", trip: 1 });
    await crashed.atLeast(3);
    expect(failed.seen).toEqual([expect.objectContaining({ actor: "edge", restarts: 1 })]);
    expect(edge.status).toBe("failed");

    // t0 + 1001: past's first failure has left the window, so this one is restarted.
    clock.advance(1);
    await past.tell({ id: 2, op: "exit", trip: 1 });
    await crashed.atLeast(4);
    clock.advance(10);
    await restarted.atLeast(3);
    expect(past.status).toBe("running");
    expect(failed.seen.map((e) => e.actor)).toEqual(["edge"]);
  });
});

describe("escalation", () => {
  test('onEscalation "stop-system": the failed actor takes the whole system down, as a top supervisor giving up', async () => {
    system = createSystem({ supervisor: { maxRestarts: 0, onEscalation: "stop-system" } });
    const failed = collect(system, "failed");
    const stopped = collect(system, "stopped");
    const crashing = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "crashing" });
    const bystander = await system.spawn(ECHO, { name: "bystander" });
    await crashing.tell({ id: 1, op: "exit", code: 3 });
    await stopped.atLeast(1);

    expect(failed.seen.map((e) => e.actor)).toEqual(["crashing"]);
    expect(stopped.seen.map((e) => e.actor)).toEqual(["bystander"]);
    expect(system.health()).toEqual({ status: "stopping", failedActors: ["crashing"] });
    expect(bystander.status).toBe("stopped");
    expect(await rejectionOf(system.spawn(ECHO, { name: "late" }))).toMatchObject({
      code: "ERR_SYSTEM_STOPPED",
    });
    // The escalation's stop is the system's one stop: a later stop() waits for it instead of stopping twice.
    expect(system.stop()).toBe(system.stop());
  });

  test('onEscalation "degrade" (the default): the system runs on without the failed actor', async () => {
    system = createSystem({ supervisor: { maxRestarts: 0 } });
    const failed = collect(system, "failed");
    const crashing = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "crashing" });
    const bystander = await system.spawn(ECHO, { name: "bystander" });
    await crashing.tell({ id: 1, op: "exit", code: 3 });
    await failed.atLeast(1);

    expect(system.health()).toEqual({ status: "degraded", failedActors: ["crashing"] });
    expect(await bystander.ask({ still: "here" })).toEqual({ still: "here" });
  });

  test("an unknown onEscalation fails at creation, naming the setting", () => {
    expect(() => createSystem({ supervisor: { onEscalation: "panic" as never } })).toThrow(
      new InvalidOptionError("supervisor.onEscalation", "must be degrade or stop-system, got panic"),
    );
  });
});

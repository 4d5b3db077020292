import { afterEach, describe, expect, test } from "bun:test";
import { type ActorDeadLetter, type ActorSystem, createSystem } from "../../src/index.ts";
import { engineOf } from "../../src/runtime/actor-ref.ts";
import { BACKOFF_DEFAULTS, backoffDelay } from "../../src/time/backoff.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { collect, rejectionOf, SCRIPTED, trips } from "../support/runtime.ts";

let system: ActorSystem;
afterEach(async () => {
  await system?.stop({ deadlineMs: 1000 });
});

describe("restart intensity", () => {
  test("exceeded: the actor is failed, an event names it, health is degraded, no restart storm", async () => {
    const deadLetters: ActorDeadLetter[] = [];
    system = createSystem({
      supervisor: { maxRestarts: 2, periodMs: 10_000, backoff: { minMs: 5, maxMs: 10 } },
      onDeadLetter: (dl) => deadLetters.push(dl),
    });
    const failed = collect(system, "failed");
    const restarting = collect(system, "restarting");
    const crashed = collect(system, "crashed");
    const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { maxDeliveries: 100 });
    // Exits on every delivery: restart, restart, then the third failure within the period escalates.
    await ref.tell({ id: 1, op: "exit", code: 3 });
    await failed.atLeast(1);

    expect(failed.seen[0]).toMatchObject({ actor: "scripted", restarts: 2 });
    expect(failed.seen[0]?.reason).toContain("restart intensity exceeded");
    expect(crashed.seen).toHaveLength(3);
    expect(restarting.seen).toHaveLength(2);
    expect(ref.status).toBe("failed");
    expect(system.health()).toEqual({ status: "degraded", failedActors: ["scripted"] });
    expect(await rejectionOf(ref.tell({ id: 2 }))).toMatchObject({ code: "ERR_ACTOR_FAILED" });
    // The message it held is not silently dropped: it reaches the dead-letter handler with the reason.
    expect(deadLetters.map((dl) => dl.reason)).toEqual(["ERR_ACTOR_FAILED"]);
    expect(ref.stats().instances[0]?.state).toBe("failed");
  });

  test("backoff grows as min·2ⁿ within the jitter band, capped at max", () => {
    const options = { ...BACKOFF_DEFAULTS, minMs: 100, maxMs: 1000, jitter: 0.25 };
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, options, () => 0))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, options, () => 0.999))).toEqual([75, 150, 300, 600]);
  });

  test("consecutive crashes back off exponentially", async () => {
    system = createSystem({
      supervisor: { maxRestarts: 5, periodMs: 60_000, backoff: { minMs: 10, maxMs: 1000, jitter: 0.5 } },
    });
    const restarted = collect(system, "restarted");
    const restarting = collect(system, "restarting");
    const ref = await system.spawn<ScriptedMessage>(SCRIPTED, {
      maxDeliveries: 100,
      init: { trips: trips(3) },
    });
    await ref.tell({ id: 1, op: "exit" });
    await restarted.atLeast(3);
    const delays = restarting.seen.map((e) => e.delayMs);
    delays.forEach((delay, n) => {
      expect(delay).toBeLessThanOrEqual(10 * 2 ** n);
      expect(delay).toBeGreaterThanOrEqual(10 * 2 ** n * 0.5);
    });
    expect(restarting.seen.map((e) => e.attempt)).toEqual([0, 1, 2]);
  });
});

describe("strategies restart the right siblings", () => {
  async function threeActors(strategy: "one_for_all" | "rest_for_one") {
    system = createSystem({ supervisor: { strategy, backoff: { minMs: 5, maxMs: 10 } } });
    const restarted = collect(system, "restarted");
    const a = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "a" });
    const b = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "b", init: { trips: trips(1) } });
    const c = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "c" });
    return { a, b, c, restarted };
  }

  test("one_for_all restarts every child", async () => {
    const { b, restarted } = await threeActors("one_for_all");
    await b.tell({ id: 1, op: "exit" });
    await restarted.atLeast(3);
    expect(restarted.seen.map((e) => e.actor).sort()).toEqual(["a", "b", "c"]);
    expect(await b.ask({ id: 1 })).toBe(1);
  });

  test("rest_for_one restarts the failed child and those spawned after it", async () => {
    const { a, b, c, restarted } = await threeActors("rest_for_one");
    await b.tell({ id: 1, op: "exit" });
    await restarted.atLeast(2);
    expect(restarted.seen.map((e) => e.actor).sort()).toEqual(["b", "c"]);
    expect([a, b, c].map((ref) => ref.stats().instances[0]?.restarts)).toEqual([0, 1, 1]);
  });

  test("one_for_one restarts only the failed child", async () => {
    system = createSystem({ supervisor: { backoff: { minMs: 5, maxMs: 10 } } });
    const restarted = collect(system, "restarted");
    const a = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "a" });
    const b = await system.spawn<ScriptedMessage>(SCRIPTED, {
      name: "b",
      instances: 2,
      init: { trips: trips(1) },
    });
    await engineOf(b).instances[1]?.mailbox.accept({ id: 1, op: "exit" }, null);
    await restarted.atLeast(1);
    expect(restarted.seen.map((e) => [e.actor, e.instance])).toEqual([["b", 1]]);
    expect(a.stats().instances[0]?.restarts).toBe(0);
  });
});

describe("restart types", () => {
  test("temporary: never restarted; what it held goes to the dead-letter handler", async () => {
    const deadLetters: ActorDeadLetter[] = [];
    system = createSystem({ onDeadLetter: (dl) => deadLetters.push(dl) });
    const stopped = collect(system, "stopped");
    const restarting = collect(system, "restarting");
    const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { restart: "temporary" });
    await ref.tell({ id: 1, op: "exit", code: 1 });
    await stopped.atLeast(1);
    expect(ref.status).toBe("stopped");
    expect(restarting.seen).toHaveLength(0);
    expect(deadLetters.map((dl) => dl.reason)).toEqual(["ERR_ACTOR_STOPPED"]);
  });

  test("transient: a normal exit (code 0) is not restarted, an abnormal one is", async () => {
    system = createSystem({ supervisor: { backoff: { minMs: 5, maxMs: 10 } } });
    const stopped = collect(system, "stopped");
    const restarted = collect(system, "restarted");
    const abnormal = await system.spawn<ScriptedMessage>(SCRIPTED, {
      name: "abnormal",
      restart: "transient",
      init: { trips: trips(1) },
    });
    await abnormal.tell({ id: 1, op: "exit", code: 2 });
    await restarted.atLeast(1);
    const normal = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "normal", restart: "transient" });
    await normal.tell({ id: 1, op: "exit", code: 0 });
    await stopped.atLeast(1);
    expect(normal.status).toBe("stopped");
    expect(abnormal.status).toBe("running");
  });
});

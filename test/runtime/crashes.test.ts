import { afterEach, describe, expect, test } from "bun:test";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { collect, entered, range, rejectionOf, SCRIPTED, sharedLog, trips } from "../support/runtime.ts";

let system: ActorSystem;
afterEach(async () => {
  await system?.stop({ deadlineMs: 1000 });
});

/**
 * At-least-once across a crash: the log is 1..m, then (after the restart) k..last in order, with
 * k ≤ the blamed message ≤ m + 1: everything in flight was handled again, in order, and nothing is missing.
 */
function expectRedeliveredInOrder(all: number[], blamed: number, last: number) {
  const ids = all.filter((id) => id <= last);
  const restartAt = ids.findIndex((id, i) => i > 0 && id <= (ids[i - 1] as number));
  const before = restartAt < 0 ? ids : ids.slice(0, restartAt);
  const after = restartAt < 0 ? [] : ids.slice(restartAt);
  expect(before).toEqual(range(1, before.length + 1));
  if (after.length > 0) {
    const k = after[0] as number;
    expect(k).toBeLessThanOrEqual(blamed);
    expect(after).toEqual(range(k, last + 1));
  } else {
    expect(before).toEqual(range(1, last + 1));
  }
  expect(before.length).toBeGreaterThanOrEqual(blamed - 1);
}

/**
 * Sends 1..n with a fault on message `faultAt`, and checks that the crash is detected, the instance
 * restarted with backoff, and every message handled, the in-flight ones after the restart, in order.
 */
async function crashAndRecover(fault: Partial<ScriptedMessage>, options: { deadlineMs?: number } = {}) {
  system = createSystem({ supervisor: { backoff: { minMs: 20, maxMs: 200 } } });
  const crashed = collect(system, "crashed");
  const restarting = collect(system, "restarting");
  const restarted = collect(system, "restarted");
  const log = sharedLog(1000);
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, {
    capacity: 64,
    init: { log: log.buffer, trips: trips(1) },
    ...options,
  });
  const faultAt = 50;
  const sentAt = performance.now();
  for (const id of range(1, 201)) await ref.tell(id === faultAt ? { id, ...fault } : { id });
  await restarted.atLeast(1);
  await ref.ask({ id: 1000 });
  expectRedeliveredInOrder(log.ids(), faultAt, 200);
  expect(log.ids().at(-1)).toBe(1000);
  expect(crashed.seen).toHaveLength(1);
  expect(restarting.seen[0]?.delayMs).toBeGreaterThanOrEqual(15);
  expect(restarting.seen[0]?.delayMs).toBeLessThanOrEqual(20);
  const stats = ref.stats().instances[0];
  expect(stats?.restarts).toBe(1);
  expect(stats?.lastError).not.toBeNull();
  return { crash: crashed.seen[0], detectedMs: performance.now() - sentAt };
}

describe("a worker failure is detected, restarted, and loses nothing", () => {
  test("uncaught throw inside a timer", async () => {
    const { crash } = await crashAndRecover({ op: "crash-timer" });
    expect(crash?.reason).toBe("uncaught");
    expect(crash?.error.message).toContain("boom on 50");
    expect(crash?.error.code).toBe("ERR_WORKER_CRASHED");
  });

  test("process.exit(1) in the worker", async () => {
    const { crash } = await crashAndRecover({ op: "exit", code: 1 });
    expect(crash?.reason).toBe("exit");
    expect(crash?.exitCode).toBe(1);
  });

  test("a handler stuck in while(true) is terminated within its deadline + 1 s", async () => {
    const { crash, detectedMs } = await crashAndRecover({ op: "hang" }, { deadlineMs: 300 });
    expect(crash?.reason).toBe("deadline");
    expect(crash?.error.code).toBe("ERR_DEADLINE_EXCEEDED");
    expect(detectedMs).toBeLessThan(300 + 1000);
  });

  test("an async handler that never settles overruns its deadline too", async () => {
    const { crash } = await crashAndRecover({ op: "await-forever" }, { deadlineMs: 200 });
    expect(crash?.reason).toBe("deadline");
  });

  async function probeRejection(policy: "crash" | "log") {
    const probe = Bun.spawn(
      ["bun", new URL("../support/rejection-probe.ts", import.meta.url).pathname, policy],
      {
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    expect(await probe.exited).toBe(0);
    return JSON.parse(await new Response(probe.stdout).text());
  }

  test("an unhandled rejection crashes the worker under the default policy", async () => {
    const result = await probeRejection("crash");
    expect(result.crashes).toEqual([
      { reason: "unhandledRejection", message: "unhandled on 1", code: "ERR_UNHANDLED_REJECTION" },
    ]);
    expect(result.reply).toBe(2);
  });

  test("an unhandled rejection is only reported under the log policy", async () => {
    const result = await probeRejection("log");
    expect(result).toEqual({
      crashes: [],
      logged: ["unhandled on 1"],
      reply: 2,
      lastError: "unhandled on 1",
    });
  });
});

describe("the control plane across a crash", () => {
  test("a query under way when its worker ends rejects then with ERR_ACTOR_STOPPED, not at its timeout", async () => {
    system = createSystem({ supervisor: { backoff: { minMs: 10, maxMs: 20 } } });
    const started = entered();
    const ref = await system.spawn<ScriptedMessage>(SCRIPTED, {
      deadlineMs: 300,
      init: { trips: trips(1), entered: started.buffer },
    });
    const restarted = collect(system, "restarted");
    await ref.tell({ id: 1, op: "hang" });
    await started.first();
    // Answered between messages: it waits behind the hung handler until the deadline ends the worker.
    const asked = performance.now();
    const error = await rejectionOf(ref.query("handled", [], { timeoutMs: 10_000 }));
    expect(error).toMatchObject({ code: "ERR_ACTOR_STOPPED" });
    expect(performance.now() - asked).toBeLessThan(300 + 2_000);
    await restarted.atLeast(1);
    // The new worker answers; it handled the hung message again, its fault spent.
    expect(await ref.query("handled")).toBe(1);
  });
});

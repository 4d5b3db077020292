/**
 * Instances on shared threads (the spawn option `threads`): several actors' instances on a pool's threads,
 * each with its own mailbox and durable state; a host's own failure restarts only its instance, a thread's
 * end (an exit, a hung handler) restarts every instance on it, each restored from its own checkpoint.
 */
import { describe, expect, test } from "bun:test";
import {
  type ActorRef,
  createSystem,
  InvalidOptionError,
  MemoryStateStore,
  ThreadPool,
} from "../../src/index.ts";
import type { CounterMessage } from "../fixtures/counter.actor.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import {
  COUNTER,
  collect,
  entered,
  fastRestartingSystems,
  rejectionOf,
  SCRIPTED,
  trips,
} from "../support/runtime.ts";

const system = fastRestartingSystems();

/** `n` increments of key `key`, ids from `from`. */
function increments(
  key: string,
  from: number,
  n: number,
  faults: Record<number, Partial<CounterMessage>> = {},
) {
  return Array.from({ length: n }, (_, i) => ({ key, id: from + i, ...faults[from + i] }));
}

async function tellAll(ref: ActorRef<CounterMessage>, messages: CounterMessage[]): Promise<void> {
  for (const message of messages) await ref.tell(message);
}

const countOf = (ref: ActorRef<CounterMessage>, key: string) => ref.ask({ key, id: 0, op: "get" });
const threadOf = (ref: ActorRef<CounterMessage>, instance = 0) =>
  ref.query<number>("thread", [], { instance });

describe("a thread pool", () => {
  test("hosts the instances of several actors on at most its size of threads; they end with their hosts", async () => {
    const sys = system();
    const pool = new ThreadPool({ size: 2 });
    const refs = await Promise.all(
      ["a", "b", "c"].map((name) =>
        sys.spawn<CounterMessage>(COUNTER, { name, instances: 2, route: (m) => m.key, threads: pool }),
      ),
    );
    expect(pool.threads).toBe(2);
    const threads = new Set<number>();
    for (const ref of refs) for (const instance of [0, 1]) threads.add(await threadOf(ref, instance));
    expect(threads.size).toBe(2);
    const listed = refs.flatMap((ref) => ref.stats().instances.map((i) => i.thread));
    expect(new Set(listed)).toEqual(threads);
    // Each instance keeps its own state on the shared threads.
    for (const [i, ref] of refs.entries()) await tellAll(ref, increments("k", 1, 10 * (i + 1)));
    expect(await Promise.all(refs.map((ref) => countOf(ref, "k")))).toEqual([10, 20, 30]);
    await Promise.all(refs.map((ref) => ref.stop()));
    expect(pool.threads).toBe(0);
  });

  test("a handler's throw under the crash policy restarts its instance only; the others keep thread and state", async () => {
    const sys = system();
    const pool = new ThreadPool({ size: 1 });
    const store = new MemoryStateStore();
    const crashing = await sys.spawn<CounterMessage>(COUNTER, {
      name: "crashing",
      onHandlerError: "crash",
      init: { trips: trips(1) },
      state: { store, checkpointEvery: 5 },
      threads: pool,
    });
    const bystander = await sys.spawn<CounterMessage>(COUNTER, { name: "bystander", threads: pool });
    const thread = await threadOf(bystander);
    await tellAll(bystander, increments("k", 1, 7));
    const crashed = collect(sys, "crashed");
    const restarted = collect(sys, "restarted");
    await tellAll(crashing, increments("k", 1, 20, { 13: { op: "throw" } }));
    expect(await countOf(crashing, "k")).toBe(20);
    await restarted.atLeast(1);
    expect(crashed.seen.map((c) => [c.actor, c.reason])).toEqual([["crashing", "handlerError"]]);
    // The bystander was not restarted: its state is not durable, so a restart would have lost it.
    expect(await countOf(bystander, "k")).toBe(7);
    expect(await threadOf(bystander)).toBe(thread);
    expect(await threadOf(crashing)).toBe(thread);
    expect(bystander.stats().instances[0]?.restarts).toBe(0);
  });

  test("a value its table's codec cannot encode fails the checkpoint: that instance crashes with ERR_ENCODE naming table and key, then fails; the others keep thread and state", async () => {
    const sys = createSystem({ supervisor: { backoff: { minMs: 10, maxMs: 50 }, maxRestarts: 2 } });
    try {
      const pool = new ThreadPool({ size: 1 });
      const poisoned = await sys.spawn<CounterMessage>(COUNTER, {
        name: "poisoned",
        // Armed on every incarnation: each one replays the poisoning message it restored before.
        init: { trips: trips(100) },
        state: { store: new MemoryStateStore(), checkpointEvery: 1 },
        threads: pool,
      });
      const bystander = await sys.spawn<CounterMessage>(COUNTER, { name: "bystander", threads: pool });
      const thread = await threadOf(bystander);
      await tellAll(bystander, increments("k", 1, 7));
      const crashed = collect(sys, "crashed");
      const failed = collect(sys, "failed");
      await tellAll(poisoned, increments("k", 1, 3, { 2: { op: "poison" } }));
      await failed.atLeast(1);
      expect(crashed.seen.length).toBe(3);
      for (const crash of crashed.seen) {
        expect(crash).toMatchObject({ actor: "poisoned", reason: "checkpointFailed" });
        expect(crash.error.code).toBe("ERR_ENCODE");
        expect(crash.error.message).toContain("table counts, key k:");
      }
      expect(failed.seen[0]).toMatchObject({ actor: "poisoned", error: { code: "ERR_ENCODE" } });
      expect(await countOf(bystander, "k")).toBe(7);
      expect(await threadOf(bystander)).toBe(thread);
      expect(bystander.stats().instances[0]?.restarts).toBe(0);
    } finally {
      await sys.stop({ deadlineMs: 1000 });
    }
  });

  for (const op of ["exit", "hang"] as const)
    test(`a thread that ends (${op === "exit" ? "process.exit in a handler" : "a handler hung past its deadline"}) restarts every instance on it, each from its own checkpoint`, async () => {
      const sys = system();
      const pool = new ThreadPool({ size: 1 });
      const spawn = (name: string, armed: boolean) =>
        sys.spawn<CounterMessage>(COUNTER, {
          name,
          deadlineMs: 300,
          init: { trips: trips(armed ? 1 : 0) },
          state: { store: new MemoryStateStore(), checkpointEvery: 5 },
          threads: pool,
        });
      const culprit = await spawn("culprit", true);
      const bystander = await spawn("bystander", false);
      const before = await threadOf(bystander);
      await tellAll(bystander, increments("k", 1, 12));
      expect(await countOf(bystander, "k")).toBe(12);
      const crashed = collect(sys, "crashed");
      const restarted = collect(sys, "restarted");
      await tellAll(culprit, increments("k", 1, 30, { 17: { op } }));
      expect(await countOf(culprit, "k")).toBe(30);
      await restarted.atLeast(2);
      expect(crashed.seen.map((c) => c.actor).sort()).toEqual(["bystander", "culprit"]);
      expect(crashed.seen.find((c) => c.actor === "culprit")?.reason).toBe(
        op === "exit" ? "exit" : "deadline",
      );
      // Restored from its checkpoint on a new thread: the same count, nothing applied twice.
      await tellAll(bystander, increments("k", 13, 3));
      expect(await countOf(bystander, "k")).toBe(15);
      expect(await threadOf(bystander)).not.toBe(before);
      expect(pool.threads).toBe(1);
    });

  test("a message awaiting on a thread that another instance's hung handler ended is not blamed: redelivered, not dead-lettered", async () => {
    const sys = system();
    const pool = new ThreadPool({ size: 1 });
    const started = entered();
    const awaiting = await sys.spawn<ScriptedMessage>(SCRIPTED, {
      name: "awaiting",
      // One blamed failure would dead-letter it.
      maxDeliveries: 1,
      init: { trips: trips(1), entered: started.buffer },
      threads: pool,
    });
    const culprit = await sys.spawn<CounterMessage>(COUNTER, {
      name: "culprit",
      deadlineMs: 300,
      init: { trips: trips(1) },
      threads: pool,
    });
    const reply = awaiting.ask({ id: 1, op: "await-forever" }, { timeoutMs: 10_000 });
    await started.first();
    const deadLettered = collect(sys, "deadLettered");
    const crashed = collect(sys, "crashed");
    await culprit.tell({ key: "k", id: 1, op: "hang" });
    expect(await reply).toBe(1);
    expect(deadLettered.seen).toEqual([]);
    expect(crashed.seen.map((c) => [c.actor, c.reason]).sort()).toEqual([
      ["awaiting", "exit"],
      ["culprit", "deadline"],
    ]);
  });

  test("an instance stopped on a shared thread leaves the others running there", async () => {
    const sys = system();
    const pool = new ThreadPool({ size: 1 });
    const leaving = await sys.spawn<CounterMessage>(COUNTER, { name: "leaving", threads: pool });
    const staying = await sys.spawn<CounterMessage>(COUNTER, { name: "staying", threads: pool });
    const thread = await threadOf(staying);
    await tellAll(staying, increments("k", 1, 5));
    await leaving.stop();
    expect(pool.threads).toBe(1);
    await tellAll(staying, increments("k", 6, 5));
    expect(await countOf(staying, "k")).toBe(10);
    expect(await threadOf(staying)).toBe(thread);
  });

  test("bad options fail at spawn naming the setting", async () => {
    const sys = system();
    expect(() => new ThreadPool({ size: 0 })).toThrow(InvalidOptionError);
    const notAPool = await rejectionOf(sys.spawn(COUNTER, { threads: { size: 2 } as unknown as ThreadPool }));
    expect((notAPool as InvalidOptionError).option).toBe("threads");
    const withRecycle = await rejectionOf(
      sys.spawn(COUNTER, { threads: new ThreadPool(), recycle: { afterMessages: 10 } }),
    );
    expect((withRecycle as InvalidOptionError).option).toBe("threads");
  });
});

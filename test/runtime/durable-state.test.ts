import { describe, expect, test } from "bun:test";
import { errorCode } from "../../src/errors.ts";
import { type ActorRef, MemoryStateStore, type StateStore, segmentOf, valueCodec } from "../../src/index.ts";
import type { CounterMessage } from "../fixtures/counter.actor.ts";
import { COUNTER, collect, fastRestartingSystems, range, rejectionOf, trips } from "../support/runtime.ts";
import { TestStateStore } from "./state-stores.ts";

const system = fastRestartingSystems();

/** `n` messages over `keys` keys, with the given faults at the given ids. */
function workload(n: number, keys: number, faults: Record<number, Partial<CounterMessage>> = {}) {
  return Array.from({ length: n }, (_, i) => ({ key: `k${i % keys}`, id: i + 1, ...faults[i + 1] }));
}

function expectedCounts(messages: CounterMessage[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of messages) counts[m.key] = (counts[m.key] ?? 0) + 1;
  return counts;
}

async function countsOf(ref: ActorRef<CounterMessage>, instances: number): Promise<Record<string, number>> {
  const all: Record<string, number> = {};
  for (let instance = 0; instance < instances; instance++)
    Object.assign(all, await ref.query<Record<string, number>>("counts", [], { instance }));
  return all;
}

/** Delivers like a stream pump, each message tagged with its id, waiting for credit when there is none. */
async function deliverAll(ref: ActorRef<CounterMessage>, messages: CounterMessage[]): Promise<void> {
  for (const message of messages) {
    while (!ref.deliver(message, () => {}, 0, message.id)) {
      await new Promise<void>((resolve) => {
        const off = ref.onCredit(() => {
          off();
          resolve();
        });
      });
    }
  }
}

/** Waits until every message sent so far is handled: an ask per instance queues behind all of them. */
async function settled(ref: ActorRef<CounterMessage>, instances: number): Promise<void> {
  for (let i = 0; i < instances; i++) await ref.ask({ key: `k${i}`, id: 0, op: "get" });
}

describe("durable state survives worker crashes", () => {
  // A slice budget of 1 µs writes each checkpoint 32 records at a time between messages (deferred 0 ms), and a handler that
  // awaits a turn of the event loop now and then lets checkpoint requests in while messages are handled:
  // crashes land while checkpoints are half written and messages change keys already written.
  for (const checkpointSliceMs of [undefined, 0.001])
    test(`crashes at several points (exit, throw under crash policy): state equals a crash-free run's${checkpointSliceMs ? ", checkpoints written in slices" : ""}`, async () => {
      const faults = {
        300: { op: "exit" as const, trip: 0 },
        1100: { op: "throw" as const, trip: 1 },
        1900: { op: "exit" as const, trip: 2 },
        2500: { op: "throw" as const, trip: 3 },
      };
      const messages = workload(3000, 400, faults);
      const run = async (crashes: boolean) => {
        const sys = system();
        const store = new TestStateStore();
        const ref = await sys.spawn<CounterMessage>(COUNTER, {
          name: crashes ? "crashing" : "clean",
          instances: 2,
          capacity: 128,
          route: (m) => m.key,
          onHandlerError: "crash",
          init: {
            trips: trips(...(crashes ? [1, 1, 1, 1] : [0, 0, 0, 0])),
            yieldEvery: checkpointSliceMs ? 7 : 0,
          },
          state: {
            store,
            checkpointEvery: 50,
            checkpointSliceMs,
            checkpointDeferMs: checkpointSliceMs ? 0 : undefined,
          },
        });
        for (const message of messages) await ref.tell(message);
        await settled(ref, 2);
        return { ref, store, counts: await countsOf(ref, 2) };
      };
      const clean = await run(false);
      const crashed = await run(true);
      expect(clean.counts).toEqual(expectedCounts(messages));
      expect(crashed.counts).toEqual(clean.counts);
      const stats = crashed.ref.stats().instances;
      expect(stats.reduce((sum, i) => sum + i.restarts, 0)).toBe(4);
      for (const instance of stats) {
        expect(instance.durable?.checkpoints).toBeGreaterThan(0);
        expect(instance.durable?.epoch).toBe(instance.restarts + 1);
      }
      const restarted = stats.find((i) => i.restarts > 0);
      expect(restarted?.durable?.restore?.keys).toBeGreaterThan(0);
      // Values round-trip: a Set and a Map, mutated in place and touched.
      const note = await crashed.ref.query<{ ids: number[]; lastBy: [string, number][] }>("note", ["k7"], {
        instance: 1,
      });
      const ids = messages.filter((m) => m.key === "k7").map((m) => m.id);
      expect(note?.ids).toEqual(ids);
      expect(note?.lastBy).toEqual([["id", ids.at(-1) as number]]);
    });

  test("a handler stuck past its deadline: the restarted instance continues where it was", async () => {
    const sys = system();
    const messages = workload(600, 10, { 250: { op: "hang" } });
    const ref = await sys.spawn<CounterMessage>(COUNTER, {
      capacity: 64,
      deadlineMs: 200,
      init: { trips: trips(1) },
      state: { store: new MemoryStateStore(), checkpointEvery: 20 },
    });
    const crashed = collect(sys, "crashed");
    for (const message of messages) await ref.tell(message);
    await settled(ref, 1);
    expect(crashed.seen.map((c) => c.reason)).toEqual(["deadline"]);
    expect(await countsOf(ref, 1)).toEqual(expectedCounts(messages));
  });

  test("a restart from the control plane keeps the state", async () => {
    const sys = system();
    const store = new TestStateStore();
    const ref = await sys.spawn<CounterMessage>(COUNTER, { state: { store, checkpointEvery: 10 } });
    const first = workload(200, 7);
    await deliverAll(ref, first);
    await store.until(() => store.covered().length === 200);
    const restarted = collect(sys, "restarted");
    sys.restart(ref.name);
    await restarted.atLeast(1);
    const second = workload(100, 7).map((m) => ({ ...m, id: m.id + 200 }));
    for (const message of second) await ref.tell(message);
    await settled(ref, 1);
    expect(await countsOf(ref, 1)).toEqual(expectedCounts([...first, ...second]));
    expect(await ref.query("keysAtInit")).toBe(7);
  });
});

describe("a crash while a commit is under way", () => {
  /**
   * 10 tagged messages make a checkpoint due; its commit is held in the store while message 11 kills the
   * worker. The restart waits for that commit: whatever its outcome, every message counts once and every
   * tag is settled once, by the first incarnation's commit or (redelivered) by the second's.
   */
  async function crashDuringCommit(outcome: "succeeds" | "fails") {
    const sys = system();
    const store = new TestStateStore();
    const ref = await sys.spawn<CounterMessage, number>(COUNTER, {
      capacity: 64,
      init: { trips: trips(1) },
      state: { store, checkpointEvery: 10, checkpointIntervalMs: 20 },
    });
    const held = store.hold();
    const crashed = collect(sys, "crashed");
    const restarted = collect(sys, "restarted");
    const epochs = new Map<number, number | undefined>();
    const messages = workload(12, 4, { 11: { op: "exit" } });
    const deliver = (message: CounterMessage) => {
      const done = (_error: unknown, _result?: number, epoch?: number) => epochs.set(message.id, epoch);
      expect(ref.deliver(message, done, 0, message.id)).toBe(true);
    };
    for (const message of messages.slice(0, 10)) deliver(message);
    await held.entered;
    for (const message of messages.slice(10)) deliver(message);
    await crashed.atLeast(1);
    if (outcome === "fails") store.refuse(1);
    held.release();
    await restarted.atLeast(1);
    await store.until(() => store.covered().length === 12);
    expect(store.covered().toSorted((a, b) => (a as number) - (b as number))).toEqual(range(1, 13));
    expect(await countsOf(ref, 1)).toEqual(expectedCounts(messages));
    return { store, epochs, restore: ref.stats().instances[0]?.durable?.restore };
  }

  test("it succeeds: what it covered is not redelivered", async () => {
    const { store, epochs, restore } = await crashDuringCommit("succeeds");
    expect(store.commits[0]?.covers).toEqual(range(1, 11));
    expect(store.commits[0]?.epoch).toBe(1);
    expect(store.commits.slice(1).every((c) => c.epoch === 2)).toBe(true);
    expect(restore?.keys).toBe(8);
    // Replies carry the epoch that handled the message; 11 and 12 were replied to by the second.
    expect([...epochs.keys()].toSorted((a, b) => a - b)).toEqual(range(1, 13));
    expect(range(1, 11).map((id) => epochs.get(id))).toEqual(Array(10).fill(1));
    expect([epochs.get(11), epochs.get(12)]).toEqual([2, 2]);
  });

  test("it fails: everything it covered is redelivered and covered by the next incarnation", async () => {
    const { store, restore } = await crashDuringCommit("fails");
    expect(store.commits.every((c) => c.epoch === 2)).toBe(true);
    expect(restore?.keys).toBe(0);
  });
});

describe("a restart with only handled messages to replay", () => {
  /**
   * Five messages are handled with results, their checkpoint is refused, and the worker restarts with no
   * other message to come: the five are handled again from the restored state, and that alone must make a
   * checkpoint due. (Before, a message finished with a result kept that mark when requeued, so its second
   * handling did not count as handled: no checkpoint was asked for until some new message came.)
   */
  test("the replays are covered by a checkpoint without waiting for a new message", async () => {
    const sys = system();
    const store = new TestStateStore();
    const ref = await sys.spawn<CounterMessage, number>(COUNTER, {
      state: { store, checkpointEvery: 100, checkpointIntervalMs: 20 },
    });
    const held = store.hold();
    const messages = workload(5, 2);
    for (const message of messages) expect(ref.deliver(message, () => {}, 0, message.id)).toBe(true);
    await held.entered;
    const restarted = collect(sys, "restarted");
    sys.restart(ref.name);
    store.refuse(1);
    held.release();
    await restarted.atLeast(1);
    await store.until(() => store.covered().length === 5);
    expect(store.covered().toSorted((a, b) => (a as number) - (b as number))).toEqual(range(1, 6));
    expect(await countsOf(ref, 1)).toEqual(expectedCounts(messages));
  });
});

describe("restore", () => {
  test("brings the tables back before initialState, in a new system (a new process)", async () => {
    const store = new MemoryStateStore();
    const messages = workload(500, 25);
    const first = system();
    const ref = await first.spawn<CounterMessage>(COUNTER, { name: "counter", state: { store } });
    for (const message of messages) await ref.tell(message);
    await ref.ask({ key: "k3", id: 501, op: "delete" });
    // A graceful stop takes a last checkpoint of everything handled.
    expect(await ref.stop()).toEqual({ drained: true, undelivered: 0 });
    const second = system();
    const again = await second.spawn<CounterMessage>(COUNTER, { name: "counter", state: { store } });
    const expected = expectedCounts(messages);
    delete expected.k3;
    expect(await countsOf(again, 1)).toEqual(expected);
    expect(await again.query("keysAtInit")).toBe(24);
    expect(await again.query("total")).toBe(500 - 20);
    const restore = again.stats().instances[0]?.durable?.restore;
    expect(restore?.keys).toBe(48);
    expect(restore?.ms).toBeGreaterThanOrEqual(0);
    expect(store.keys({ actor: "counter", instance: 0 })).toEqual({
      counts: 24,
      notes: 24,
    });
  });
});

describe("an actor spawned again that expects its record (expectRecord)", () => {
  /** Spawns "counter" on `store` in a new system, with `expectRecord`; the stateLost events it raised. */
  async function spawnAgain(store: StateStore, expectRecord: boolean) {
    const sys = system();
    const told: number[] = [];
    sys.events.on("stateLost", ({ epoch }) => told.push(epoch));
    const ref = await sys.spawn<CounterMessage>(COUNTER, { name: "counter", state: { store, expectRecord } });
    return { ref, told };
  }

  test("a store that lost everything: the state is reported lost, and the actor starts from nothing", async () => {
    const store = new MemoryStateStore();
    const ref = await system().spawn<CounterMessage>(COUNTER, { name: "counter", state: { store } });
    for (const message of workload(50, 5)) await ref.tell(message);
    await ref.stop();
    // Another store: the first's records are gone, as a Redis restarted without persistence loses them.
    const { ref: again, told } = await spawnAgain(new MemoryStateStore(), true);
    expect(told).toHaveLength(1);
    expect(await countsOf(again, 1)).toEqual({});
  });

  test("its record there: restored, nothing reported; without the option a store that lost it is a first start", async () => {
    const store = new MemoryStateStore();
    const ref = await system().spawn<CounterMessage>(COUNTER, { name: "counter", state: { store } });
    const messages = workload(50, 5);
    for (const message of messages) await ref.tell(message);
    await ref.stop();
    const kept = await spawnAgain(store, true);
    expect(kept.told).toEqual([]);
    expect(await countsOf(kept.ref, 1)).toEqual(expectedCounts(messages));
    expect((await spawnAgain(new MemoryStateStore(), false)).told).toEqual([]);
  });

  test("must be a boolean", async () => {
    await expect(
      system().spawn(COUNTER, {
        state: { store: new MemoryStateStore(), expectRecord: 1 as unknown as boolean },
      }),
    ).rejects.toThrow(/state.expectRecord: must be a boolean, got 1/);
  });
});

describe("a stop that hands back (a move to another process)", () => {
  test("checkpoints what was handled, hands back what was not started; the next incarnation handles exactly that", async () => {
    const store = new MemoryStateStore();
    const messages = workload(2000, 20);
    const first = system();
    const ref = await first.spawn<CounterMessage>(COUNTER, {
      name: "counter",
      capacity: 4096,
      // Outcomes reported every 50 messages: the stop comes after about a hundred, not a whole frame.
      ackEvery: 50,
      init: { spinMs: 1 },
      state: { store },
    });
    // Delivered as a pump does: each outcome by id (a result, or the code it was finished with).
    const outcomes = new Map<number, string>();
    const someHandled = Promise.withResolvers<void>();
    for (const message of messages)
      expect(
        ref.deliver(
          message,
          (error) => {
            outcomes.set(message.id, error ? errorCode(error)! : "handled");
            if (outcomes.size === 100) someHandled.resolve();
          },
          0,
          message.id,
        ),
      ).toBe(true);
    await someHandled.promise;
    // Two seconds of work were queued; the worker finishes the message it is in and starts no other.
    expect(await ref.stop({ handBack: true })).toEqual({ drained: true, undelivered: 0 });
    const handled = messages.filter((m) => outcomes.get(m.id) === "handled");
    const handedBack = messages.filter((m) => outcomes.get(m.id) === "ERR_CANCELLED");
    expect(handled.length + handedBack.length).toBe(messages.length);
    expect(handedBack.length).toBeGreaterThan(messages.length / 2);
    // What was handled is a prefix, and exactly what the checkpoint holds.
    expect(handled.map((m) => m.id)).toEqual(range(1, handled.length + 1));
    const next = system();
    const again = await next.spawn<CounterMessage>(COUNTER, { name: "counter", state: { store } });
    expect(await countsOf(again, 1)).toEqual(expectedCounts(handled));
    for (const message of handedBack) await again.tell(message);
    await settled(again, 1);
    expect(await countsOf(again, 1)).toEqual(expectedCounts(messages));
  });
});

describe("a stop that hands back only messages not started", () => {
  test("checkpoints what was handled before it at once, and loses none of it", async () => {
    const store = new MemoryStateStore();
    const messages = workload(6, 3);
    const first = system();
    const ref = await first.spawn<CounterMessage>(COUNTER, {
      name: "counter",
      // No checkpoint of its own before the stop: only the stop's covers the five answered messages.
      state: { store, checkpointEvery: 1000, checkpointIntervalMs: 60_000 },
    });
    for (const message of messages.slice(0, 5)) await ref.ask(message);
    const last = messages[5]!;
    let lastOutcome = "";
    expect(
      ref.deliver(
        last,
        (error) => {
          lastOutcome = error ? errorCode(error)! : "handled";
        },
        0,
        last.id,
      ),
    ).toBe(true);
    const stopping = performance.now();
    // A spec test: an ack made only of messages given back asked for no checkpoint, so the stop waited out
    // its deadline and the five answered messages were in no checkpoint.
    expect(await ref.stop({ handBack: true, deadlineMs: 5_000 })).toEqual({ drained: true, undelivered: 0 });
    expect(performance.now() - stopping).toBeLessThan(2_000);
    const handled = lastOutcome === "handled" ? messages : messages.slice(0, 5);
    const again = await system().spawn<CounterMessage>(COUNTER, { name: "counter", state: { store } });
    expect(await countsOf(again, 1)).toEqual(expectedCounts(handled));
  });
});

describe("restore from views", () => {
  test("each chunk travels as exactly its bytes, not the buffer it is a view on", async () => {
    // Chunks as ioredis hands them out: small views on one large buffer. Posting a view copies its whole
    // buffer (here 300 × 32 MiB, about 10 GB, minutes and an out-of-memory), so the restore must not.
    const pool = new Uint8Array(32 * 1024 * 1024);
    const views: Uint8Array[] = [];
    let at = 0;
    for (let i = 0; i < 300; i++) {
      const segment = segmentOf(["counts", `k${i}`, valueCodec.encode(i + 1)]) as Uint8Array;
      pool.set(segment, at);
      views.push(pool.subarray(at, at + segment.byteLength));
      at += segment.byteLength;
    }
    const store: StateStore = {
      restore: async () => ({
        epoch: 1,
        chunks: (async function* () {
          yield* views;
        })(),
      }),
      commit: async () => {},
    };
    const ref = await system().spawn<CounterMessage>(COUNTER, { name: "from-views", state: { store } });
    expect(await ref.query<number>("total")).toBe((300 * 301) / 2);
    expect(ref.stats().instances[0]?.durable?.restore?.ms).toBeLessThan(5_000);
  }, 20_000);
});

describe("an actor without a state store", () => {
  test("is unchanged: its tables live in the worker only, replies carry no epoch", async () => {
    const sys = system();
    const ref = await sys.spawn<CounterMessage, number>(COUNTER, {
      capacity: 16,
      init: { trips: trips(1) },
    });
    const replies: unknown[][] = [];
    for (let id = 1; id <= 5; id++) {
      await new Promise<void>((resolve) => {
        const sent = ref.deliver({ key: "a", id }, (...args: unknown[]) => {
          replies.push(args);
          resolve();
        });
        expect(sent).toBe(true);
      });
    }
    expect(replies).toEqual([1, 2, 3, 4, 5].map((n) => [null, n]));
    expect(ref.stats().instances[0]?.durable).toBeNull();
    expect(ref.stats().instances[0]?.credits).toBe(16);
    const restarted = collect(sys, "restarted");
    await ref.tell({ key: "a", id: 6, op: "exit" });
    await restarted.atLeast(1);
    // Not persisted: the restarted worker starts from nothing (message 6 is handled again).
    expect(await ref.ask({ key: "a", id: 7, op: "get" })).toBe(1);
    expect(await ref.query("keysAtInit")).toBe(0);
  });
});

describe("checkpoints", () => {
  test("write only the keys touched since the last one, whatever the state size", async () => {
    const sys = system();
    const store = new TestStateStore();
    const ref = await sys.spawn<CounterMessage>(COUNTER, {
      capacity: 512,
      state: { store, checkpointEvery: 200, checkpointIntervalMs: 50 },
    });
    const preload = workload(2000, 1000);
    const hot = workload(300, 3).map((m) => ({ ...m, id: m.id + 2000 }));
    const messages = [...preload, ...hot];
    await deliverAll(ref, messages);
    await store.until(() => store.covered().length === messages.length);
    expect(store.covered()).toEqual(messages.map((m) => m.id));
    // Each checkpoint wrote the keys its messages touched (in both tables), nothing else.
    for (const commit of store.commits) {
      const keys = new Set(commit.covers.map((id) => messages[(id as number) - 1]?.key));
      expect(commit.keys).toBe(2 * keys.size);
    }
    const hotCommits = store.commits.filter((c) => (c.covers[0] as number) > 2000);
    expect(hotCommits.length).toBeGreaterThan(0);
    for (const commit of hotCommits) expect(commit.keys).toBeLessThanOrEqual(6);
    expect(store.inner.keys({ actor: ref.name, instance: 0 })).toEqual({
      counts: 1000,
      notes: 1000,
    });
    const last = ref.stats().instances[0]?.durable?.lastCheckpoint;
    expect(last?.keys).toBeLessThanOrEqual(6);
    expect(last?.bytes).toBeGreaterThan(0);
    expect(last?.durationMs).toBeGreaterThanOrEqual(0);
    expect(last?.pauseMs).toBeGreaterThanOrEqual(0);
  });

  test("a big checkpoint is written where the worker idles: the messages that come meanwhile do not wait for it", async () => {
    const sys = system();
    const store = new TestStateStore();
    // A checkpoint falls due at half the capacity: the fill's last message asks for one of ~30k keys in
    // each table (each note a Set and a Map to encode), tens of milliseconds of slices.
    const fill = 30_000;
    const ref = await sys.spawn<CounterMessage, number>(COUNTER, {
      capacity: 2 * fill,
      state: { store, checkpointEvery: fill, checkpointIntervalMs: 60_000 },
    });
    const messages = workload(fill, fill);
    for (const message of messages.slice(0, -1)) await ref.tell(message);
    await ref.ask(messages.at(-1) as CounterMessage);
    // The checkpoint request is on its way to the worker, ahead of these: each would wait a slice if
    // slices went between messages. (A reply waits for its checkpoint: the total tells they are handled.)
    const started = performance.now();
    for (const i of range(0, 200)) await ref.tell({ key: "late", id: fill + 1 + i });
    while ((await ref.query<number>("total")) < fill + 200);
    const tookMs = performance.now() - started;
    await store.until(() => store.commits.length >= 1);
    // The first checkpoint wrote the late key too: those messages were handled while it was under way.
    const first = store.commits[0];
    expect(first?.keys).toBe(2 * fill + 2);
    const workMs = ref.stats().instances[0]?.durable?.lastCheckpoint?.workMs ?? 0;
    console.log(
      `200 messages during a checkpoint of ${workMs.toFixed(1)} ms of work: ${tookMs.toFixed(1)} ms`,
    );
    // A slice per message boundary made them wait for nearly all of it (49-75 ms against 2-4 ms here).
    expect(tookMs).toBeLessThan(workMs / 2);
  });

  test("hold their messages' credits until durable; a refused commit is retried and settles nothing meanwhile", async () => {
    const sys = system();
    const store = new TestStateStore();
    const ref = await sys.spawn<CounterMessage, number>(COUNTER, {
      capacity: 40,
      backoff: { minMs: 5, maxMs: 20 },
      state: { store, checkpointEvery: 10, checkpointIntervalMs: 60_000 },
    });
    store.refuse(Number.POSITIVE_INFINITY);
    const first = workload(10, 3);
    await deliverAll(ref, first);
    await store.until(() => store.refused >= 3);
    const instance = () => ref.stats().instances[0];
    expect(store.commits).toHaveLength(0);
    expect(instance()?.durable?.uncovered).toBe(10);
    expect(instance()?.credits).toBe(30);
    // More work while refused: checkpoints taken meanwhile merge into the pending one; credits run out.
    const second = workload(30, 3).map((m) => ({ ...m, id: m.id + 10 }));
    const delivering = deliverAll(ref, second);
    await store.until(() => instance()?.credits === 0);
    expect(store.commits).toHaveLength(0);
    store.refuse(0);
    await delivering;
    await store.until(() => store.covered().length === 40);
    expect(instance()?.durable?.checkpointFailures).toBe(store.refused);
    // Settled once each, in order, by the commits that succeeded.
    expect(store.covered()).toEqual(range(1, 41));
    const expected = expectedCounts([...first, ...second]);
    expect(await countsOf(ref, 1)).toEqual(expected);
    // The merged checkpoint kept each key's latest value: a new incarnation restores the same counts.
    await ref.stop();
    const again = await sys.spawn<CounterMessage>(COUNTER, { name: ref.name, state: { store } });
    expect(await countsOf(again, 1)).toEqual(expected);
  });

  test("a store that cannot restore fails the start with ERR_STATE_RESTORE", async () => {
    const store = new MemoryStateStore();
    store.restore = () => Promise.reject(new Error("connection refused"));
    const refused = await rejectionOf(system().spawn(COUNTER, { state: { store } }));
    expect(refused).toMatchObject({ code: "ERR_STATE_RESTORE" });
    expect((refused as Error).message).toContain("connection refused");
  });
});

describe("fencing", () => {
  test("a commit refused as fenced stops the instance for good; what it held is left unsettled", async () => {
    const sys = system();
    const store = new TestStateStore();
    const fenced = collect(sys, "fenced");
    const restarting = collect(sys, "restarting");
    const ref = await sys.spawn<CounterMessage, number>(COUNTER, {
      state: { store, checkpointEvery: 5, checkpointIntervalMs: 60_000 },
    });
    for (let id = 1; id <= 5; id++) await ref.tell({ key: "a", id });
    await store.committed(1);
    // Another process takes the instance over: a new epoch.
    const taken = await store.restore({ actor: ref.name, instance: 0 });
    expect(taken.epoch).toBe(2);
    const errors: unknown[] = [];
    for (let id = 6; id <= 10; id++)
      ref.deliver(
        { key: "a", id },
        (error) => errors.push(error === null ? null : error.code),
        0,
        `tag-${id}`,
      );
    await fenced.atLeast(1);
    expect(fenced.seen[0]).toMatchObject({ actor: ref.name, instance: 0, epoch: 1 });
    expect(fenced.seen[0]?.error.code).toBe("ERR_FENCED");
    const stats = ref.stats().instances[0];
    expect(stats?.state).toBe("fenced");
    expect(stats?.durable?.fencedWrites).toBe(1);
    // Replied (handled) before the fence; settled by nobody here.
    expect(errors).toEqual([null, null, null, null, null]);
    expect(store.covered()).toEqual([]);
    // Given back to the store unsettled: a stream store leaves those entries pending for the new owner.
    expect(store.released).toEqual(["tag-6", "tag-7", "tag-8", "tag-9", "tag-10"]);
    expect(restarting.seen).toHaveLength(0);
    const refused = await rejectionOf(ref.ask({ key: "a", id: 11 }));
    expect((refused as { code?: string }).code).toBe("ERR_ACTOR_FAILED");
  });

  test("a worker restarted after its state was taken over is fenced, never restored over the new owner", async () => {
    const sys = system();
    const store = new TestStateStore();
    const fenced = collect(sys, "fenced");
    const ref = await sys.spawn<CounterMessage, number>(COUNTER, {
      state: { store, checkpointEvery: 5, checkpointIntervalMs: 60_000 },
      init: { trips: trips(1) },
    });
    for (let id = 1; id <= 5; id++) await ref.tell({ key: "a", id });
    await store.committed(1);
    const scope = { actor: ref.name, instance: 0 };
    // Taken over by another process while this one was frozen; on thawing its worker dies (a missed
    // deadline, say) and the supervisor restarts it.
    expect((await store.restore(scope)).epoch).toBe(2);
    await ref.tell({ key: "a", id: 6, op: "exit" });
    await fenced.atLeast(1);
    expect(ref.stats().instances[0]?.state).toBe("fenced");
    // The refused restore bumped nothing: the next takeover gets the epoch after the new owner's.
    expect((await store.restore(scope)).epoch).toBe(3);
  });
});

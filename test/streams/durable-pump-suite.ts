/**
 * The pump feeding a durable target (durable-target.ts), run against every backend: an entry is acked only
 * by the state checkpoint that covers it; after crashes inside the process, a killed process or a zombie
 * the stored state is what a crash-free run gives, every output written once; outputs refused for an old
 * epoch are written by the newer incarnation, before its own (outputs under their entries' ids keep the
 * source's order); a refused checkpoint acks nothing; retention
 * never trims an entry a checkpoint has not covered yet.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { untilDrained } from "../../src/streams/drained.ts";
import { defaultCodec, entryFields } from "../../src/streams/entry-codec.ts";
import type { Output } from "../../src/streams/outputs.ts";
import { Pump } from "../../src/streams/pump.ts";
import type { PumpOptions } from "../../src/streams/pump-options.ts";
import { trimAcked } from "../../src/streams/retention.ts";
import type { StreamStateStore } from "../../src/streams/stream-state-store.ts";
import { ManualClock } from "../support/manual-clock.ts";
import type { ContractHarness } from "./contract.ts";
import { type CountMsg, DurableTarget, type DurableTargetOptions, storedCounts } from "./durable-target.ts";
import { until } from "./test-target.ts";

/** Deterministic randomness, so a failing run can be reproduced. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MILESTONE = 10;

export function runDurablePumpSuite(
  name: string,
  create: () => Promise<ContractHarness>,
  faulty?: () => Promise<ContractHarness>,
): void {
  describe(`pump with a durable target: ${name}`, () => {
    let h: ContractHarness;
    let b: StreamBackend;
    let s: string;
    let out: string;
    let store: StreamStateStore;
    const pumps: Pump<CountMsg, Output[]>[] = [];
    const open = async (factory = create) => {
      h = await factory();
      b = h.backend;
      s = `${h.prefix}:tx`;
      out = `${h.prefix}:alerts`;
      store = b.stateStore({ anchor: s });
    };
    const fill = async (keys: string[]) => {
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000).map((key) => defaultCodec.encode({ key }));
        await b.appendBatch(s, batch);
      }
    };
    /** Every MILESTONE-th count of a key is an output, its id derived from the state (like an alert's). */
    const milestones = (key: string, count: number): Output[] =>
      count % MILESTONE === 0
        ? [{ stream: out, dedupId: `${key}:${count}`, scope: "global", payload: { key, count } }]
        : [];
    const target = (options: Partial<DurableTargetOptions> = {}) =>
      new DurableTarget({ store, instances: 2, window: 64, outputs: milestones, ...options });
    const makePump = (t: DurableTarget, options: Partial<PumpOptions<CountMsg, Output[]>> = {}) => {
      const pump = new Pump<CountMsg, Output[]>(b, t, {
        stream: s,
        group: "g",
        consumer: "me",
        blockMs: 50,
        retryMinMs: 5,
        retryMaxMs: 50,
        sweepIntervalMs: 0,
        stopTimeoutMs: 500,
        stateStore: store,
        ...options,
      });
      pumps.push(pump);
      return pump;
    };
    const acked = (pump: Pump<CountMsg, Output[]>, count: number) =>
      until(
        (check) => pump.on("acked", check),
        () => pump.stats.acked >= count,
      );
    const drained = async () => {
      const info = await b.groupInfo(s, "g");
      return info !== null && info.pending === 0 && info.lag === 0;
    };
    const expectedCounts = (keys: string[]) => {
      const counts = new Map<string, number>();
      for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
      return counts;
    };
    /** The output ids written, each exactly once, and the ones a crash-free run writes. */
    const outputs = async () =>
      (await b.range(out, { count: 1_000_000 })).map((e) => {
        const { key, count } = defaultCodec.decode(e.fields!) as { key: string; count: number };
        return `${key}:${count}`;
      });
    const expectedOutputs = (counts: Map<string, number>) =>
      [...counts].flatMap(([key, n]) =>
        Array.from({ length: Math.floor(n / MILESTONE) }, (_, i) => `${key}:${(i + 1) * MILESTONE}`),
      );
    const sorted = (list: string[]) => [...list].sort();
    /** The stored state and the outputs are a crash-free run's over `keys`: every output once. */
    const expectCrashFree = async (keys: string[]) => {
      const counts = expectedCounts(keys);
      expect(await storedCounts(store, "counter", 2)).toEqual(counts);
      const written = await outputs();
      expect(written.length).toBe(new Set(written).size);
      expect(sorted(written)).toEqual(sorted(expectedOutputs(counts)));
    };
    afterEach(async () => {
      for (const pump of pumps.splice(0)) await pump.stop();
      await h?.cleanup();
    });

    test("an entry is acked only by the checkpoint that covers it; its outputs are written before", async () => {
      await open();
      const keys = Array.from({ length: 30 }, (_, i) => `k${i % 3}`);
      await fill(keys);
      const t = target({ autoCheckpoint: false });
      await t.ready();
      const pump = makePump(t);
      await pump.start();
      await until(
        (check) => t.on("handled", check),
        () => t.handled === 30,
      );
      await until(
        (check) => pump.on("written", check),
        () => pump.stats.outputsWritten === 3,
      );
      expect(pump.stats.acked).toBe(0);
      expect(pump.stats.held).toBe(30);
      expect((await b.groupInfo(s, "g"))?.pending).toBe(30);
      // Handled and uncovered entries keep their credits: the pump's room is what the target has free.
      expect(t.freeCredits()).toBe(2 * 64 - 30);
      expect(pump.stats.outputsWritten).toBe(3);
      const ackedEvents: number[] = [];
      pump.on("acked", ({ ids, outputsWritten }) => ackedEvents.push(ids.length, outputsWritten));
      await t.checkpoint();
      await acked(pump, 30);
      expect(await drained()).toBe(true);
      expect(pump.stats.held).toBe(0);
      expect(ackedEvents.reduce((a, n, i) => (i % 2 === 0 ? a + n : a), 0)).toBe(30);
      expect(sorted(await outputs())).toEqual(["k0:10", "k1:10", "k2:10"]);
      expect(await storedCounts(store, "counter", 2)).toEqual(expectedCounts(keys));
    });

    test("an entry handed over in process is handled and covered as one read, and nothing is acked for it", async () => {
      await open();
      const keys = Array.from({ length: 10 }, (_, i) => `k${i % 2}`);
      await fill(keys);
      const t = target({ autoCheckpoint: false });
      await t.ready();
      const pump = makePump(t);
      await pump.start();
      // Handed over: never written to the stream here, so only the hand-over can bring them.
      const local = Array.from({ length: MILESTONE }, () => "local");
      for (const key of local) expect(pump.handOver(entryFields(defaultCodec.encode({ key })))).toBe(true);
      await until(
        (check) => t.on("handled", check),
        () => t.handled === keys.length + local.length,
      );
      await until(
        (check) => pump.on("written", check),
        () => pump.stats.outputsWritten === 1,
      );
      expect(pump.stats.handedOver).toBe(local.length);
      expect(pump.stats.held).toBe(keys.length + local.length);
      await t.checkpoint();
      await acked(pump, keys.length);
      // The checkpoint covered both kinds; only the stream's entries were acked (an id that is not a stream
      // id in the XACK would have failed the whole commit on Redis).
      expect(pump.stats.acked).toBe(keys.length);
      expect(pump.stats.held).toBe(0);
      expect(await drained()).toBe(true);
      expect(await outputs()).toEqual(["local:10"]);
      expect(await storedCounts(store, "counter", 2)).toEqual(expectedCounts([...keys, ...local]));
      // A pause for a request stops reads, not hand-overs; a stopped pump takes none.
      await pump.pause();
      expect(pump.handOver(entryFields(defaultCodec.encode({ key: "paused" })))).toBe(true);
      await pump.stop();
      expect(pump.handOver(entryFields(defaultCodec.encode({ key: "stopped" })))).toBe(false);
    });

    test("a pump without a state store takes no hand-over: nothing would cover it", async () => {
      await open();
      const t = target();
      await t.ready();
      const pump = makePump(t, { stateStore: null });
      await pump.start();
      expect(pump.handOver(entryFields(defaultCodec.encode({ key: "k" })))).toBe(false);
      expect(pump.stats.handedOver).toBe(0);
    });
    /**
     * A target whose instances crash inside the process every 1,000-3,000 handled messages (`crashes()`
     * counts them), over 20,000 entries on 150 keys filled from `seed`.
     */
    const crashingTarget = async (seed: number, options: Partial<DurableTargetOptions> = {}) => {
      const random = prng(seed);
      const keys = Array.from({ length: 20_000 }, () => `k${Math.floor(random() * 150)}`);
      await fill(keys);
      let nextCrash = 1_500;
      let crashes = 0;
      const t: DurableTarget = target({
        checkpointEvery: 24,
        ...options,
        afterHandle: (instance, handled) => {
          if (handled < nextCrash) return;
          nextCrash = handled + 1_000 + Math.floor(random() * 2_000);
          crashes++;
          queueMicrotask(() => void t.crash(instance));
        },
      });
      await t.ready();
      return { t, keys, crashes: () => crashes };
    };

    test("crashes inside the process at random points: the state is the crash-free one, outputs once", async () => {
      await open();
      const { t, keys, crashes } = await crashingTarget(7);
      const pump = makePump(t);
      let maxHeld = 0;
      pump.on("read", () => {
        maxHeld = Math.max(maxHeld, pump.stats.held);
      });
      await pump.start();
      await acked(pump, keys.length);
      expect(crashes()).toBeGreaterThanOrEqual(5);
      expect(await drained()).toBe(true);
      expect(maxHeld).toBeLessThanOrEqual(2 * 64);
      // More handled than entries: the uncovered ones were handled again after each crash, from the restored state.
      expect(t.handled).toBeGreaterThan(keys.length);
      await pump.stop();
      await expectCrashFree(keys);
    }, 60_000);

    test("\"source\" outputs through crashes inside the process: each entry's, once, in the source's order", async () => {
      await open();
      const forwarded = `${h.prefix}:forwarded`;
      const { t, keys, crashes } = await crashingTarget(11, {
        // One instance: outputs under their entries' ids need one writer in the source's order.
        instances: 1,
        outputs: (key, count) => [
          { stream: forwarded, dedupId: "fwd", scope: "source", payload: { key, count } },
        ],
      });
      const pump = makePump(t);
      await pump.start();
      await until(
        (check) => {
          const offs = [pump.on("acked", check), pump.on("deadLettered", check)];
          return () => {
            for (const off of offs) off();
          };
        },
        () => pump.stats.acked + pump.stats.deadLettered >= keys.length,
      );
      expect(crashes()).toBeGreaterThanOrEqual(5);
      expect(pump.stats.deadLettered).toBe(0);
      const source = (await b.range(s, { count: 100_000 })).map((e) => e.id);
      expect((await b.range(forwarded, { count: 100_000 })).map((e) => e.id)).toEqual(source);
    }, 60_000);

    /**
     * A process that handled `keys` under `consumer` until `ackedBeforeKill` entries were acked, then died
     * (kill -9: no stop, no last checkpoint). Returns the keys; the entries it held stay pending.
     */
    const killedMidway = async (seed: number, count: number, ackedBeforeKill: number, consumer = "me") => {
      const random = prng(seed);
      const keys = Array.from({ length: count }, () => `k${Math.floor(random() * 60)}`);
      await fill(keys);
      const first = target({ checkpointEvery: 32 });
      await first.ready();
      const dying = makePump(first, { consumer, stopTimeoutMs: 0 });
      await dying.start();
      await acked(dying, ackedBeforeKill);
      first.kill();
      await dying.stop();
      return keys;
    };

    test("a killed process: a new one under the same name restores and replays; nothing twice", async () => {
      await open();
      const keys = await killedMidway(11, 6_000, 2_000);
      const pendingAtKill = (await b.groupInfo(s, "g"))!.pending;
      expect(pendingAtKill).toBeGreaterThan(0);

      const second = target({ checkpointEvery: 32 });
      await second.ready();
      const pump = makePump(second);
      await pump.start();
      await drainedBy(pump);
      await pump.stop();
      await expectCrashFree(keys);
    }, 30_000);

    test("a new process under another name replays its predecessor's entries first, in stream order", async () => {
      await open();
      const keys = await killedMidway(12, 3_000, 1_000, "old");
      const pendingAtKill = (await b.pending(s, "g", { count: 10_000 })).map((p) => p.id);
      expect(pendingAtKill.length).toBeGreaterThan(0);

      const second = target({ checkpointEvery: 32 });
      await second.ready();
      // No claim sweep: the predecessor's entries are not idle yet; the heir takes them over at start.
      const pump = makePump(second, { consumer: "new" });
      const sources: string[] = [];
      pump.on("read", (e) => sources.push(e.source));
      let replayed = -1;
      pump.on("replayed", (e) => {
        replayed = e.count;
      });
      await pump.start();
      await drainedBy(pump);
      await pump.stop();
      expect(sources[0]).toBe("replayed");
      // All it held, less what a checkpoint of the killed process already on its way to Redis acked.
      expect(replayed).toBeGreaterThan(0);
      expect(replayed).toBeLessThanOrEqual(pendingAtKill.length);
      expect(await storedCounts(store, "counter", 2)).toEqual(expectedCounts(keys));
    }, 30_000);

    test("entries Redis hands a frozen predecessor's parked read during the takeover are adopted too", async () => {
      await open();
      await b.ensureGroup(s, "g");
      // The predecessor, frozen in a blocking read: Redis still serves it when entries arrive.
      const parked = b.readNew(s, "g", "frozen", { count: 50, blockMs: 2_000 });
      const clock = new ManualClock();
      const heir = target({ checkpointEvery: 8 });
      await heir.ready();
      const pump = makePump(heir, { consumer: "heir", blockMs: 2_000, clock });
      let replayed = -1;
      pump.on("replayed", (e) => {
        replayed = e.count;
      });
      const waiting = clock.nextTimer();
      const starting = pump.start();
      // The heir adopted what there was (nothing) and waits out the predecessor's BLOCK.
      await waiting;
      const keys = Array.from({ length: 40 }, (_, i) => `k${i % 4}`);
      await fill(keys);
      // Redis serves a parked read on the first append of a pipeline: it takes 1 or all 40.
      const taken = (await parked).length;
      expect(taken).toBeGreaterThan(0);
      clock.advance(2_100);
      await starting;
      await drainedBy(pump);
      await pump.stop();
      expect(replayed).toBe(taken);
      expect(await storedCounts(store, "counter", 2)).toEqual(expectedCounts(keys));
    }, 30_000);

    test("a zombie's late outputs and checkpoint are refused; another process's work stands", async () => {
      await open();
      const keys = Array.from({ length: 400 }, (_, i) => `k${i % 20}`);
      await fill(keys.slice(0, 200));
      // Frozen (SIGSTOP) right after its 100th entry, which is then handled and uncovered: it neither
      // reads, handles nor commits. (Frozen once 100 were acked instead, it had at times covered all 200.)
      const zombie: DurableTarget = target({
        checkpointEvery: 8,
        afterHandle: (_, handled) => {
          if (handled === 100) zombie.freeze();
        },
      });
      await zombie.ready();
      const zombiePump = makePump(zombie, { consumer: "zombie" });
      await zombiePump.start();
      await until(
        (check) => zombie.on("handled", check),
        () => zombie.handled >= 100,
      );
      await zombiePump.pause();
      await fill(keys.slice(200));
      await h.elapse(150);
      const heir = target({ checkpointEvery: 8 });
      await heir.ready();
      const heirPump = makePump(heir, { consumer: "heir", claimIdleMs: 100, sweepIntervalMs: 50 });
      await heirPump.start();
      await drainedBy(heirPump);
      const before = { acked: zombiePump.stats.acked, written: zombiePump.stats.outputsWritten };
      zombiePump.resume();
      zombie.thaw();
      // Its first checkpoint is refused: it stops and gives back every entry it held, unacked.
      await until(
        (check) => zombiePump.on("released", check),
        () => zombie.fencedCommits >= 1 && zombiePump.stats.held === 0,
      );
      // Nothing of what it handled after the takeover was acked or written.
      expect(zombiePump.stats.acked).toBe(before.acked);
      expect(zombiePump.stats.outputsWritten).toBe(before.written);
      expect(await drained()).toBe(true);
      await heirPump.stop();
      await zombiePump.stop();
      await expectCrashFree(keys);
    }, 30_000);

    test("retention never trims an entry handled but not yet covered by a checkpoint", async () => {
      await open();
      await fill(Array.from({ length: 50 }, (_, i) => `k${i}`));
      const t = target({ autoCheckpoint: false });
      await t.ready();
      const pump = makePump(t);
      await pump.start();
      await until(
        (check) => t.on("handled", check),
        () => t.handled === 50,
      );
      expect(await trimAcked(b, s)).toMatchObject({ removed: 0 });
      expect(await b.length(s)).toBe(50);
      await t.checkpoint();
      await acked(pump, 50);
      expect((await trimAcked(b, s)).removed).toBe(50);
      expect(await b.length(s)).toBe(0);
    });

    test.skipIf(!faulty)(
      "a refused checkpoint (out of memory) acks nothing; its entries finish later",
      async () => {
        await open(faulty);
        const keys = Array.from({ length: 40 }, (_, i) => `k${i % 4}`);
        await fill(keys);
        const t = target({ checkpointEvery: 8, outputs: undefined });
        await t.ready();
        await b.ensureGroup(s, "g");
        await h.breakWrites!();
        const pump = makePump(t);
        try {
          await pump.start();
          await until(
            (check) => t.on("commitFailed", check),
            () => t.handled === 40 && t.failedCommits > 0,
          );
          expect(pump.stats.acked).toBe(0);
          expect((await b.groupInfo(s, "g"))?.pending).toBe(40);
        } finally {
          await h.healWrites!();
        }
        await acked(pump, 40);
        expect(await drained()).toBe(true);
        expect(await storedCounts(store, "counter", 2)).toEqual(expectedCounts(keys));
      },
    );

    test.skipIf(!faulty)(
      "outputs refused for a crashed incarnation are written by the restored one",
      async () => {
        await open(faulty);
        const keys = Array.from({ length: 10 }, () => "k");
        await fill(keys);
        const t = target({ instances: 1, autoCheckpoint: false });
        await t.ready();
        const firstEpoch = t.epoch(0);
        await b.ensureGroup(s, "g");
        await h.breakWrites!();
        const pump = makePump(t, { retryMinMs: 300, retryMaxMs: 300 });
        const failed = new Promise((resolve) => pump.on("outputFailed", resolve));
        await pump.start();
        await failed;
        // The write of "k:10" failed once and waits for its retry; the instance crashes and is restored.
        await h.healWrites!();
        await t.crash(0);
        expect(t.epoch(0)).toBeGreaterThan(firstEpoch);
        await until(
          (check) => pump.on("outputFenced", check),
          () => pump.stats.outputsFenced === 1,
        );
        expect(await b.length(out)).toBe(0);
        // The restored incarnation handled the uncovered entries again; its checkpoint writes their outputs.
        await until(
          (check) => t.on("handled", check),
          () => t.uncovered(0) === 10,
        );
        await t.checkpoint();
        await acked(pump, 10);
        expect(await outputs()).toEqual(["k:10"]);
        expect(await drained()).toBe(true);
        expect(await storedCounts(store, "counter", 1)).toEqual(new Map([["k", 10]]));
      },
    );

    const drainedBy = (pump: Pump<CountMsg, Output[]>) => untilDrained(b, [pump]);
  });
}

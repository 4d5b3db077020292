/**
 * Pump behaviour, run against every backend: zero loss under handler failures and crashes, dead
 * letters (poison, malformed, too many deliveries, deleted while pending), the seed's bug A (a reclaimed
 * entry is processed before it is acked) and bug B (a failing output write neither blocks the batch
 * forever nor acks it unprocessed), bounded holding, pause/stop, consumer hygiene.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { TroupeError } from "../../src/errors.ts";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { leaseKey } from "../../src/streams/leases.ts";
import type { Output } from "../../src/streams/outputs.ts";
import { Pump } from "../../src/streams/pump.ts";
import type { PumpOptions } from "../../src/streams/pump-options.ts";
import type { PumpTarget } from "../../src/streams/pump-target.ts";
import type { ContractHarness } from "./contract.ts";
import { TestTarget, until } from "./test-target.ts";

interface Msg {
  n: number;
  poison?: boolean;
}

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

export interface PumpSuiteOptions {
  /** Entries in the zero-loss run. @defaultValue 50000 (the acceptance size) */
  zeroLossEntries?: number;
  /** Harnesses whose `breakWrites` is safe (a private server on Redis); without it those tests skip. */
  faulty?: () => Promise<ContractHarness>;
}

export function runPumpSuite(
  name: string,
  create: () => Promise<ContractHarness>,
  suite: PumpSuiteOptions = {},
): void {
  const faulty = suite.faulty;
  describe(`pump: ${name}`, () => {
    let h: ContractHarness;
    let b: StreamBackend;
    let s: string;
    let out: string;
    const pumps: Pump<Msg, Output[]>[] = [];
    const open = async (factory = create) => {
      h = await factory();
      b = h.backend;
      s = `${h.prefix}:tx`;
      out = `${h.prefix}:alerts`;
    };
    const fill = async (messages: Msg[]) => {
      for (let i = 0; i < messages.length; i += 1000) {
        await b.appendBatch(
          s,
          messages.slice(i, i + 1000).map((m) => defaultCodec.encode(m)),
        );
      }
    };
    const effect = (m: Msg): Output[] => [{ stream: out, dedupId: "effect", payload: { n: m.n } }];
    const makePump = (
      target: PumpTarget<Msg, Output[]>,
      options: Partial<PumpOptions<Msg, Output[]>> = {},
    ) => {
      const pump = new Pump<Msg, Output[]>(b, target, {
        stream: s,
        group: "g",
        consumer: "me",
        blockMs: 50,
        retryMinMs: 5,
        retryMaxMs: 50,
        sweepIntervalMs: 0,
        ...options,
      });
      pumps.push(pump);
      return pump;
    };
    const settled = (pump: Pump<Msg, Output[]>, count: number) =>
      until(
        (check) => {
          const offs = [pump.on("acked", check), pump.on("deadLettered", check)];
          return () => {
            for (const off of offs) off();
          };
        },
        () => pump.stats.acked + pump.stats.deadLettered >= count,
      );
    /** Starts and waits for the own-history replay to finish (claims wait for it). */
    const startReplayed = async (pump: Pump<Msg, Output[]>) => {
      const replayed = new Promise((resolve) => pump.on("replayed", resolve));
      await pump.start();
      await replayed;
    };
    /** One instance, every message under one key: handled one after the other, `window` at a time. */
    const oneInstance = (handler: (m: Msg) => Promise<Output[]>, window = 8) =>
      new TestTarget<Msg, Output[]>({ instances: 1, window, key: () => "k", handler });
    const effects = async () =>
      (await b.range(out, { count: 1_000_000 })).map((e) => (defaultCodec.decode(e.fields!) as Msg).n);

    afterEach(async () => {
      for (const pump of pumps.splice(0)) await pump.stop();
      await h?.cleanup();
    });

    test("zero loss: random handler failures, crashes and poison; each effect once; nothing pending", async () => {
      await open();
      const N = suite.zeroLossEntries ?? 50_000;
      const random = prng(42);
      const poisoned = new Set<number>();
      const messages = Array.from({ length: N }, (_, n) => {
        const poison = n % 9973 === 17;
        if (poison) poisoned.add(n);
        return { n, poison };
      });
      await fill(messages);
      let sinceCrash = 0;
      const target: TestTarget<Msg, Output[]> = new TestTarget<Msg, Output[]>({
        instances: 4,
        window: 64,
        key: (m) => String(m.n % 97),
        handler: async (m, { instance, attempt }) => {
          await Promise.resolve();
          if (m.poison) throw new Error(`poison ${m.n}`);
          // Transient: fails a first attempt only, so the in-process retry always recovers it.
          if (attempt === 1 && random() < 0.02) throw new Error("flaky");
          // About every 2,000 messages an instance crashes, failing everything it had in flight.
          if (++sinceCrash >= 1_500 + Math.floor(random() * 1_000)) {
            sinceCrash = 0;
            queueMicrotask(() => target.crash(instance));
          }
          return effect(m);
        },
      });
      const pump = makePump(target, { maxDeliveries: 10 });
      let maxHeld = 0;
      pump.on("read", () => {
        maxHeld = Math.max(maxHeld, pump.stats.held);
      });
      await pump.start();
      await settled(pump, N);

      expect(pump.stats.released).toBeGreaterThan(0);
      expect(pump.stats.acked).toBe(N - poisoned.size);
      expect(pump.stats.deadLettered).toBe(poisoned.size);
      expect(maxHeld).toBeLessThanOrEqual(target.capacity);
      expect(await b.pending(s, "g", { count: 10 })).toEqual([]);
      const seen = await effects();
      expect(seen.length).toBe(N - poisoned.size);
      expect(new Set(seen).size).toBe(seen.length);
      const letters = (await pump.deadLetters.list({}, { count: 100 })).letters;
      expect(letters.map((l) => (defaultCodec.decode(l.fields!) as Msg).n).sort((x, y) => x - y)).toEqual([
        ...poisoned,
      ]);
      expect(new Set(letters.map((l) => l.reason))).toEqual(new Set(["handler-failed"]));
      // 50,000 entries through Redis take ~5 s on a quiet 2-core box: bun's default 5 s timed it out under
      // load, and a timeout makes bun kill every process the file spawned (its Redis server included).
    }, 60_000);

    test("a malformed entry is dead-lettered at once with its reason; the others are processed", async () => {
      await open();
      await fill([{ n: 1 }]);
      await b.append(s, { d: Buffer.from([0x92, 0x01]) });
      await b.append(s, { other: Buffer.from([0xff, 0xfe]) });
      await fill([{ n: 2 }]);
      const handled: number[] = [];
      const target = oneInstance(async (m) => {
        handled.push(m.n);
        return effect(m);
      });
      const pump = makePump(target);
      await pump.start();
      await settled(pump, 4);
      expect(handled).toEqual([1, 2]);
      const letters = (await pump.deadLetters.list()).letters;
      expect(letters.map((l) => [l.reason, l.deliveries, l.source, l.group])).toEqual([
        ["malformed", 1, s, "g"],
        ["malformed", 1, s, "g"],
      ]);
      expect(letters[0]!.error).toContain('field "d" is not msgpack');
      expect(letters[1]!.error).toContain("neither msgpack");
      expect([...letters[0]!.fields!.d!]).toEqual([0x92, 0x01]);
      expect(await b.pending(s, "g", { count: 10 })).toEqual([]);
    });

    test("an entry past maxDeliveries is dead-lettered without delivery; ERR_MAX_DELIVERIES after handling", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await fill([{ n: 1 }, { n: 2, poison: true }]);
      // A previous life of this consumer crashed on entry 1 again and again: its count is now 4.
      const [crashing] = await b.readNew(s, "g", "me", { count: 1 });
      for (let i = 0; i < 3; i++) await b.readPending(s, "g", "me", { count: 1 });
      const handled: number[] = [];
      const target = new TestTarget<Msg, Output[]>({
        instances: 1,
        window: 4,
        maxAttempts: 2,
        key: () => "k",
        handler: async (m) => {
          handled.push(m.n);
          if (m.poison) throw new Error("always fails");
          return effect(m);
        },
      });
      const pump = makePump(target, { maxDeliveries: 4 });
      await pump.start();
      await settled(pump, 2);
      expect(handled).toEqual([2, 2]);
      const letters = (await pump.deadLetters.list()).letters;
      expect(letters.map((l) => [l.entryId, l.reason, l.deliveries])).toEqual([
        [crashing!.id, "max-deliveries", 5],
        [expect.any(String), "handler-failed", 1],
      ]);
      expect(letters[1]!.error).toContain("always fails");
      expect(await b.pending(s, "g", { count: 10 })).toEqual([]);
    });

    test("bug A: a reclaimed entry goes through the handler before it is acked", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await fill([{ n: 7 }]);
      const [entry] = await b.readNew(s, "g", "dead-process", { count: 1 });
      await h.elapse(40);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered!: () => void;
      const inHandler = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const target = oneInstance(async (m) => {
        entered();
        await gate;
        return effect(m);
      }, 4);
      const pump = makePump(target, { claimIdleMs: 20 });
      await startReplayed(pump);
      await pump.sweep();
      await inHandler;
      expect(pump.stats.claimed).toBe(1);
      // Claimed and in the handler: still pending (now ours), not acked.
      expect((await b.pending(s, "g", { count: 10 })).map((p) => [p.id, p.consumer])).toEqual([
        [entry!.id, "me"],
      ]);
      expect(await b.length(out)).toBe(0);
      release();
      await settled(pump, 1);
      expect(await effects()).toEqual([7]);
      expect(await b.pending(s, "g", { count: 10 })).toEqual([]);
    });

    test.skipIf(!faulty)(
      "bug B: refused output writes keep the batch pending, are retried, then acked",
      async () => {
        await open(faulty);
        await fill([{ n: 1 }, { n: 2 }, { n: 3 }]);
        const target = oneInstance(async (m) => effect(m));
        const pump = makePump(target, { maxCommitAttempts: 1_000 });
        const failedTwice = until(
          (check) => pump.on("outputFailed", check),
          () => pump.stats.outputFailures >= 6,
        );
        await b.ensureGroup(s, "g");
        await h.breakWrites!();
        try {
          await pump.start();
          await failedTwice;
          expect(pump.stats.acked).toBe(0);
          expect(pump.stats.lastError?.code).toBe("ERR_OUTPUT_WRITE");
          expect((await b.pending(s, "g", { count: 10 })).length).toBe(3);
        } finally {
          await h.healWrites!();
        }
        await settled(pump, 3);
        expect((await effects()).sort()).toEqual([1, 2, 3]);
        expect(await b.pending(s, "g", { count: 10 })).toEqual([]);
      },
    );

    test.skipIf(!faulty)(
      "bug B: past maxCommitAttempts the entry is dead-lettered (after writes recover)",
      async () => {
        await open(faulty);
        await fill([{ n: 1 }]);
        const target = oneInstance(async (m) => effect(m));
        const pump = makePump(target, { maxCommitAttempts: 2 });
        const gaveUp = until(
          (check) => pump.on("outputFailed", check),
          () => pump.stats.outputFailures >= 3,
        );
        await b.ensureGroup(s, "g");
        await h.breakWrites!();
        try {
          await pump.start();
          await gaveUp;
          expect(pump.stats.acked + pump.stats.deadLettered).toBe(0);
        } finally {
          await h.healWrites!();
        }
        await settled(pump, 1);
        expect(pump.stats.acked).toBe(0);
        const [letter] = (await pump.deadLetters.list()).letters;
        expect(letter?.reason).toBe("output-failed");
        expect(letter?.error).toContain("OOM");
        expect(await b.pending(s, "g", { count: 10 })).toEqual([]);
      },
    );

    test.skipIf(!faulty)(
      '"source" outputs keep their order through a refused write: the entry behind waits for the retry',
      async () => {
        await open(faulty);
        await fill([{ n: 1 }]);
        const target = oneInstance(async (m) => [
          { stream: out, dedupId: "fwd", scope: "source", payload: m },
        ]);
        // A retry far enough off that the second entry is read and handled long before it is due.
        const pump = makePump(target, { retryMinMs: 1_000, retryMaxMs: 1_000, maxCommitAttempts: 3 });
        const refused = until(
          (check) => pump.on("outputFailed", check),
          () => pump.stats.outputFailures >= 1,
        );
        await b.ensureGroup(s, "g");
        await h.breakWrites!();
        try {
          await pump.start();
          await refused;
        } finally {
          await h.healWrites!();
        }
        await fill([{ n: 2 }]);
        await settled(pump, 2);
        // Written ahead of the first, the second entry's output would leave the first's id behind the
        // stream's last: refused as out of order at every retry, then dead-lettered.
        expect(pump.stats.deadLettered).toBe(0);
        const source = await b.range(s, { count: 10 });
        expect((await b.range(out, { count: 10 })).map((e) => e.id)).toEqual(source.map((e) => e.id));
      },
    );

    test.skipIf(!faulty)(
      '"source" outputs refused past maxCommitAttempts are not dead-lettered: retried until written, in order',
      async () => {
        await open(faulty);
        await fill([{ n: 1 }]);
        const target = oneInstance(async (m) => [
          { stream: out, dedupId: "fwd", scope: "source", payload: m },
        ]);
        const pump = makePump(target, { retryMinMs: 10, retryMaxMs: 20, maxCommitAttempts: 2 });
        const refusedLong = until(
          (check) => pump.on("outputFailed", check),
          () => pump.stats.outputFailures >= 5,
        );
        await b.ensureGroup(s, "g");
        await h.breakWrites!();
        try {
          await pump.start();
          await refusedLong;
        } finally {
          await h.healWrites!();
        }
        await fill([{ n: 2 }]);
        const source = await b.range(s, { count: 10 });
        await settled(pump, source.length);
        // A letter would leave a gap in the partition's order for good (its alerts then differ): an ordered
        // output waits, holding the ones behind it, for as long as Redis refuses it.
        expect(pump.stats.deadLettered).toBe(0);
        expect((await b.range(out, { count: 10 })).map((e) => e.id)).toEqual(source.map((e) => e.id));
      },
    );

    test("bounded: a slow target and 200,000 unread entries; the pump holds at most the credits", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await h.bulkFill(s, 200_000, defaultCodec.encode({ n: 0 }) as Record<string, Uint8Array>);
      const target = new TestTarget<Msg, Output[]>({
        instances: 2,
        window: 8,
        key: () => String(Math.random()),
        handler: () => new Promise((resolve) => setTimeout(() => resolve([]), 1)),
      });
      const pump = makePump(target);
      let maxHeld = 0;
      const track = () => {
        maxHeld = Math.max(maxHeld, pump.stats.held);
      };
      pump.on("read", track);
      pump.on("acked", track);
      await pump.start();
      await settled(pump, 200);
      await pump.pause();
      expect(maxHeld).toBeLessThanOrEqual(target.capacity);
      expect(target.maxInFlight).toBeLessThanOrEqual(target.capacity);
      const info = await pump.refresh();
      expect(info?.length).toBe(200_000);
      expect(info?.pending).toBeLessThanOrEqual(target.capacity);
      expect(info?.lag).toBe(200_000 - pump.stats.read);
      expect(pump.stats.lag).toBe(info!.lag);
      expect(pump.stats.held).toBeLessThanOrEqual(target.capacity);
    });

    test("pumps sharing a target listen for its credits only while they wait for them; each entry once", async () => {
      await open();
      const streams = [0, 1, 2, 3].map((i) => `${s}:${i}`);
      for (const [i, stream] of streams.entries())
        await b.appendBatch(
          stream,
          Array.from({ length: 100 }, (_, n) => defaultCodec.encode({ n: i * 100 + n })),
        );
      let listening = 0;
      // Two credits for four pumps: most entries are refused first and delivered on a credit.
      const target: TestTarget<Msg, Output[]> = new TestTarget<Msg, Output[]>({
        instances: 1,
        window: 2,
        key: () => "k",
        handler: async (m) => {
          listening = Math.max(listening, target.creditListeners);
          await Promise.resolve();
          return [{ stream: out, dedupId: "effect", payload: { n: m.n } }];
        },
      });
      const shared = streams.map((stream) => makePump(target, { stream }));
      await Promise.all(shared.map((pump) => pump.start()));
      await Promise.all(shared.map((pump) => settled(pump, 100)));
      expect((await effects()).sort((x, y) => x - y)).toEqual(Array.from({ length: 400 }, (_, n) => n));
      expect(listening).toBeGreaterThan(0);
      // Nothing left to deliver: nobody listens (every credit would call each pump that did).
      expect(target.creditListeners).toBe(0);
    });

    test("pause stops reading (lag grows), resume continues, stop waits for in-flight entries", async () => {
      await open();
      await fill([{ n: 1 }]);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const target = oneInstance(async (m) => {
        if (m.n === 3) await gate;
        return effect(m);
      });
      const pump = makePump(target);
      await pump.start();
      await settled(pump, 1);
      await pump.pause();
      expect(pump.paused).toBe(true);
      await fill([{ n: 2 }]);
      expect((await pump.refresh())?.lag).toBe(1);
      const resumed = new Promise((resolve) => pump.on("resumed", resolve));
      pump.resume();
      await resumed;
      await settled(pump, 2);
      await fill([{ n: 3 }]);
      await until(
        (check) => pump.on("read", check),
        () => pump.stats.read >= 3,
      );
      const stopped = pump.stop();
      release();
      await stopped;
      expect(pump.stats.acked).toBe(3);
      expect(await b.pending(s, "g", { count: 10 })).toEqual([]);
    });

    test("mayRead false: nothing is read, the history replay included; true again: reading goes on", async () => {
      await open();
      await fill([{ n: 1 }, { n: 2 }]);
      let allowed = false;
      let asked = 0;
      let onAsked = () => {};
      const target = oneInstance(async (m) => effect(m));
      const pump = makePump(target, {
        mayRead: () => {
          asked++;
          onAsked();
          return allowed;
        },
      });
      await pump.start();
      // Asked three times: at least two waits of blockMs in which it read nothing.
      await new Promise<void>((resolve) => {
        onAsked = () => asked >= 3 && resolve();
      });
      expect(pump.stats.read).toBe(0);
      expect((await pump.refresh())?.lag).toBe(2);
      allowed = true;
      await settled(pump, 2);
      expect(await effects()).toEqual([1, 2]);
    });

    test("readLease: new entries are read under the lease; once it moved on, a stale one reads nothing", async () => {
      await open();
      await fill([{ n: 1 }, { n: 2 }]);
      const leases = b.leases();
      const key = leaseKey(s, "g");
      const mine = await leases.acquire(key, "me", 60_000);
      let asked = 0;
      let onAsked = () => {};
      const target = oneInstance(async (m) => effect(m));
      // Always the lease it took first, as a process frozen past it would still think it holds.
      const pump = makePump(target, {
        readLease: () => {
          asked++;
          onAsked();
          return { key, holder: "me", generation: mine.generation };
        },
      });
      await pump.start();
      await settled(pump, 2);
      await leases.release(key, "me", mine.generation);
      await leases.acquire(key, "successor", 60_000);
      await fill([{ n: 3 }]);
      const before = asked;
      // Three more reads at least (each refused by the backend's check of the lease).
      await new Promise<void>((resolve) => {
        onAsked = () => asked >= before + 3 && resolve();
        onAsked();
      });
      expect(pump.stats.read).toBe(2);
      expect(await b.groupInfo(s, "g")).toMatchObject({ pending: 0, lag: 1 });
      expect(await effects()).toEqual([1, 2]);
    });

    test("a restarted consumer replays its own pending entries first; deleted ones are reported", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await fill([{ n: 1 }, { n: 2 }, { n: 3 }]);
      const [, gone] = await b.readNew(s, "g", "me", { count: 2 });
      await b.delete(s, [gone!.id]);
      const order: number[] = [];
      const target = oneInstance(async (m) => {
        order.push(m.n);
        return effect(m);
      }, 1);
      const pump = makePump(target);
      const replayed = new Promise<{ count: number }>((resolve) => pump.on("replayed", resolve));
      await pump.start();
      expect((await replayed).count).toBe(2);
      await settled(pump, 3);
      expect(order).toEqual([1, 3]);
      expect(pump.stats.deletedWhilePending).toBe(1);
      const [letter] = (await pump.deadLetters.list()).letters;
      expect([letter?.entryId, letter?.reason, letter?.fields]).toEqual([
        gone!.id,
        "deleted-while-pending",
        null,
      ]);
    });

    test("a claim never brings back an entry this pump held when it left, even one acked meanwhile", async () => {
      await open();
      await fill([{ n: 7 }]);
      let started!: () => void;
      const handling = new Promise<void>((resolve) => (started = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const target = oneInstance(async (m) => {
        started();
        await released;
        return effect(m);
      }, 4);
      // The real backend, with the claim's reply held back until the test lets it go: XAUTOCLAIM has
      // taken the pump's own entry (idle in its name) and the pump acks it before the reply arrives.
      let claimDone!: () => void;
      const claimTook = new Promise<void>((resolve) => (claimDone = resolve));
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      const slowClaims = new Proxy(b, {
        get(backend, property) {
          if (property === "claimIdle")
            return async (...args: Parameters<StreamBackend["claimIdle"]>) => {
              const result = await backend.claimIdle(...args);
              claimDone();
              await gate;
              return result;
            };
          const value = Reflect.get(backend, property, backend);
          return typeof value === "function" ? value.bind(backend) : value;
        },
      });
      const pump = new Pump<Msg, Output[]>(slowClaims, target, {
        stream: s,
        group: "g",
        consumer: "me",
        blockMs: 50,
        sweepIntervalMs: 0,
        claimIdleMs: 20,
      });
      pumps.push(pump);
      await startReplayed(pump);
      await handling;
      await h.elapse(60);
      const sweeping = pump.sweep();
      await claimTook;
      release();
      await settled(pump, 1);
      openGate();
      await sweeping;
      expect(pump.stats.read).toBe(1);
      expect(pump.stats.claimed).toBe(0);
      expect(pump.stats.held).toBe(0);
      expect(await effects()).toEqual([7]);
    });

    test("the sweep claims a dead consumer's entries, then removes it only once it owns nothing", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await fill([{ n: 1 }, { n: 2 }, { n: 0 }]);
      await b.readNew(s, "g", "dead-process", { count: 2 });
      const [done] = await b.readNew(s, "g", "empty-old", { count: 1 });
      await b.ack(s, "g", [done!.id]);
      await h.elapse(60);
      const target = oneInstance(async (m) => effect(m), 1);
      const pump = makePump(target, { claimIdleMs: 20, deadConsumerIdleMs: 50 });
      const removed: string[] = [];
      pump.on("consumerRemoved", (e) => removed.push(e.consumer));
      await startReplayed(pump);
      // One credit: the first sweep claims one of the two entries, so the dead consumer still owns one.
      await pump.sweep();
      expect(pump.stats.claimed).toBe(1);
      expect(removed).toEqual(["empty-old"]);
      await settled(pump, 1);
      await pump.sweep();
      await settled(pump, 2);
      expect(removed).toEqual(["empty-old", "dead-process"]);
      expect((await b.consumers(s, "g")).map((c) => c.name)).toEqual(["me"]);
      expect((await effects()).sort()).toEqual([1, 2]);
    });

    test("one sweep claims a dead consumer's whole backlog, a batch per turn of the read loop", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await fill(Array.from({ length: 300 }, (_, n) => ({ n })));
      await b.readNew(s, "g", "dead-process", { count: 300 });
      await h.elapse(60);
      const target = new TestTarget<Msg, Output[]>({
        instances: 2,
        window: 256,
        key: (m) => String(m.n % 7),
        handler: async (m) => effect(m),
      });
      const pump = makePump(target, { claimIdleMs: 20, maxBatch: 32 });
      await startReplayed(pump);
      await pump.sweep();
      // Ten batches of 32 in one sweep, where it used to take one batch per sweep interval.
      expect(pump.stats.claimed).toBe(300);
      await settled(pump, 300);
      expect((await effects()).sort((x, y) => x - y)).toEqual(Array.from({ length: 300 }, (_, n) => n));
    });

    test("invalid outputs are dead-lettered with the reason, never acked as if written", async () => {
      await open();
      await fill([{ n: 1 }]);
      const target = oneInstance(async () => [{ stream: "", dedupId: "x", payload: 1 }]);
      const pump = makePump(target);
      await pump.start();
      await settled(pump, 1);
      expect(pump.stats.acked).toBe(0);
      const [letter] = (await pump.deadLetters.list()).letters;
      expect([letter?.reason, letter?.error]).toEqual(["invalid-outputs", "output 0 has no stream"]);
    });

    test('sources whose names join alike ("a/b" + "c", "a" + "b/c") keep their outputs and letters apart', async () => {
      await open();
      // The same entry id in both: two streams written in one millisecond share their ids too.
      const [first, second] = [`${s}/eu`, s];
      await b.appendAt(first, "5-1", defaultCodec.encode({ n: 1 }));
      await b.appendAt(second, "5-1", defaultCodec.encode({ n: 2 }));
      const dlq = `${s}:letters`;
      const pumpOf = (stream: string, group: string) => {
        const target = oneInstance(async (m) => {
          if (m.n > 0) return effect(m);
          throw new Error("refused");
        });
        return makePump(target, { stream, group, deadLetterStream: dlq });
      };
      const both = [pumpOf(first, "billing"), pumpOf(second, "eu/billing")];
      for (const pump of both) await pump.start();
      for (const pump of both) await settled(pump, 1);
      expect((await effects()).sort()).toEqual([1, 2]);
      // And a letter each, for entries rejected under the same names.
      await b.appendAt(first, "6-1", defaultCodec.encode({ n: 0 }));
      await b.appendAt(second, "6-1", defaultCodec.encode({ n: 0 }));
      for (const pump of both) await settled(pump, 2);
      expect((await b.range(dlq, { count: 10 })).length).toBe(2);
    });

    test(`"source" outputs land under their entries' ids, in the source's order`, async () => {
      await open();
      await fill(Array.from({ length: 300 }, (_, n) => ({ n })));
      const target = oneInstance(
        async (m) => (m.n % 3 === 0 ? [] : [{ stream: out, dedupId: "fwd", scope: "source", payload: m }]),
        32,
      );
      const pump = makePump(target);
      await pump.start();
      await settled(pump, 300);
      const source = await b.range(s, { count: 1_000 });
      const forwarded = await b.range(out, { count: 1_000 });
      const expected = source
        .filter((e) => (defaultCodec.decode(e.fields!) as Msg).n % 3 !== 0)
        .map((e) => e.id);
      expect(forwarded.map((e) => e.id)).toEqual(expected);
    });

    test('a second "source" output to one stream is refused: written under the same id it would be lost', async () => {
      await open();
      await fill([{ n: 1 }]);
      const target = oneInstance(async (m) => [
        { stream: out, dedupId: "a", scope: "source", payload: m },
        { stream: out, dedupId: "b", scope: "source", payload: m },
      ]);
      const pump = makePump(target);
      await pump.start();
      await settled(pump, 1);
      expect(pump.stats.acked).toBe(0);
      expect(await b.length(out)).toBe(0);
      const [letter] = (await pump.deadLetters.list()).letters;
      expect([letter?.reason, letter?.error]).toEqual([
        "invalid-outputs",
        `output 1 is a second "source" output to ${out} (one per stream per entry)`,
      ]);
    });

    test("an entry given back is replayed before the ones read after it that waited for credit", async () => {
      await open();
      await fill([{ n: 1 }, { n: 2 }, { n: 3 }]);
      const handled: number[] = [];
      let holdFirst: (() => void) | null = null;
      const first = new Promise<void>((resolve) => {
        holdFirst = resolve;
      });
      // Two credits, one per instance, and one key: 1 in the target, 2 read and waiting for its instance's
      // credit when 1 is given back (the instance crashed).
      const target: TestTarget<Msg, Output[]> = new TestTarget<Msg, Output[]>({
        instances: 2,
        window: 1,
        key: () => "k",
        handler: async (m, { attempt }) => {
          if (m.n === 1 && attempt === 1) {
            holdFirst?.();
            await new Promise(() => {});
          }
          handled.push(m.n);
          return effect(m);
        },
      });
      const pump = makePump(target);
      await pump.start();
      await first;
      await until(
        (check) => pump.on("read", check),
        () => pump.stats.read >= 2,
      );
      target.crash(0);
      await settled(pump, 3);
      expect(handled).toEqual([1, 2, 3]);
      expect(await effects()).toEqual([1, 2, 3]);
    });

    test("ERR_ACTOR_FAILED leaves the entry pending and pauses; resume replays it first", async () => {
      await open();
      await fill([{ n: 1 }]);
      const seen: [number, number][] = [];
      let failing = true;
      const listeners = new Set<() => void>();
      // A target whose actor is marked failed on the first delivery, then restarted by an operator.
      const target: PumpTarget<Msg, Output[]> = {
        name: "failing",
        freeCredits: () => 4,
        onCredit: (listener) => {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        deliver: (m, done, deliveries = 0) => {
          seen.push([m.n, deliveries]);
          queueMicrotask(() =>
            failing
              ? done(new TroupeError("ERR_ACTOR_FAILED", "restart intensity exceeded"))
              : done(null, effect(m)),
          );
          return true;
        },
      };
      const pump = makePump(target);
      const paused = new Promise<{ reason: string }>((resolve) => pump.on("paused", resolve));
      await pump.start();
      expect((await paused).reason).toBe("target-failed");
      expect(pump.stats.released).toBe(1);
      expect((await b.pending(s, "g", { count: 10 })).map((p) => p.deliveries)).toEqual([1]);
      failing = false;
      pump.resume();
      await settled(pump, 1);
      expect(seen).toEqual([
        [1, 0],
        [1, 1],
      ]);
      expect(await effects()).toEqual([1]);
    });
  });
}

/**
 * Dead letters (list, replay, delete), retention (never trims what a group still needs) and the
 * producer's watermarks, run against every backend.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { DeadLetters } from "../../src/streams/dead-letters.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import type { Output } from "../../src/streams/outputs.ts";
import { type PressureLevel, Producer } from "../../src/streams/producer.ts";
import { Pump } from "../../src/streams/pump.ts";
import { Retention, retentionPoint, trimAcked } from "../../src/streams/retention.ts";
import type { ContractHarness } from "./contract.ts";
import { TestTarget, until } from "./test-target.ts";

interface Msg {
  n: number;
  poison?: boolean;
}

export function runOpsSuite(name: string, create: () => Promise<ContractHarness>): void {
  describe(`stream operations: ${name}`, () => {
    let h: ContractHarness;
    let b: StreamBackend;
    let s: string;
    const open = async () => {
      h = await create();
      b = h.backend;
      s = `${h.prefix}:tx`;
    };
    const ids = async (stream: string) => (await b.range(stream, { count: 1000 })).map((e) => e.id);
    /** One instance, one attempt per delivery (a throw fails the delivery at once), `handler` on each. */
    const oneTry = (handler: (m: Msg) => Promise<Output[]>) =>
      new TestTarget<Msg, Output[]>({ instances: 1, window: 8, maxAttempts: 1, key: () => "k", handler });
    /** Resolves once the pump acked or dead-lettered `n` entries in all. */
    const settled = (pump: Pump<Msg, Output[]>, n: number) =>
      until(
        (check) => {
          const offs = [pump.on("acked", check), pump.on("deadLettered", check)];
          return () => {
            for (const off of offs) off();
          };
        },
        () => pump.stats.acked + pump.stats.deadLettered >= n,
      );
    afterEach(async () => {
      await h?.cleanup();
    });

    test("dead letters: list with filters and pages, replay one and all, delete", async () => {
      await open();
      const healed = new Set<number>();
      const handled: number[] = [];
      const target = oneTry(async (m) => {
        if (m.poison && !healed.has(m.n)) throw new Error(`bad ${m.n}`);
        handled.push(m.n);
        return [];
      });
      const pump = new Pump<Msg, Output[]>(b, target, {
        stream: s,
        group: "g",
        blockMs: 50,
        sweepIntervalMs: 0,
      });
      const total = (n: number) => settled(pump, n);
      try {
        await pump.start();
        await b.appendBatch(s, [
          defaultCodec.encode({ n: 1, poison: true }),
          { d: Buffer.from([0xc1]) },
          defaultCodec.encode({ n: 2, poison: true }),
          defaultCodec.encode({ n: 3, poison: true }),
        ]);
        await total(4);
        const dlq = pump.deadLetters;
        expect(dlq.stream).toBe(`${s}:dlq`);
        const all = await dlq.list();
        expect(all.letters.map((l) => l.reason).sort()).toEqual([
          "handler-failed",
          "handler-failed",
          "handler-failed",
          "malformed",
        ]);
        expect(all.next).toBeNull();
        expect((await dlq.list({ reason: "malformed" })).letters.length).toBe(1);
        expect((await dlq.list({ stream: "elsewhere" })).letters).toEqual([]);
        expect((await dlq.list({ group: "g" })).letters.length).toBe(4);
        const firstPage = await dlq.list({}, { count: 2 });
        expect(firstPage.letters.length).toBe(2);
        const secondPage = await dlq.list({}, { after: firstPage.next!, count: 2 });
        expect(secondPage.letters.map((l) => l.id)).toEqual(all.letters.slice(2).map((l) => l.id));

        healed.add(1).add(2).add(3);
        const poisoned = all.letters.filter((l) => l.reason === "handler-failed");
        expect(await dlq.replay(poisoned[0]!.id)).toBe(true);
        await total(5);
        expect(handled).toEqual([(defaultCodec.decode(poisoned[0]!.fields!) as Msg).n]);
        expect(await dlq.replayAll({ reason: "handler-failed" }, { batchSize: 1 })).toBe(2);
        await total(7);
        expect(handled.sort()).toEqual([1, 2, 3]);
        const left = (await dlq.list()).letters;
        expect(left.map((l) => l.reason)).toEqual(["malformed"]);
        expect(await dlq.replay("1-1")).toBe(false);
        expect(await dlq.delete(left[0]!.id)).toBe(true);
        expect((await dlq.list()).letters).toEqual([]);
        expect(await b.pending(s, "g", { count: 10 })).toEqual([]);
      } finally {
        await pump.stop();
      }
    });

    test("a replay goes to its letter's group alone; a replay of all ends with the letters it found", async () => {
      await open();
      // Two groups of one stream, each failing the poison entry every time: each dead-letters it.
      const seen = new Map<string, number>();
      const pumps = ["g1", "g2"].map((group) => {
        const target = oneTry(async (m) => {
          seen.set(group, (seen.get(group) ?? 0) + 1);
          if (m.poison) throw new Error(`bad ${m.n}`);
          return [];
        });
        return new Pump<Msg, Output[]>(b, target, { stream: s, group, blockMs: 50, sweepIntervalMs: 0 });
      });
      const finished = (n: number) => Promise.all(pumps.map((pump) => settled(pump, n)));
      try {
        for (const pump of pumps) await pump.start();
        await b.append(s, defaultCodec.encode({ n: 1, poison: true }));
        await finished(1);
        const dlq = pumps[0]!.deadLetters;
        expect((await dlq.list()).letters.map((l) => l.group).sort()).toEqual(["g1", "g2"]);
        // Each copy is for one group: the other acks it unhandled.
        expect(await dlq.replayAll()).toBe(2);
        await finished(3);
        expect(Object.fromEntries(seen)).toEqual({ g1: 2, g2: 2 });
        const again = (await dlq.list()).letters;
        expect(again.map((l) => l.group).sort()).toEqual(["g1", "g2"]);
        // The letters keep the entry's own fields, not the replay's mark.
        for (const letter of again) expect(Object.keys(letter.fields ?? {})).toEqual(["d"]);
        for (const pump of pumps) expect(await b.pending(s, pump.options.group, { count: 10 })).toEqual([]);
      } finally {
        for (const pump of pumps) await pump.stop();
      }
    });

    test("DeadLetters refuses a bad option by name, on every backend alike", async () => {
      await open();
      const dlq = new DeadLetters(b, `${s}:dlq`);
      for (const batchSize of [0, -1, 1.5])
        await expect(dlq.replayAll({}, { batchSize })).rejects.toThrow(
          `batchSize: must be a positive integer, got ${batchSize}`,
        );
      await expect(dlq.list({}, { count: 0 })).rejects.toThrow("count: must be a positive integer, got 0");
      expect(() => new DeadLetters(b, `${s}:dlq`, { replayDedupTtl: 5 } as never)).toThrow(
        "replayDedupTtl: is not a DeadLetters option",
      );
      expect(() => new DeadLetters(b, `${s}:dlq`, { replayDedupTtlMs: -1 })).toThrow(
        "replayDedupTtlMs: must be a positive integer, got -1",
      );
    });

    test("retention keeps every entry a lagging group still needs and trims what all groups acked", async () => {
      await open();
      await b.ensureGroup(s, "fast");
      await b.ensureGroup(s, "slow");
      expect(await retentionPoint(b, s)).toBe("0-1");
      const written = (
        await b.appendBatch(
          s,
          Array.from({ length: 10 }, (_, n) => ({ n: String(n) })),
        )
      ).map((r) => (r.ok ? r.id : ""));
      const fast = await b.readNew(s, "fast", "c", { count: 10 });
      await b.ack(
        s,
        "fast",
        fast.map((e) => e.id),
      );
      // The slow group read 4 entries and acked 2: entries 3-4 are pending, 5-10 undelivered.
      const slow = await b.readNew(s, "slow", "c", { count: 4 });
      await b.ack(s, "slow", [slow[0]!.id, slow[1]!.id]);

      expect(await trimAcked(b, s)).toEqual({ stream: s, minId: written[2]!, removed: 2 });
      expect(await ids(s)).toEqual(written.slice(2));
      const again = await trimAcked(b, s);
      expect(again.removed).toBe(0);
      expect((await b.readPending(s, "slow", "c", { count: 10 })).map((e) => e.id)).toEqual(
        written.slice(2, 4),
      );
      expect((await b.groupInfo(s, "slow"))?.lag).toBe(6);

      const rest = await b.readNew(s, "slow", "c", { count: 10 });
      await b.ack(s, "slow", [...written.slice(2, 4), ...rest.map((e) => e.id)]);
      expect((await trimAcked(b, s, { keepLast: 3 })).removed).toBe(5);
      expect(await ids(s)).toEqual(written.slice(7));
      expect((await trimAcked(b, s, { keepForMs: 3_600_000, clock: h.clock })).removed).toBe(0);

      const retention = new Retention(b, [s, `${h.prefix}:no-groups`]);
      const trimmed: number[] = [];
      retention.on("trimmed", (r) => trimmed.push(r.removed));
      const results = await retention.runOnce();
      expect(results.map((r) => r.minId === null)).toEqual([false, true]);
      expect(trimmed).toEqual([3, 0]);
      expect(await b.length(s)).toBe(0);
    });

    test("retention's keepLast floor reads the newest entries once at a start, then goes by the groups' counters", async () => {
      await open();
      await b.ensureGroup(s, "g");
      let ranges = 0;
      const counted = new Proxy(b, {
        get(target, prop) {
          if (prop === "range") ranges++;
          const value = Reflect.get(target, prop);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const consume = async (count: number) => {
        await b.appendBatch(
          s,
          Array.from({ length: count }, (_, n) => ({ n: String(n) })),
        );
        const read = await b.readNew(s, "g", "c", { count });
        await b.ack(
          s,
          "g",
          read.map((e) => e.id),
        );
      };
      await consume(50);
      const retention = new Retention(counted, [s], { keepLast: 10 });
      expect((await retention.runOnce())[0]!.removed).toBe(40);
      expect(await b.length(s)).toBe(10);
      expect(ranges).toBe(1);
      for (let tick = 0; tick < 6; tick++) {
        await consume(7);
        const [result] = await retention.runOnce();
        expect(result!.minId).not.toBeNull();
        // At least the newest 10, and at most one tick's appends more.
        const length = await b.length(s);
        expect(length).toBeGreaterThanOrEqual(10);
        expect(length).toBeLessThanOrEqual(10 + 7 + 1);
      }
      expect(ranges).toBe(1);
    });

    test("the producer slows at the high watermark, pauses at the critical one, and resumes", async () => {
      await open();
      await b.ensureGroup(s, "g");
      const producer = new Producer<Msg>(b, {
        stream: s,
        groups: ["g"],
        lagCapacity: 100,
        checkIntervalMs: 0,
        slowDelayMs: 1,
        pauseCheckMs: 5,
      });
      const levels: PressureLevel[] = [];
      const events: string[] = [];
      producer.on("pressureChanged", (p) => levels.push(p.level));
      producer.on("paused", () => events.push("paused"));
      producer.on("resumed", () => events.push("resumed"));
      const batch = (from: number, count: number) =>
        Array.from({ length: count }, (_, i) => ({ n: from + i }));

      await producer.sendBatch(batch(0, 80));
      expect(producer.pressure.level).toBe("normal");
      await producer.sendBatch(batch(80, 14));
      expect(levels).toEqual(["high"]);
      expect(producer.pressure).toMatchObject({ level: "high", lag: 80, ratio: 0.8 });
      expect(await producer.send({ n: 94 })).toMatch(/^\d+-\d+$/);

      const paused = new Promise((resolve) => producer.on("paused", resolve));
      const blocked = producer.sendBatch(batch(95, 4));
      await paused;
      expect(levels).toEqual(["high", "critical"]);
      expect(await b.length(s)).toBe(95);
      const drained = await b.readNew(s, "g", "c", { count: 50 });
      await b.ack(
        s,
        "g",
        drained.map((e) => e.id),
      );
      const results = await blocked;
      expect(results.every((r) => r.ok)).toBe(true);
      expect(events).toEqual(["paused", "resumed"]);
      expect(levels).toEqual(["high", "critical", "normal"]);
      expect(await b.length(s)).toBe(99);
    });

    test("a downstream group's lag pauses the producer as its own groups' does, and its reading resumes it", async () => {
      await open();
      await b.ensureGroup(s, "g");
      // A stage fed by this stream's consumer (the keyed stream the wallet analyzer forwards to).
      const down = `${s}:down`;
      await b.ensureGroup(down, "d");
      await b.appendBatch(
        down,
        Array.from({ length: 96 }, (_, n) => defaultCodec.encode({ n })),
      );
      const producer = new Producer<Msg>(b, {
        stream: s,
        groups: ["g"],
        downstream: [{ stream: down, group: "d" }],
        lagCapacity: 100,
        checkIntervalMs: 0,
        pauseCheckMs: 5,
      });
      const paused = new Promise((resolve) => producer.on("paused", resolve));
      const blocked = producer.sendBatch([{ n: 0 }]);
      await paused;
      expect(producer.pressure).toMatchObject({ level: "critical", lag: 96 });
      expect(await b.length(s)).toBe(0);
      const read = await b.readNew(down, "d", "c", { count: 96 });
      await b.ack(
        down,
        "d",
        read.map((e) => e.id),
      );
      expect((await blocked).every((r) => r.ok)).toBe(true);
      expect(await b.length(s)).toBe(1);
    });
  });
}

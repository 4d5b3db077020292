/**
 * The stream backend contract, run against every backend (memory.test.ts, redis.test.ts): the same
 * consumer-group semantics, pending lists, claims, trims and "write then ack" on both.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { TroupeError } from "../../src/errors.ts";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { jsonCodec } from "../../src/streams/entry-codec.ts";
import { leaseKey } from "../../src/streams/leases.ts";
import { Producer } from "../../src/streams/producer.ts";
import { compareIdStrings } from "../../src/streams/stream-id.ts";
import { type Clock, systemClock } from "../../src/time/clock.ts";

export interface ContractHarness {
  backend: StreamBackend;
  /** Unique per test: every key the test touches starts with it. */
  prefix: string;
  /** The backend's time source (entry ids, idle times). */
  clock: Clock;
  /** Lets `ms` of idle time accrue (a fake clock advance in memory, real time on Redis). */
  elapse(ms: number): Promise<void>;
  /** Make writes fail like Redis out of memory (reads and acks keep working); present when safe. */
  breakWrites?(): Promise<void>;
  healWrites?(): Promise<void>;
  /** Appends `count` copies of `fields` fast (server-side on Redis), for large backlogs. */
  bulkFill(stream: string, count: number, fields: Record<string, string | Uint8Array>): Promise<void>;
  /** Deletes `keys` as a Redis restarted without persistence loses them; Redis only. */
  lose?(keys: string[]): Promise<void>;
  /** Another connection to the same store, as another process has (closed by its user); Redis only. */
  connect?(): StreamBackend;
  cleanup(): Promise<void>;
}

const text = (fields: Record<string, Buffer> | null) =>
  fields === null ? null : Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.toString()]));

/**
 * `faulty` makes harnesses whose `breakWrites` is safe to call (a private server on Redis); without
 * it the out-of-memory test is skipped.
 */
export function runStreamContract(
  name: string,
  create: () => Promise<ContractHarness>,
  faulty?: () => Promise<ContractHarness>,
): void {
  describe(`stream backend contract: ${name}`, () => {
    let h: ContractHarness;
    let s: string;
    let b: StreamBackend;
    const open = async (factory = create) => {
      h = await factory();
      b = h.backend;
      s = `${h.prefix}:s`;
    };
    afterEach(async () => {
      await h?.cleanup();
    });

    test("append, appendBatch and range keep order and bytes", async () => {
      await open();
      const a = await b.append(s, { d: Buffer.from([0, 255, 1]), k: "v" });
      const results = await b.appendBatch(s, [{ n: "1" }, { n: "2" }]);
      expect(results.map((r) => r.ok)).toEqual([true, true]);
      const all = await b.range(s, { count: 10 });
      expect(all.map((e) => e.id)).toEqual([a, ...results.map((r) => (r.ok ? r.id : ""))]);
      expect([...all[0]!.fields!.d!]).toEqual([0, 255, 1]);
      expect(text(all[1]!.fields)).toEqual({ n: "1" });
      expect(compareIdStrings(all[2]!.id, all[1]!.id)).toBeGreaterThan(0);
      expect(await b.length(s)).toBe(3);
      const newestFirst = await b.range(s, { count: 2, reverse: true });
      expect(newestFirst.map((e) => e.id)).toEqual([all[2]!.id, all[1]!.id]);
      expect((await b.range(s, { start: `(${a}`, count: 10 })).length).toBe(2);
      expect(await b.delete(s, [a])).toBe(1);
      expect(await b.length(s)).toBe(2);
    });

    test("appendBatch under given ids writes those above the last id and refuses the others; lastId counts deleted ones", async () => {
      await open();
      expect(await b.lastId(s)).toBe("0-0");
      const first = await b.appendBatch(s, [{ n: "1" }, { n: "2" }], ["5-0", "5-1"]);
      expect(first).toEqual([
        { ok: true, id: "5-0" },
        { ok: true, id: "5-1" },
      ]);
      const again = await b.appendBatch(s, [{ n: "2" }, { n: "3" }], ["5-1", "6-0"]);
      expect(again[0]!.ok).toBe(false);
      expect(again[1]).toEqual({ ok: true, id: "6-0" });
      expect((await b.range(s, { count: 10 })).map((e) => [e.id, text(e.fields)?.n])).toEqual([
        ["5-0", "1"],
        ["5-1", "2"],
        ["6-0", "3"],
      ]);
      expect(await b.lastId(s)).toBe("6-0");
      await b.delete(s, ["6-0"]);
      expect(await b.lastId(s)).toBe("6-0");
    });

    test("raiseLastId: an append under an id named before it is refused; below the top, or no stream, nothing changes", async () => {
      await open();
      await b.raiseLastId(s, 50);
      expect(await b.lastId(s)).toBe("0-0");
      await b.appendBatch(s, [{ n: "1" }], ["5-0"]);
      await b.raiseLastId(s, 100);
      expect(await b.lastId(s)).toBe("100-0");
      const late = await b.appendBatch(s, [{ n: "2" }, { n: "3" }], ["60-0", "101-0"]);
      expect(late[0]!.ok).toBe(false);
      expect(late[1]).toEqual({ ok: true, id: "101-0" });
      await b.raiseLastId(s, 70);
      expect(await b.lastId(s)).toBe("101-0");
      expect((await b.range(s, { count: 10 })).map((e) => e.id)).toEqual(["5-0", "101-0"]);
    });

    test("an idempotent producer names ids after the stream's last and writes each entry once", async () => {
      await open();
      await b.appendAt(s, "9999999999999-5", { n: "before" });
      const producer = new Producer<string>(b, { stream: s, idempotent: true, codec: jsonCodec });
      const [one, two] = await Promise.all([producer.sendBatch(["a", "b"]), producer.sendBatch(["c"])]);
      const ids = [...one!, ...two!].map((r) => (r.ok ? r.id : ""));
      expect(ids).toEqual(["9999999999999-6", "9999999999999-7", "9999999999999-8"]);
      expect((await b.range(s, { count: 10 })).map((e) => text(e.fields)?.json)).toEqual([
        undefined,
        '"a"',
        '"b"',
        '"c"',
      ]);
    });

    test("two idempotent producers on one stream lose nothing: an id the other took is never taken for a write", async () => {
      await open();
      // One millisecond for both: each names the ids the other just wrote.
      const stopped: Clock = { ...systemClock, now: () => 1_000 };
      const [p, q] = [1, 2].map(
        () => new Producer<string>(b, { stream: s, idempotent: true, codec: jsonCodec, clock: stopped }),
      ) as [Producer<string>, Producer<string>];
      await p.sendBatch(["p1", "p2"]);
      await q.sendBatch(["q1", "q2"]);
      await p.sendBatch(["p3"]);
      await q.sendBatch(["q3"]);
      expect((await b.range(s, { count: 10 })).map((e) => text(e.fields)?.json)).toEqual(
        ["p1", "p2", "q1", "q2", "p3", "q3"].map((v) => JSON.stringify(v)),
      );
    });

    test("appendUnique writes once per dedup id and returns the first id", async () => {
      await open();
      const first = await b.appendUnique(s, "e1:detector", { v: "1" }, 60_000);
      const again = await b.appendUnique(s, "e1:detector", { v: "other" }, 60_000);
      const other = await b.appendUnique(s, "e2:detector", { v: "2" }, 60_000);
      expect(first.duplicate).toBe(false);
      expect(again).toEqual({ id: first.id, duplicate: true });
      expect(other.duplicate).toBe(false);
      expect((await b.range(s, { count: 10 })).map((e) => text(e.fields))).toEqual([{ v: "1" }, { v: "2" }]);
    });

    test("appendAt writes under the given id in order; again, or below a trim, is a duplicate; inside but absent is refused", async () => {
      await open();
      for (const id of ["5-0", "7-1", "9-0"])
        expect(await b.appendAt(s, id, { id })).toEqual({ id, duplicate: false });
      // A redelivered entry's output: its id is there, nothing is written.
      expect(await b.appendAt(s, "7-1", { id: "again" })).toEqual({ id: "7-1", duplicate: true });
      // Written after a later one: refused, never slipped in out of order.
      const late = await b.appendAt(s, "8-0", { id: "8-0" }).catch((e) => e);
      expect(late).toBeInstanceOf(TroupeError);
      expect(late.code).toBe("ERR_OUTPUT_WRITE");
      expect(late.message).toContain("out of order");
      expect((await b.range(s, { count: 10 })).map((e) => [e.id, text(e.fields)?.id])).toEqual([
        ["5-0", "5-0"],
        ["7-1", "7-1"],
        ["9-0", "9-0"],
      ]);
      // Trimmed since it was written (retention): a late redelivery of it is a duplicate too.
      await b.trim(s, "7-1");
      expect(await b.appendAt(s, "5-0", { id: "again" })).toEqual({ id: "5-0", duplicate: true });
      expect(await b.appendAt(s, "10-0", { id: "10-0" })).toEqual({ id: "10-0", duplicate: false });
      expect(await b.length(s)).toBe(3);
    });

    test("in one commit, a write under its entry's id after one to the same stream that did not land is not written", async () => {
      await open();
      const out = `${h.prefix}:ordered`;
      await b.ensureGroup(s, "g");
      await b.appendBatch(s, [{ n: "1" }, { n: "2" }, { n: "3" }]);
      const entries = await b.readNew(s, "g", "c", { count: 3 });
      // Two incarnations of one actor: the first one's epoch is no longer live.
      const store = b.stateStore({ anchor: s });
      const old = await store.restore({ actor: "a", instance: 0 });
      const live = await store.restore({ actor: "a", instance: 0 });
      const item = (i: number, epoch: number) => ({
        id: entries[i]!.id,
        outputs: [
          {
            stream: out,
            dedupId: "fwd",
            fields: { n: String(i) },
            ttlMs: 60_000,
            at: entries[i]!.id,
            fence: store.outputFence("a", epoch),
          },
        ],
        ack: false,
      });
      const outcomes = await b.commit(s, "g", [item(0, old.epoch), item(1, live.epoch), item(2, live.epoch)]);
      expect(outcomes.map((o) => o.error?.code)).toEqual([
        "ERR_FENCED",
        "ERR_OUTPUT_WRITE",
        "ERR_OUTPUT_WRITE",
      ]);
      expect(outcomes[1]!.error?.message).toContain(`(${entries[0]!.id}) did not land`);
      expect(await b.length(out)).toBe(0);
      // Written again under the live epoch, first: all three, in order.
      const again = await b.commit(
        s,
        "g",
        [0, 1, 2].map((i) => item(i, live.epoch)),
      );
      expect(again.map((o) => [o.acked, o.written])).toEqual([
        [true, 1],
        [true, 1],
        [true, 1],
      ]);
      expect((await b.range(out, { count: 10 })).map((e) => e.id)).toEqual(entries.map((e) => e.id));
    });

    test("ensureGroup creates stream and group once; reads on a missing group fail with ERR_NOGROUP", async () => {
      await open();
      expect(await b.ensureGroup(s, "g")).toBe(true);
      expect(await b.ensureGroup(s, "g")).toBe(false);
      expect(await b.length(s)).toBe(0);
      const error = await b.readNew(s, "missing", "c", { count: 1 }).catch((e) => e);
      expect(error).toBeInstanceOf(TroupeError);
      expect(error.code).toBe("ERR_NOGROUP");
      expect(await b.groupInfo(s, "missing")).toBeNull();
      expect(await b.groups(`${h.prefix}:none`)).toEqual([]);
    });

    test("readNew delivers each entry once per group, in order, COUNT at a time", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await b.appendBatch(s, [{ n: "1" }, { n: "2" }, { n: "3" }]);
      const first = await b.readNew(s, "g", "c1", { count: 2 });
      const second = await b.readNew(s, "g", "c2", { count: 2 });
      expect(first.map((e) => text(e.fields)?.n)).toEqual(["1", "2"]);
      expect(second.map((e) => text(e.fields)?.n)).toEqual(["3"]);
      expect(await b.readNew(s, "g", "c1", { count: 2 })).toEqual([]);
      await b.ensureGroup(s, "other");
      expect((await b.readNew(s, "other", "c1", { count: 10 })).length).toBe(3);
    });

    test("a read whose mayRead says no when it goes out takes nothing", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await b.appendBatch(s, [{ n: "1" }, { n: "2" }]);
      // Blocking (its own connection, first come up) and not: neither delivers to the consumer.
      expect(await b.readNew(s, "g", "c", { count: 10, blockMs: 200, mayRead: () => false })).toEqual([]);
      expect(await b.readNew(s, "g", "c", { count: 10, mayRead: () => false })).toEqual([]);
      expect(await b.groupInfo(s, "g")).toMatchObject({ pending: 0 });
      const read = await b.readNew(s, "g", "c", { count: 10, blockMs: 200, mayRead: () => true });
      expect(read.map((e) => text(e.fields)?.n)).toEqual(["1", "2"]);
    });

    test("a read under a lease that moved on takes nothing, parked or not; the new holder's read does", async () => {
      await open();
      await b.ensureGroup(s, "g");
      const leases = b.leases();
      const key = leaseKey(s, "g");
      const first = await leases.acquire(key, "a", 60_000);
      const underA = { key, holder: "a", generation: first.generation };
      await b.append(s, { n: "1" });
      expect(
        (await b.readNew(s, "g", "a", { count: 10, lease: underA })).map((e) => text(e.fields)?.n),
      ).toEqual(["1"]);
      // Parked until an entry comes (the move below most often finds it waiting; either way it takes nothing).
      const parked = b.readNew(s, "g", "a", { count: 10, blockMs: 1_000, lease: underA });
      await h.elapse(100);
      await leases.release(key, "a", first.generation);
      const second = await leases.acquire(key, "b", 60_000);
      await b.append(s, { n: "2" });
      expect(await parked).toEqual([]);
      expect(await b.readNew(s, "g", "a", { count: 10, lease: underA })).toEqual([]);
      expect(await b.groupInfo(s, "g")).toMatchObject({ pending: 1 });
      const underB = { key, holder: "b", generation: second.generation };
      const read = await b.readNew(s, "g", "b", { count: 10, blockMs: 200, lease: underB });
      expect(read.map((e) => text(e.fields)?.n)).toEqual(["2"]);
    });

    test("a blocking read is woken by an append and times out empty", async () => {
      await open();
      await b.ensureGroup(s, "g");
      const started = Date.now();
      const read = b.readNew(s, "g", "c", { count: 10, blockMs: 5_000 });
      await b.append(s, { n: "1" });
      expect((await read).map((e) => text(e.fields)?.n)).toEqual(["1"]);
      expect(Date.now() - started).toBeLessThan(2_000);
      const empty = await b.readNew(s, "g", "c", { count: 10, blockMs: 50 });
      expect(empty).toEqual([]);
    });

    test("pending lists owner, idle and delivery count; own history re-delivers and counts", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await b.appendBatch(s, [{ n: "1" }, { n: "2" }, { n: "3" }]);
      const [e1, e2] = await b.readNew(s, "g", "c1", { count: 2 });
      await b.readNew(s, "g", "c2", { count: 1 });
      await h.elapse(30);
      const all = await b.pending(s, "g", { count: 10 });
      expect(all.map((p) => [p.consumer, p.deliveries])).toEqual([
        ["c1", 1],
        ["c1", 1],
        ["c2", 1],
      ]);
      expect(all[0]!.idleMs).toBeGreaterThanOrEqual(30);
      expect((await b.pending(s, "g", { count: 1, after: e1!.id })).map((p) => p.id)).toEqual([e2!.id]);
      expect((await b.pending(s, "g", { count: 10, consumer: "c2" })).length).toBe(1);
      expect((await b.pending(s, "g", { count: 10, minIdleMs: 60_000 })).length).toBe(0);

      const history = await b.readPending(s, "g", "c1", { count: 10 });
      expect(history.map((e) => [e.id, e.deliveries])).toEqual([
        [e1!.id, 2],
        [e2!.id, 2],
      ]);
      expect((await b.readPending(s, "g", "c1", { count: 10, after: e1!.id })).map((e) => e.id)).toEqual([
        e2!.id,
      ]);
      expect(await b.ack(s, "g", [e1!.id, e2!.id])).toBe(2);
      expect(await b.ack(s, "g", [e1!.id])).toBe(0);
      expect(await b.readPending(s, "g", "c1", { count: 10 })).toEqual([]);
      expect(await b.ack(s, "no-group", [e1!.id])).toBe(0);
    });

    test("an entry deleted while pending comes back with null fields and is reported by a claim", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await b.appendBatch(s, [{ n: "1" }, { n: "2" }]);
      const [gone, kept] = await b.readNew(s, "g", "c1", { count: 2 });
      await b.delete(s, [gone!.id]);
      const history = await b.readPending(s, "g", "c1", { count: 10 });
      expect(history.map((e) => [e.id, text(e.fields)])).toEqual([
        [gone!.id, null],
        [kept!.id, { n: "2" }],
      ]);
      const claim = await b.claimIdle(s, "g", "c2", { minIdleMs: 0, count: 10 });
      expect(claim.deletedIds).toEqual([gone!.id]);
      expect(claim.entries.map((e) => e.id)).toEqual([kept!.id]);
      expect((await b.pending(s, "g", { count: 10 })).map((p) => p.id)).toEqual([kept!.id]);
    });

    test("claimIdle takes only idle entries, counts the delivery, and continues from its cursor", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await b.appendBatch(s, [{ n: "1" }, { n: "2" }, { n: "3" }, { n: "4" }, { n: "5" }]);
      const read = await b.readNew(s, "g", "dead", { count: 5 });
      expect((await b.claimIdle(s, "g", "alive", { minIdleMs: 60_000, count: 10 })).entries).toEqual([]);
      await h.elapse(40);
      const first = await b.claimIdle(s, "g", "alive", { minIdleMs: 20, count: 3 });
      expect(first.entries.map((e) => [e.id, e.deliveries])).toEqual(read.slice(0, 3).map((e) => [e.id, 2]));
      expect(text(first.entries[0]!.fields)).toEqual({ n: "1" });
      const rest = await b.claimIdle(s, "g", "alive", { minIdleMs: 20, count: 10, cursor: first.cursor });
      expect(rest.entries.map((e) => e.id)).toEqual(read.slice(3).map((e) => e.id));
      expect(rest.cursor).toBe("0-0");
      const owners = await b.pending(s, "g", { count: 10 });
      expect(new Set(owners.map((p) => p.consumer))).toEqual(new Set(["alive"]));
    });

    test("adoptPending takes every other consumer's entries at once, idle or not, without a delivery", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await b.appendBatch(s, [{ n: "1" }, { n: "2" }, { n: "3" }, { n: "4" }, { n: "5" }]);
      const old = await b.readNew(s, "g", "old", { count: 2 });
      const other = await b.readNew(s, "g", "other", { count: 2 });
      await b.delete(s, [other[1]!.id]);
      const result = await b.adoptPending(s, "g", "heir");
      expect(result).toEqual({ pending: 3, deletedIds: [other[1]!.id] });
      const owners = await b.pending(s, "g", { count: 10 });
      expect(owners.map((p) => [p.id, p.consumer, p.deliveries])).toEqual(
        [...old, other[0]!].map((e) => [e.id, "heir", 1]),
      );
      // The heir's own-history replay delivers them in id order, before the unread entry.
      const replay = await b.readPending(s, "g", "heir", { count: 10 });
      expect(replay.map((e) => [e.id, e.deliveries])).toEqual([...old, other[0]!].map((e) => [e.id, 2]));
      expect((await b.readNew(s, "g", "heir", { count: 10 })).map((e) => text(e.fields))).toEqual([
        { n: "5" },
      ]);
    });

    test("group info reports length, pending, lag, entries read, last-delivered and consumers", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await b.appendBatch(s, [{ n: "1" }, { n: "2" }, { n: "3" }, { n: "4" }]);
      const read = await b.readNew(s, "g", "c1", { count: 3 });
      await b.ack(s, "g", [read[0]!.id]);
      const info = await b.groupInfo(s, "g");
      expect(info).toEqual({
        name: "g",
        consumers: 1,
        pending: 2,
        lastDeliveredId: read[2]!.id,
        lag: 1,
        entriesRead: 3,
        firstPendingId: read[1]!.id,
        length: 4,
      });
      const consumers = await b.consumers(s, "g");
      expect(consumers.map((c) => [c.name, c.pending])).toEqual([["c1", 2]]);
      expect(consumers[0]!.idleMs).toBeGreaterThanOrEqual(0);
    });

    test("lag after a delete in the unread range is exact or null (unknown), never a wrong number", async () => {
      await open();
      await b.ensureGroup(s, "g");
      const ids = (await b.appendBatch(s, [{ n: "1" }, { n: "2" }, { n: "3" }])).map((r) =>
        r.ok ? r.id : "",
      );
      await b.readNew(s, "g", "c", { count: 1 });
      await b.delete(s, [ids[2]!]);
      const lag = (await b.groupInfo(s, "g"))?.lag;
      expect(lag === null || lag === 1).toBe(true);
    });

    test("a consumer exists once a read delivered to it or it read its history; an empty claim creates none", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await b.readNew(s, "g", "empty-reader", { count: 1 });
      await b.claimIdle(s, "g", "empty-claimer", { minIdleMs: 0, count: 10 });
      await b.readPending(s, "g", "history-reader", { count: 10 });
      await b.append(s, { n: "1" });
      await b.readNew(s, "g", "served", { count: 1 });
      expect((await b.consumers(s, "g")).map((c) => c.name).sort()).toEqual(["history-reader", "served"]);
      expect((await b.claimIdle(s, "g", "x", { minIdleMs: 0, count: 0 })).entries).toEqual([]);
    });

    test("deleteConsumer refuses a consumer that still owns pending entries", async () => {
      await open();
      await b.ensureGroup(s, "g");
      await b.append(s, { n: "1" });
      const [entry] = await b.readNew(s, "g", "c1", { count: 1 });
      await b.readNew(s, "g", "idle", { count: 1 });
      expect(await b.deleteConsumer(s, "g", "c1")).toBe("has-pending");
      expect((await b.pending(s, "g", { count: 10 })).length).toBe(1);
      expect(await b.deleteConsumer(s, "g", "idle")).toBe("deleted");
      await b.ack(s, "g", [entry!.id]);
      expect(await b.deleteConsumer(s, "g", "c1")).toBe("deleted");
      expect(await b.consumers(s, "g")).toEqual([]);
    });

    test("a stream's marks: absent until written, then the last value, per stream and name; a trim keeps them", async () => {
      await open();
      expect(await b.readMark(s, "replay:a")).toBeNull();
      await b.writeMark(s, "replay:a", "1");
      await b.writeMark(s, "replay:a", '{"line":2}');
      await b.writeMark(s, "replay:b", "x");
      await b.append(s, { n: "1" });
      await b.trim(s, "99999999999999-0");
      expect(await b.readMark(s, "replay:a")).toBe('{"line":2}');
      expect(await b.readMark(s, "replay:b")).toBe("x");
      expect(await b.readMark(`${s}:other`, "replay:a")).toBeNull();
    });

    test("trim removes entries below MINID only", async () => {
      await open();
      const ids = (await b.appendBatch(s, [{ n: "1" }, { n: "2" }, { n: "3" }])).map((r) =>
        r.ok ? r.id : "",
      );
      expect(await b.trim(s, ids[1]!)).toBe(1);
      expect((await b.range(s, { count: 10 })).map((e) => e.id)).toEqual(ids.slice(1));
      expect(await b.trim(s, ids[1]!)).toBe(0);
    });

    test("commit writes outputs once, then acks; a retried commit writes nothing twice", async () => {
      await open();
      const out = `${h.prefix}:out`;
      await b.ensureGroup(s, "g");
      await b.appendBatch(s, [{ n: "1" }, { n: "2" }]);
      const [e1, e2] = await b.readNew(s, "g", "c", { count: 2 });
      const items = [
        { id: e1!.id, outputs: [{ stream: out, dedupId: `${e1!.id}:a`, fields: { a: "1" }, ttlMs: 60_000 }] },
        { id: e2!.id, outputs: [] },
      ];
      const outcomes = await b.commit(s, "g", items);
      expect(outcomes.map((o) => [o.id, o.acked, o.written])).toEqual([
        [e1!.id, true, 1],
        [e2!.id, true, 0],
      ]);
      expect((await b.commit(s, "g", items)).map((o) => [o.acked, o.written])).toEqual([
        [true, 0],
        [true, 0],
      ]);
      expect(await b.length(out)).toBe(1);
      expect(await b.pending(s, "g", { count: 10 })).toEqual([]);
    });

    test.skipIf(!faulty)(
      "an idempotent producer resends refused entries (out of memory) until written, each once, in order",
      async () => {
        await open(faulty);
        const producer = new Producer<string>(b, {
          stream: s,
          idempotent: true,
          codec: jsonCodec,
          retry: { minMs: 10, maxMs: 20 },
        });
        await producer.sendBatch(["a"]);
        const retried = new Promise<void>((resolve) => producer.on("retrying", () => resolve()));
        await h.breakWrites!();
        let sending: Promise<unknown>;
        try {
          sending = producer.sendBatch(["b", "c"]);
          await retried;
        } finally {
          await h.healWrites!();
        }
        await sending;
        await producer.sendBatch(["d"]);
        expect((await b.range(s, { count: 10 })).map((e) => text(e.fields)?.json)).toEqual([
          '"a"',
          '"b"',
          '"c"',
          '"d"',
        ]);
      },
    );

    test.skipIf(!faulty)("a refused output write (out of memory) leaves only its entry pending", async () => {
      await open(faulty);
      const out = `${h.prefix}:out`;
      await b.ensureGroup(s, "g");
      await b.appendBatch(s, [{ n: "1" }, { n: "2" }]);
      const [e1, e2] = await b.readNew(s, "g", "c", { count: 2 });
      const items = [
        { id: e1!.id, outputs: [{ stream: out, dedupId: `${e1!.id}:a`, fields: { a: "1" }, ttlMs: 60_000 }] },
        { id: e2!.id, outputs: [] },
      ];
      await h.breakWrites!();
      try {
        const outcomes = await b.commit(s, "g", items);
        expect(outcomes.map((o) => [o.acked, o.error?.code])).toEqual([
          [false, "ERR_OUTPUT_WRITE"],
          [true, undefined],
        ]);
        const refused = await b.appendBatch(s, [{ n: "3" }]);
        expect(refused[0]!.ok).toBe(false);
        expect((await b.pending(s, "g", { count: 10 })).map((p) => p.id)).toEqual([e1!.id]);
      } finally {
        await h.healWrites!();
      }
      const retried = await b.commit(s, "g", [items[0]!]);
      expect(retried.map((o) => [o.acked, o.written])).toEqual([[true, 1]]);
      expect(await b.length(out)).toBe(1);
    });
  });
}

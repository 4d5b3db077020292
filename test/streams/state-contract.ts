/**
 * The stream state store contract, run against every backend (memory.test.ts, redis.test.ts): epochs and
 * fencing, changes applied and restored as exactly the live keys, the covered entries acked in the same
 * write (and only when it succeeds, and only once their outputs are durable), fenced output writes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { TroupeError } from "../../src/errors.ts";
import type { StateScope } from "../../src/runtime/state-store.ts";
import type { StreamBackend } from "../../src/streams/backend.ts";
import type { CoveredEntry } from "../../src/streams/state-cover.ts";
import { stateBase } from "../../src/streams/state-keys.ts";
import type { StreamStateStore } from "../../src/streams/stream-state-store.ts";
import { replayed, seg } from "../support/state.ts";
import type { ContractHarness } from "./contract.ts";

/** A stream entry as a checkpoint covers it, whose outputs are written when the test says so. */
export class Entry implements CoveredEntry {
  readonly stream: string;
  readonly group: string;
  readonly id: string;
  readonly inStream: boolean;
  ackedCount = 0;
  epochsAsked: number[] = [];
  #written: Promise<void> | null;
  #write: (error?: TroupeError) => void = () => {};

  constructor(
    stream: string,
    group: string,
    id: string,
    options: { written?: boolean; inStream?: boolean } = {},
  ) {
    this.stream = stream;
    this.group = group;
    this.id = id;
    this.inStream = options.inStream ?? true;
    this.#written =
      options.written === false
        ? new Promise((resolve, reject) => {
            this.#write = (error) => (error ? reject(error) : resolve());
          })
        : null;
  }

  /** The outputs are written now (or refused with `error`). */
  write(error?: TroupeError): void {
    this.#write(error);
  }

  untilWritten(epoch: number): Promise<void> | null {
    this.epochsAsked.push(epoch);
    return this.#written;
  }

  acked(): void {
    this.ackedCount++;
  }

  released(): void {}
}

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: unknown) => new TextDecoder().decode(value as Uint8Array);

/** A restore's chunks replayed, as `table/key -> value text` in each table's order. */
async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  for (const [table, values] of (await replayed(chunks)).tables)
    for (const [key, value] of values) state.set(`${table}/${key}`, text(value));
  return state;
}

async function restored(store: StreamStateStore, scope: StateScope) {
  const { epoch, chunks } = await store.restore(scope);
  return { epoch, state: await readAll(chunks) };
}

async function rejection(promise: Promise<unknown>): Promise<TroupeError> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: TroupeError) => error,
  );
}

export function runStateStoreContract(
  name: string,
  create: () => Promise<ContractHarness>,
  faulty?: () => Promise<ContractHarness>,
): void {
  describe(`stream state store contract: ${name}`, () => {
    let h: ContractHarness;
    let b: StreamBackend;
    let s: string;
    let store: StreamStateStore;
    const scope = { actor: "counter", instance: 0 };
    const open = async (factory = create) => {
      h = await factory();
      b = h.backend;
      s = `${h.prefix}:tx`;
      store = b.stateStore({ anchor: s });
    };
    /** `count` entries read into group `g` (pending), as covers. */
    const pendingEntries = async (count: number, stream = s, group = "g") => {
      await b.ensureGroup(stream, group);
      for (let i = 0; i < count; i += 1000) {
        const batch = Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({ n: String(i + j) }));
        await b.appendBatch(stream, batch);
      }
      const read = await b.readNew(stream, group, "c", { count });
      return read.map((e) => new Entry(stream, group, e.id));
    };
    const pendingIds = async (stream = s, group = "g") =>
      (await b.pending(stream, group, { count: 100_000 })).map((p) => p.id);
    afterEach(async () => {
      await h?.cleanup();
    });

    test("restore takes over the scope: a higher epoch each time, nothing for a new scope", async () => {
      await open();
      const first = await restored(store, scope);
      const second = await restored(store, scope);
      expect(first.state.size).toBe(0);
      expect(second.epoch).toBeGreaterThan(first.epoch);
      // Epochs are unique per actor, so an output can be fenced by (actor, epoch) alone.
      const other = await restored(store, { actor: "counter", instance: 1 });
      expect(other.epoch).not.toBe(second.epoch);
    });

    test("a restart's restore continues its epoch, and is refused once another incarnation took over", async () => {
      await open();
      const first = await store.restore(scope);
      const again = await store.restore(scope, first.epoch);
      expect(again.epoch).toBeGreaterThan(first.epoch);
      const takeover = await store.restore(scope);
      const refused = await store.restore(scope, again.epoch).then(
        () => null,
        (error: TroupeError) => error.code,
      );
      expect(refused).toBe("ERR_FENCED");
      // Refused whole: the owner's epoch still holds, and the next takeover comes right after it.
      const next = await store.restore(scope, takeover.epoch);
      expect(next.epoch).toBe(takeover.epoch + 1);
    });

    test("a commit applies sets and deletes; a restore returns exactly the live keys", async () => {
      await open();
      const { epoch } = await store.restore(scope);
      await store.commit({
        scope,
        epoch,
        segments: seg([
          "a",
          "k1",
          bytes("1"),
          "a",
          "k2",
          bytes("2"),
          "b",
          "k1",
          bytes("x"),
          "a",
          "k3",
          bytes(""),
        ]),
        covers: [],
      });
      await store.commit({
        scope,
        epoch,
        segments: seg(["a", "k2", null, "a", "k1", bytes("11"), "b", "gone", null]),
        covers: [],
      });
      const again = await restored(store, scope);
      expect(Object.fromEntries(again.state)).toEqual({ "a/k1": "11", "a/k3": "", "b/k1": "x" });
    });

    test("changes keep their order: a key set after its delete in one checkpoint stays", async () => {
      await open();
      const { epoch } = await store.restore(scope);
      await store.commit({
        scope,
        epoch,
        segments: seg([
          "a",
          "k",
          bytes("1"),
          "a",
          "k",
          null,
          "a",
          "k",
          bytes("2"),
          "a",
          "j",
          bytes("3"),
          "a",
          "j",
          null,
        ]),
        covers: [],
      });
      expect(Object.fromEntries((await restored(store, scope)).state)).toEqual({ "a/k": "2" });
    });

    test("binary values round-trip byte for byte", async () => {
      await open();
      const { epoch } = await store.restore(scope);
      const value = Uint8Array.from({ length: 256 }, (_, i) => i);
      const view = new Uint8Array(new ArrayBuffer(300), 10, 256);
      view.set(value);
      await store.commit({
        scope,
        epoch,
        segments: seg(["t", "bin", view, "t", "ünï", bytes("✓")]),
        covers: [],
      });
      const { chunks } = await store.restore(scope);
      const values = (await replayed(chunks)).tables.get("t") ?? new Map<string, Uint8Array>();
      expect([...values.get("bin")!]).toEqual([...value]);
      expect(text(values.get("ünï"))).toBe("✓");
    });

    test("a commit acks the entries it covers, on every stream and group, and tells each entry", async () => {
      await open();
      const tx = await pendingEntries(3);
      // In the anchor's slot, as a Redis Cluster needs: one script acks them all.
      const other = `${stateBase(s)}:alerts`;
      const alerts = await pendingEntries(2, other, "sybil");
      const { epoch } = await store.restore(scope);
      await store.commit({
        scope,
        epoch,
        segments: seg(["t", "k", bytes("v")]),
        covers: [tx[0], undefined, ...alerts],
      });
      expect(await pendingIds()).toEqual([tx[1]!.id, tx[2]!.id]);
      expect(await pendingIds(other, "sybil")).toEqual([]);
      expect([tx[0]!, ...alerts].map((e) => e.ackedCount)).toEqual([1, 1, 1]);
      expect(tx[1]!.ackedCount).toBe(0);
    });

    test("an entry handed over in process is covered and told, its outputs waited for, and nothing acked for it", async () => {
      await open();
      const tx = await pendingEntries(1);
      // Its id is no stream id: sent to XACK, it would fail the whole commit on Redis.
      const handedOver = new Entry(s, "g", "handed-over:1", { inStream: false, written: false });
      const { epoch } = await store.restore(scope);
      const commit = store.commit({
        scope,
        epoch,
        segments: seg(["t", "k", bytes("v")]),
        covers: [handedOver, tx[0]],
      });
      handedOver.write();
      await commit;
      expect(handedOver.ackedCount).toBe(1);
      expect(handedOver.epochsAsked).toEqual([epoch]);
      expect(await pendingIds()).toEqual([]);
      expect((await restored(store, scope)).state).toEqual(new Map([["t/k", "v"]]));
    });

    test("a commit with an older epoch is refused with ERR_FENCED: nothing written, nothing acked", async () => {
      await open();
      const entries = await pendingEntries(2);
      const zombie = await store.restore(scope);
      await store.commit({ scope, epoch: zombie.epoch, segments: seg(["t", "k", bytes("old")]), covers: [] });
      const current = await store.restore(scope);
      const error = await rejection(
        store.commit({
          scope,
          epoch: zombie.epoch,
          segments: seg(["t", "k", bytes("late")]),
          covers: entries,
        }),
      );
      expect(error).toBeInstanceOf(TroupeError);
      expect(error.code).toBe("ERR_FENCED");
      expect(error.actor).toBe("counter");
      expect(await pendingIds()).toEqual(entries.map((e) => e.id));
      expect(entries.map((e) => e.ackedCount)).toEqual([0, 0]);
      await store.commit({
        scope,
        epoch: current.epoch,
        segments: seg(["t", "j", bytes("new")]),
        covers: entries,
      });
      expect(Object.fromEntries((await restored(store, scope)).state)).toEqual({
        "t/k": "old",
        "t/j": "new",
      });
      expect(await pendingIds()).toEqual([]);
    });

    test("a commit without a restore is refused as lost: the store holds no record of its scope", async () => {
      await open();
      const error = await rejection(store.commit({ scope, epoch: 1, segments: seg([]), covers: [] }));
      expect(error.code).toBe("ERR_STATE_LOST");
    });

    test("a restart's restore of a scope the store has no record of goes through, lost; the next is fenced", async () => {
      await open();
      const other = await store.restore({ actor: "counter", instance: 1 });
      const found = await store.restore(scope, other.epoch + 7);
      expect(found.lost).toBe(true);
      expect(found.epoch).toBeGreaterThan(other.epoch);
      await expect(store.restore(scope, other.epoch + 7)).rejects.toMatchObject({ code: "ERR_FENCED" });
      const again = await store.restore(scope, found.epoch);
      expect(again.lost).toBe(false);
    });

    test("scopes are separate: per actor and instance", async () => {
      await open();
      const other = { actor: "counter", instance: 1 };
      const third = { actor: "tally", instance: 0 };
      const epochs = [await store.restore(scope), await store.restore(other), await store.restore(third)];
      await store.commit({
        scope,
        epoch: epochs[0]!.epoch,
        segments: seg(["t", "k", bytes("0")]),
        covers: [],
      });
      await store.commit({
        scope: other,
        epoch: epochs[1]!.epoch,
        segments: seg(["t", "k", bytes("1")]),
        covers: [],
      });
      await store.commit({
        scope: third,
        epoch: epochs[2]!.epoch,
        segments: seg(["t", "k", bytes("2")]),
        covers: [],
      });
      expect([...(await restored(store, other)).state.values()]).toEqual(["1"]);
      expect([...(await restored(store, third)).state.values()]).toEqual(["2"]);
      // Two stores on one anchor are one place.
      const twin = b.stateStore({ anchor: s });
      expect([...(await restored(twin, scope)).state.values()]).toEqual(["0"]);
      // Another anchor is another place.
      const elsewhere = b.stateStore({ anchor: `${h.prefix}:other` });
      expect((await restored(elsewhere, scope)).state.size).toBe(0);
    });

    test("a commit waits for its entries' outputs, and is refused when they were fenced", async () => {
      await open();
      const [slow, fast] = (await pendingEntries(2)).map(
        (e) => new Entry(e.stream, e.group, e.id, { written: false }),
      );
      const { epoch } = await store.restore(scope);
      let done = false;
      const commit = store
        .commit({ scope, epoch, segments: seg(["t", "k", bytes("v")]), covers: [slow!] })
        .then(() => (done = true));
      await h.elapse(20);
      expect(done).toBe(false);
      expect(await pendingIds()).toHaveLength(2);
      slow!.write();
      await commit;
      expect(slow!.epochsAsked).toEqual([epoch]);
      expect(await pendingIds()).toEqual([fast!.id]);

      const refused = store.commit({ scope, epoch, segments: seg(["t", "k", bytes("w")]), covers: [fast!] });
      fast!.write(new TroupeError("ERR_FENCED", "the outputs were fenced"));
      expect((await rejection(refused)).code).toBe("ERR_FENCED");
      expect(await pendingIds()).toEqual([fast!.id]);
      expect(Object.fromEntries((await restored(store, scope)).state)).toEqual({ "t/k": "v" });
    });

    test("a large checkpoint commits whole; a restore reads the log in pages", async () => {
      await open();
      const entries = await pendingEntries(9_000);
      const paged = b.stateStore({ anchor: s, restorePageSize: 2 });
      const { epoch } = await paged.restore(scope);
      const changes: (string | Uint8Array | null)[] = [];
      for (let i = 0; i < 15_000; i++) changes.push("big", `k${i}`, bytes(`v${i}`));
      for (let i = 0; i < 7_000; i++) changes.push("big", `k${i}`, null);
      await paged.commit({ scope, epoch, segments: seg(changes), covers: entries });
      expect(await pendingIds()).toEqual([]);
      for (let i = 0; i < 5; i++)
        await paged.commit({ scope, epoch, segments: seg(["big", `k${i}`, bytes("again")]), covers: [] });
      const { chunks } = await paged.restore(scope);
      let read = 0;
      const replay = await replayed(
        (async function* () {
          for await (const chunk of chunks) {
            read++;
            yield chunk;
          }
        })(),
      );
      const big = replay.tables.get("big")!;
      expect(big.size).toBe(8_005);
      expect(text(big.get("k7000"))).toBe("v7000");
      expect(text(big.get("k3"))).toBe("again");
      expect(big.has("k6999")).toBe(false);
      expect(read).toBe(6);
    });

    test("compaction folds the log into a base: the same state, in order, from fewer segments", async () => {
      await open();
      const compacting = b.stateStore({ anchor: s, compactMinBytes: 2_000, compactRatio: 0.5 });
      const { epoch } = await compacting.restore(scope);
      const expected = new Map<string, string>();
      for (let round = 0; round < 60; round++) {
        const changes: (string | Uint8Array | null)[] = [];
        for (let i = 0; i < 20; i++) {
          const key = `k${(round * 7 + i * 13) % 150}`;
          if ((round + i) % 5 === 0) {
            changes.push("t", key, null);
            expected.delete(`t/${key}`);
          } else {
            changes.push("t", key, bytes(`${round}.${i}`));
            expected.delete(`t/${key}`);
            expected.set(`t/${key}`, `${round}.${i}`);
          }
        }
        await compacting.commit({ scope, epoch, segments: seg(changes), covers: [] });
      }
      await compacting.idle();
      const { chunks } = await compacting.restore(scope);
      const all: Uint8Array[] = [];
      for await (const chunk of chunks) all.push(chunk);
      const segments = all.length;
      const state = await readAll(
        (async function* () {
          yield* all;
        })(),
      );
      expect(segments).toBeLessThan(30);
      expect([...state]).toEqual([...expected]);
    });

    test("a fenced output is written while its epoch is live and refused once it was taken over", async () => {
      await open();
      const out = `${h.prefix}:alerts`;
      const { epoch } = await store.restore(scope);
      const fence = store.outputFence(scope.actor, epoch);
      const written = await b.appendUnique(out, "a1", { v: "1" }, 60_000, fence);
      expect(written.duplicate).toBe(false);
      await store.restore(scope);
      const error = await rejection(b.appendUnique(out, "a2", { v: "2" }, 60_000, fence));
      expect(error.code).toBe("ERR_FENCED");
      expect(await b.length(out)).toBe(1);

      // Through a commit: the fenced item fails with ERR_FENCED and stays pending; `ack: false` writes only.
      const [e1, e2] = await pendingEntries(2);
      const live = store.outputFence(scope.actor, (await store.restore(scope)).epoch);
      const outcomes = await b.commit(s, "g", [
        { id: e1!.id, outputs: [{ stream: out, dedupId: "x", fields: { v: "x" }, ttlMs: 60_000, fence }] },
        {
          id: e2!.id,
          ack: false,
          outputs: [{ stream: out, dedupId: "y", fields: { v: "y" }, ttlMs: 60_000, fence: live }],
        },
      ]);
      expect(outcomes.map((o) => [o.acked, o.written, o.error?.code])).toEqual([
        [false, 0, "ERR_FENCED"],
        [true, 1, undefined],
      ]);
      expect(await pendingIds()).toEqual([e1!.id, e2!.id]);
      expect(await b.length(out)).toBe(2);
    });

    test.skipIf(!faulty)("a refused write (out of memory) writes nothing and acks nothing", async () => {
      await open(faulty);
      const entries = await pendingEntries(3);
      const { epoch } = await store.restore(scope);
      await store.commit({ scope, epoch, segments: seg(["t", "k", bytes("before")]), covers: [] });
      const checkpoint = {
        scope,
        epoch,
        segments: seg(["t", "k", bytes("after"), "t", "n", bytes("1")]),
        covers: entries,
      };
      await h.breakWrites!();
      try {
        const error = await rejection(store.commit(checkpoint));
        expect(error.code).not.toBe("ERR_FENCED");
        expect(await pendingIds()).toEqual(entries.map((e) => e.id));
        expect(entries.map((e) => e.ackedCount)).toEqual([0, 0, 0]);
      } finally {
        await h.healWrites!();
      }
      await store.commit(checkpoint);
      expect(await pendingIds()).toEqual([]);
      expect(entries.map((e) => e.ackedCount)).toEqual([1, 1, 1]);
      expect(Object.fromEntries((await restored(store, scope)).state)).toEqual({
        "t/k": "after",
        "t/n": "1",
      });
    });
  });
}

import { describe, expect, test } from "bun:test";
import { CheckpointTaker } from "../../src/runtime/checkpoint-taker.ts";
import { type DurableTable, DurableTables, memoryTables } from "../../src/runtime/durable-table.ts";
import { SegmentCompaction } from "../../src/runtime/state-compaction.ts";
import { SegmentReplay } from "../../src/runtime/state-replay.ts";
import {
  RecordKind,
  readSegment,
  SegmentWriter,
  segmentOf,
  segmentRecords,
} from "../../src/runtime/state-segment.ts";
import { valueCodec } from "../../src/runtime/value-codec.ts";
import { random as seeded } from "../fixtures/scenarios/kit.ts";

function segmentFrom(tables: DurableTables): Uint8Array | null {
  const writer = new SegmentWriter();
  tables.collect(writer);
  return writer.finish();
}

function collected(tables: DurableTables) {
  const segment = segmentFrom(tables);
  const out: [string, string, unknown][] = [];
  if (segment)
    readSegment(segment, (table, _kind, key, value) => {
      out.push([table, key, value === null ? null : valueCodec.decode(value)]);
    });
  return out;
}

/**
 * Checkpoints `from` into a changelog and restores a copy from it: from every segment, or (`compact`) from
 * the log folded into a base first, as a store's compaction does.
 */
function checkpointAndRestore(from: DurableTables, log: Uint8Array[], compact: boolean) {
  const segment = segmentFrom(from);
  if (segment) log.push(segment);
  if (compact) {
    const compaction = new SegmentCompaction();
    for (const s of log) compaction.feed(s);
    log.splice(0, log.length, ...compaction.chunks(64));
  }
  const restored = new DurableTables(true);
  for (const s of log) restored.restore(s);
  return restored;
}

describe("durable tables", () => {
  test("a checkpoint carries exactly the keys touched since the last one, with their current values", () => {
    const tables = new DurableTables(true);
    const counts = tables.table<number>("counts");
    const books = tables.table<{ seen: Set<string>; by: Map<string, number[]> }>("books");
    tables.sealed();
    counts.set("a", 1).set("b", 2).set("a", 3);
    books.set("x", { seen: new Set(["p"]), by: new Map([["q", [1, 2]]]) });
    expect(collected(tables)).toEqual([
      ["counts", "a", 3],
      ["counts", "b", 2],
      ["books", "x", { seen: new Set(["p"]), by: new Map([["q", [1, 2]]]) }],
    ]);
    expect(collected(tables)).toEqual([]);
    (books.get("x") as { seen: Set<string> }).seen.add("r");
    books.touch("x");
    counts.delete("b");
    counts.delete("never");
    expect(collected(tables)).toEqual([
      ["counts", "b", null],
      ["books", "x", { seen: new Set(["p", "r"]), by: new Map([["q", [1, 2]]]) }],
    ]);
    counts.clear();
    expect(collected(tables)).toEqual([["counts", "a", null]]);
    // Added and gone between two checkpoints, a key is in neither: nothing to write. Present at the last
    // one, it is written gone, however often it came back in between.
    counts.set("brief", 1);
    counts.set("brief", 2);
    counts.delete("brief");
    counts.set("kept", 1);
    expect(collected(tables)).toEqual([["counts", "kept", 1]]);
    counts.delete("kept");
    counts.set("kept", 2);
    counts.delete("kept");
    counts.set("brief", 3);
    counts.delete("brief");
    expect(collected(tables)).toEqual([["counts", "kept", null]]);
  });

  for (const compact of [false, true])
    test(`a restore gives back each table's order, from the log${compact ? " compacted" : ""}`, () => {
      const live = new DurableTables(true);
      const t = live.table<number>("t");
      live.sealed();
      const store: Uint8Array[] = [];
      t.set("a", 1).set("b", 2).set("c", 3);
      checkpointAndRestore(live, store, compact);
      // Deleted and added again: it moves to the end, as in a Map; an update keeps its place.
      t.delete("a");
      t.set("a", 4).set("b", 5).set("d", 6);
      t.set("e", 7);
      t.delete("e");
      const restored = checkpointAndRestore(live, store, compact);
      const copy = restored.table<number>("t");
      expect([...copy]).toEqual([...t]);
      expect([...copy.keys()]).toEqual(["b", "c", "a", "d"]);
      // A key added to the copy goes last after its next restore.
      restored.sealed();
      copy.set("z", 0);
      copy.delete("c");
      const again = checkpointAndRestore(restored, store, compact).table<number>("t");
      expect([...again.keys()]).toEqual(["b", "a", "d", "z"]);
    });

  // With 3,000 keys and up to 200 changes between slices, what is touched during a round outgrows the last
  // slice's share: checkpoints go through rounds (up to the most there may be).
  for (const [compact, keys, burst] of [
    [false, 300, 20],
    [true, 300, 20],
    [false, 3000, 200],
    [true, 3000, 200],
  ] as const)
    test(`a checkpoint written in slices while the tables change restores to their state at its last slice${compact ? ", compacted" : ""}${keys > 300 ? ", in rounds" : ""}`, () => {
      // Seeded, so a failure replays: sets, in-place touches, deletes, re-inserts and clears interleaved
      // with slices of 32 records.
      let seed = 7;
      const random = (n: number) => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return Math.floor((seed / 2 ** 31) * n);
      };
      const live = new DurableTables(true);
      const names = ["t", "u"];
      const tables = names.map((name) => live.table<{ n: number }>(name));
      live.sealed();
      const store: Uint8Array[] = [];
      // A budget far below a record's encoding time: a look at the clock (every 32 records) ends each slice.
      const taker = new CheckpointTaker(live, new SegmentWriter(), { sliceMs: 1e-9, deferMs: 0 });
      const change = () => {
        const table = tables[random(2)] as DurableTable<{ n: number }>;
        const key = `k${random(keys)}`;
        // A clear one change in 100, or in 10,000 with the larger bursts (else it wipes most rounds' keys).
        const op = random(keys > 300 ? 10_000 : 100);
        const value = table.get(key);
        if (op === 0) table.clear();
        else if (op % 100 < 45) table.set(key, { n: random(1000) });
        else if (op % 100 < 70 && value) {
          value.n++;
          table.touch(key);
        } else table.delete(key);
      };
      let totalSlices = 0;
      let rounds = 0;
      for (let checkpoint = 0; checkpoint < 40; checkpoint++) {
        for (let i = random(keys + 100); i > 0; i--) change();
        taker.begin();
        let taken = taker.step();
        while (!taken) {
          totalSlices++;
          for (let i = random(burst); i > 0; i--) change();
          taken = taker.step();
        }
        rounds = Math.max(rounds, taken.rounds);
        if (taken.segment) store.push(taken.segment);
        const log = [...store];
        if (compact) {
          const compaction = new SegmentCompaction();
          for (const s of log) compaction.feed(s);
          log.splice(0, log.length, ...compaction.chunks(256));
        }
        const restored = new DurableTables(true);
        for (const s of log) restored.restore(s);
        for (const [i, name] of names.entries())
          expect([...restored.table<{ n: number }>(name)]).toEqual([
            ...(tables[i] as DurableTable<{ n: number }>),
          ]);
      }
      // Most checkpoints were written in several slices, with changes between them.
      expect(totalSlices).toBeGreaterThan(40);
      if (keys > 300) expect(rounds).toBeGreaterThan(1);
      else expect(rounds).toBe(1);
    });

  test("a key changed again right after a checkpoint began, as the last key changed before it, is in that checkpoint", () => {
    const live = new DurableTables(true);
    const t = live.table<{ n: number }>("t");
    live.sealed();
    for (let i = 0; i < 100; i++) t.set(`k${i}`, { n: 0 });
    const taker = new CheckpointTaker(live, new SegmentWriter(), { sliceMs: 1e-9, deferMs: 0 });
    const take = () => {
      taker.begin();
      let taken = taker.step();
      while (!taken) taken = taker.step();
      return taken.segment as Uint8Array;
    };
    const log = [take()];
    // Updated in place, k0 first and last: the next checkpoint writes it first.
    for (let i = 0; i < 100; i++) t.touch(`k${i}`);
    (t.get("k0") as { n: number }).n = 1;
    t.touch("k0");
    taker.begin();
    // The first slice writes k0 as it is now (n: 1) and stops at the clock's first look, 32 records in.
    expect(taker.step()).toBeNull();
    (t.get("k0") as { n: number }).n = 2;
    t.touch("k0");
    let taken = taker.step();
    while (!taken) taken = taker.step();
    log.push(taken.segment as Uint8Array);
    const restored = new DurableTables(true);
    for (const segment of log) restored.restore(segment);
    expect(restored.table<{ n: number }>("t").get("k0")).toEqual({ n: 2 });
  });

  test("restored values are decoded when their table is declared in initialState; same name, same table", () => {
    const tables = new DurableTables(true);
    // A copy: the codec's bytes are a view on the encoder's reused buffer.
    const encode = (value: unknown) => new Uint8Array(valueCodec.encode(value));
    tables.restore(segmentOf(["t", "k1", encode({ n: 1 }), "t", "k2", encode([2])]) as Uint8Array);
    tables.restore(segmentOf(["u", "k", encode(new Set([3]))]) as Uint8Array);
    expect(tables.restoredKeys).toBe(3);
    const t = tables.table<unknown>("t");
    expect([...t]).toEqual([
      ["k1", { n: 1 }],
      ["k2", [2]],
    ]);
    expect(tables.table("t")).toBe(t);
    expect(tables.table<Set<number>>("u").get("k")).toEqual(new Set([3]));
    tables.sealed();
    // Loading is not a change.
    expect(collected(tables)).toEqual([]);
    expect(() => tables.restore(segmentOf(["t", "k", encode(1)]) as Uint8Array)).toThrow();
    // After initialState a new durable table could not have been restored: refused, not silently empty.
    expect(() => tables.table("late")).toThrow(expect.objectContaining({ code: "ERR_INVALID_OPTION" }));
    expect(tables.table("t")).toBe(t);
  });

  test("a table with a codec of its own restores from the bytes with that codec", () => {
    const json = {
      encode: (value: unknown) => new TextEncoder().encode(JSON.stringify(value)),
      decode: (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)),
    };
    const tables = new DurableTables(true);
    tables.restore(segmentOf(["j", "a", json.encode({ n: 1 }), "j", "b", json.encode([1, 2])]) as Uint8Array);
    const table = tables.table("j", json);
    expect([...table]).toEqual([
      ["a", { n: 1 }],
      ["b", [1, 2]],
    ]);
    table.set("c", "x");
    tables.sealed();
    const seen: unknown[] = [];
    readSegment(segmentFrom(tables) as Uint8Array, (...record) => seen.push(record));
    expect(seen).toEqual([["j", RecordKind.insert, "c", json.encode("x")]]);
  });

  test("tables outside the runtime work as maps and record nothing", () => {
    const tables = memoryTables() as DurableTables;
    const t = tables.table<number>("t");
    t.set("a", 1);
    const seen: [string, number][] = [];
    t.forEach((value, key) => {
      seen.push([key, value]);
    });
    expect(seen).toEqual([["a", 1]]);
    expect([...t.keys()]).toEqual(["a"]);
    expect([...t.values()]).toEqual([1]);
    expect(t.size).toBe(1);
    expect(collected(tables)).toEqual([]);
  });

  test("beforeCheckpoint: what it writes, even after a sliced checkpoint began, is in that checkpoint", () => {
    const tables = new DurableTables(true);
    const table = tables.table<number>("buffered");
    const buffer: number[] = [];
    tables.beforeCheckpoint(() => {
      for (const n of buffer.splice(0)) table.set(String(n), n);
    });
    buffer.push(1, 2);
    const taker = new CheckpointTaker(tables, new SegmentWriter(), { sliceMs: 1e-9, deferMs: 0 });
    taker.begin();
    // Handled while the checkpoint is written in slices: the checkpoint covers it too.
    buffer.push(3);
    let taken = taker.step();
    while (taken === null) taken = taker.step();
    const records: [string, unknown][] = [];
    readSegment(taken.segment as Uint8Array, (_table, _kind, key, value) => {
      records.push([key, value === null ? null : valueCodec.decode(value)]);
    });
    expect(records).toEqual([
      ["1", 1],
      ["2", 2],
      ["3", 3],
    ]);
    expect(buffer).toEqual([]);
  });

  test("a value the codec cannot encode fails the checkpoint with ERR_ENCODE, naming table and key", () => {
    const tables = new DurableTables(true);
    tables.table<unknown>("t").set("bad", { kind: Symbol("not encodable") });
    expect(() => collected(tables)).toThrow(expect.objectContaining({ code: "ERR_ENCODE" }));
  });
  for (const compact of [false, true])
    test(`a string holding a lone surrogate comes back unchanged, as a key and as a value${compact ? ", compacted" : ""}`, () => {
      // UTF-8 cannot hold a lone surrogate: written as U+FFFD, "k\uDC00" came back as another key.
      const odd = [
        "k\uDC00",
        "\uD800",
        "a\uD800b",
        "\uDBFF\uDFFF",
        "x\uDC00\uD800y",
        "\uFFFD",
        "é\uD800",
        "plain",
      ];
      const tables = new DurableTables(true);
      const strings = tables.table<string>("strings");
      const nested = tables.table<{ s: string[] }>("nested");
      tables.sealed();
      for (const text of odd) {
        strings.set(text, text);
        nested.set(text.repeat(50), { s: [text, text.repeat(50)] });
      }
      const restored = checkpointAndRestore(tables, [], compact);
      expect([...restored.table<string>("strings")]).toEqual(odd.map((text) => [text, text]));
      expect([...restored.table<{ s: string[] }>("nested")]).toEqual([...nested]);
      for (const text of odd) expect(valueCodec.decode(valueCodec.encode(text))).toBe(text);
    });
});

describe("segments", () => {
  test("round-trip records in order: kinds, empty and non-ASCII keys and values, values as views", () => {
    const writer = new SegmentWriter();
    writer.section("a");
    writer.add(RecordKind.insert, "k1", new Uint8Array([1, 2]));
    writer.add(RecordKind.delete, "k2");
    writer.section("empty");
    writer.section("b");
    writer.add(RecordKind.update, "ünï✓", new Uint8Array([3]));
    writer.section("a");
    writer.add(RecordKind.insert, "", new Uint8Array([]));
    const segment = writer.finish() as Uint8Array;
    expect(segmentRecords(segment)).toBe(4);
    const back: unknown[] = [];
    readSegment(segment, (table, kind, key, value) => {
      back.push([table, kind, key, value && [...value]]);
      if (value) expect(value.buffer).toBe(segment.buffer);
    });
    expect(back).toEqual([
      ["a", RecordKind.insert, "k1", [1, 2]],
      ["a", RecordKind.delete, "k2", null],
      ["b", RecordKind.update, "ünï✓", [3]],
      ["a", RecordKind.insert, "", []],
    ]);
    // The writer is reused: nothing written gives no segment.
    writer.section("x");
    expect(writer.finish()).toBeNull();
  });

  test("grow past the initial buffer; a long key; a truncated segment is refused with ERR_DECODE", () => {
    const writer = new SegmentWriter();
    const big = new Uint8Array(100_000).fill(7);
    const longKey = "k".repeat(70_000);
    writer.section("t");
    writer.add(RecordKind.insert, "a", big);
    writer.add(RecordKind.insert, longKey, big);
    const segment = writer.finish() as Uint8Array;
    const keys: string[] = [];
    readSegment(segment, (_t, _k, key, value) => {
      keys.push(key);
      expect(value).toEqual(big);
    });
    expect(keys).toEqual(["a", longKey]);
    expect(() => readSegment(segment.subarray(0, segment.byteLength - 1), () => {})).toThrow(
      expect.objectContaining({ code: "ERR_DECODE" }),
    );
  });

  test("a replay folds segments into the live keys in Map order; a compaction's chunks replay to the same", () => {
    const v = (n: number) => new Uint8Array([n]);
    const w = new SegmentWriter();
    w.section("t");
    w.add(RecordKind.update, "b", v(5));
    w.section("ü");
    w.add(RecordKind.insert, "ключ", v(7));
    const fed = [
      segmentOf(["t", "a", v(1), "t", "b", v(2), "t", "c", v(3), "u", "x", v(9)]) as Uint8Array,
      segmentOf(["t", "a", null, "t", "a", v(4), "u", "x", null]) as Uint8Array,
      w.finish() as Uint8Array,
    ];
    const replay = new SegmentReplay();
    for (const segment of fed) replay.feed(segment);
    const order = (r: SegmentReplay) => [...(r.tables.get("t") ?? [])].map(([k, value]) => [k, value[0]]);
    expect(order(replay)).toEqual([
      ["b", 5],
      ["c", 3],
      ["a", 4],
    ]);
    expect(replay.keys).toBe(4);
    expect([...(replay.tables.get("ü") ?? [])]).toEqual([["ключ", v(7)]]);
    const compaction = new SegmentCompaction();
    for (const segment of fed) compaction.feed(segment);
    expect(compaction.keys).toBe(4);
    const chunks = [...compaction.chunks(8)];
    expect(chunks.length).toBeGreaterThan(1);
    const again = new SegmentReplay();
    for (const chunk of chunks) again.feed(chunk);
    expect(order(again)).toEqual(order(replay));
    expect([...(again.tables.get("ü") ?? [])]).toEqual([["ключ", v(7)]]);
    expect(again.tables.get("u")?.size ?? 0).toBe(0);
  });

  test("compactions of a long random changelog, each on the last one's base, replay to a Map's keys, values and order", () => {
    // Enough keys to grow the index many times, and deletions among them (the index moves records up).
    const random = seeded(7);
    const { update, insert, delete: del } = RecordKind;
    const tables = ["t", "u", "wallets"];
    let base: Uint8Array[] = [];
    const reference = new SegmentReplay();
    const live = new Set<string>();
    for (let round = 0; round < 6; round++) {
      const log: Uint8Array[] = [];
      for (let s = 0; s < 5; s++) {
        const w = new SegmentWriter();
        for (const table of tables) {
          w.section(table);
          for (let i = 0; i < 400; i++) {
            const key = `${table}-${Math.floor(random() * 3000)}`;
            // What tables write: an update of a live key only; an insert of a new key, or of one deleted
            // and set again since the last checkpoint (to the end); a delete, also of a key set and deleted.
            const roll = random();
            const kind = live.has(key)
              ? roll < 0.5
                ? update
                : roll < 0.75
                  ? del
                  : insert
              : roll < 0.7
                ? insert
                : del;
            if (kind === del) live.delete(key);
            else live.add(key);
            w.add(kind, key, kind === del ? undefined : new Uint8Array([round, s, i & 0xff]));
          }
        }
        log.push(w.finish() as Uint8Array);
      }
      for (const segment of log) reference.feed(segment);
      const compaction = new SegmentCompaction();
      for (const segment of [...base, ...log]) compaction.feed(segment);
      base = [...compaction.chunks(4096)];
      expect(compaction.keys).toBe(reference.keys);
      const replayed = new SegmentReplay();
      for (const chunk of base) replayed.feed(chunk);
      for (const table of tables)
        expect([...(replayed.tables.get(table) ?? [])]).toEqual([...(reference.tables.get(table) ?? [])]);
    }
    expect(reference.keys).toBeGreaterThan(3000);
  });

  test("changes after a base replay as they would on the base's Map: in place, to the end, or gone", () => {
    const v = (n: number) => new Uint8Array([n]);
    const changes = (records: [RecordKind, string, number?][]) => {
      const w = new SegmentWriter();
      w.section("t");
      for (const [kind, key, value] of records) w.add(kind, key, value === undefined ? undefined : v(value));
      return w.finish() as Uint8Array;
    };
    const { update, insert, delete: del } = RecordKind;
    const log = [segmentOf(["t", "a", v(1), "t", "b", v(2), "t", "c", v(3), "t", "d", v(4), "t", "e", v(5)])];
    const after = [
      changes([
        [update, "b", 20],
        [del, "c"],
        [insert, "a", 10],
        [insert, "f", 6],
      ]),
      changes([
        [insert, "c", 30],
        [update, "f", 60],
        [insert, "g", 7],
        [del, "g"],
        [del, "e"],
        [insert, "h", 8],
        [update, "d", 40],
      ]),
    ];
    const compaction = new SegmentCompaction();
    compaction.feed(log[0] as Uint8Array);
    const base = [...compaction.chunks(8)];
    expect(base.length).toBeGreaterThan(1);
    const expected = [
      ["b", 20],
      ["d", 40],
      ["a", 10],
      ["f", 60],
      ["c", 30],
      ["h", 8],
    ];
    for (const segments of [
      [...base, ...after],
      [...log, ...after],
    ]) {
      const replay = new SegmentReplay();
      for (const segment of segments) replay.feed(segment as Uint8Array);
      expect([...(replay.tables.get("t") ?? [])].map(([key, value]) => [key, value[0]])).toEqual(expected);
      expect(replay.keys).toBe(expected.length);
    }
  });
});

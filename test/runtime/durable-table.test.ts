import { describe, expect, test } from "bun:test";
import {
  batchToChanges,
  ChangeBatchBuilder,
  changesToBatch,
  forEachChange,
} from "../../src/runtime/change-batch.ts";
import { DurableTables, memoryTables, msgpackTableCodec } from "../../src/runtime/durable-table.ts";

function collected(tables: DurableTables) {
  const builder = new ChangeBatchBuilder();
  tables.collect(builder);
  const out: [string, string, unknown][] = [];
  forEachChange(builder.finish(), (table, key, value) => {
    // The insertion ranks written beside each table have a test of their own.
    if (!table.endsWith("@rank"))
      out.push([table, key, value === null ? null : msgpackTableCodec.decode(value)]);
  });
  return out;
}

/** Checkpoints `from` into a store-like map (latest value per key, in the given key order), restores a copy. */
function checkpointAndRestore(
  from: DurableTables,
  store: Map<string, [string, string, Uint8Array]>,
  scramble: boolean,
) {
  const builder = new ChangeBatchBuilder();
  from.collect(builder);
  forEachChange(builder.finish(), (table, key, value) => {
    const id = `${table}\u0000${key}`;
    if (value === null) store.delete(id);
    else store.set(id, [table, key, new Uint8Array(value)]);
  });
  const rows = [...store.values()];
  // A Redis HSCAN returns fields in no particular order.
  if (scramble) rows.reverse();
  const restored = new DurableTables(true);
  restored.restore(changesToBatch(rows.flat()));
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
  });

  test("a restore gives back each table's insertion order, whatever order the store returns keys in", () => {
    const live = new DurableTables(true);
    const t = live.table<number>("t");
    live.sealed();
    const store = new Map<string, [string, string, Uint8Array]>();
    t.set("a", 1).set("b", 2).set("c", 3);
    checkpointAndRestore(live, store, true);
    // Deleted and added again: it moves to the end, as in a Map; an update keeps its place.
    t.delete("a");
    t.set("a", 4).set("b", 5).set("d", 6);
    t.set("e", 7);
    t.delete("e");
    const restored = checkpointAndRestore(live, store, true);
    const copy = restored.table<number>("t");
    expect([...copy]).toEqual([...t]);
    expect([...copy.keys()]).toEqual(["b", "c", "a", "d"]);
    // Ranks go on growing after a restore: a key added to the copy goes last after its next restore.
    restored.sealed();
    copy.set("z", 0);
    copy.delete("c");
    const again = checkpointAndRestore(restored, store, true).table<number>("t");
    expect([...again.keys()]).toEqual(["b", "a", "d", "z"]);
  });

  test("restored values are decoded when their table is declared in initialState; same name, same table", () => {
    const tables = new DurableTables(true);
    // A copy: the codec's bytes are a view on the encoder's reused buffer.
    const encode = (value: unknown) => new Uint8Array(msgpackTableCodec.encode(value));
    tables.restore(changesToBatch(["t", "k1", encode({ n: 1 }), "t", "k2", encode([2])]));
    tables.restore(changesToBatch(["u", "k", encode(new Set([3]))]));
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
    expect(() => tables.restore(changesToBatch([]))).toThrow();
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
    tables.restore(changesToBatch(["j", "a", json.encode({ n: 1 }), "j", "b", json.encode([1, 2])]));
    const table = tables.table("j", json);
    expect([...table]).toEqual([
      ["a", { n: 1 }],
      ["b", [1, 2]],
    ]);
    table.set("c", "x");
    tables.sealed();
    const builder = new ChangeBatchBuilder();
    tables.collect(builder);
    expect(batchToChanges(builder.finish()).slice(0, 3)).toEqual(["j", "c", json.encode("x")]);
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

  test("a value the codec cannot encode fails the checkpoint with ERR_ENCODE, naming table and key", () => {
    const tables = new DurableTables(true);
    tables.table<unknown>("t").set("bad", { kind: Symbol("not encodable") });
    expect(() => collected(tables)).toThrow(expect.objectContaining({ code: "ERR_ENCODE" }));
  });
});

describe("change batches", () => {
  test("round-trip changes through one buffer, deletions included, values as views", () => {
    const changes = [
      "a",
      "k1",
      new Uint8Array([1, 2]),
      "a",
      "k2",
      null,
      "b",
      "k3",
      new Uint8Array([3]),
      "a",
      "k4",
      new Uint8Array([]),
    ];
    const batch = changesToBatch(changes);
    expect(batch.tables).toEqual(["a", 2, "b", 1, "a", 1]);
    expect(batch.bytes.byteLength).toBe(3);
    const back = batchToChanges(batch);
    expect(back).toEqual(changes);
    expect((back[2] as Uint8Array).buffer).toBe(batch.bytes);
  });

  test("grow past the initial buffer", () => {
    const builder = new ChangeBatchBuilder();
    const big = new Uint8Array(100_000).fill(7);
    builder.add("t", "a", big);
    builder.add("t", "b", big);
    expect(builder.count).toBe(2);
    expect(builder.byteLength).toBe(200_000);
    const back = batchToChanges(builder.finish());
    expect(back[5]).toEqual(big);
  });
});

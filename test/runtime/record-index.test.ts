import { describe, expect, test } from "bun:test";
import { RecordIndex, SEGMENT_SHIFT } from "../../src/runtime/record-index.ts";
import { RecordKind } from "../../src/runtime/state-segment.ts";

/** One segment of keys, each a one-byte length prefix and its bytes (no values: the index needs none). */
function keysSegment(keys: readonly string[]): { bytes: Uint8Array; at: Map<string, number> } {
  const at = new Map<string, number>();
  const parts: number[] = [];
  for (const key of keys) {
    at.set(key, parts.length);
    parts.push(key.length, ...new TextEncoder().encode(key));
  }
  return { bytes: new Uint8Array(parts), at };
}

describe("RecordIndex", () => {
  test("keys with one hash, one a prefix of another, stay apart through updates, moves and deletions", () => {
    const { bytes, at } = keysSegment(["a", "ab", "abc", "b"]);
    const segments = [bytes];
    const index = new RecordIndex(new Uint8Array());
    const apply = (key: string, kind: RecordKind) => {
      const start = at.get(key) as number;
      // Every key under the same hash: only the key's length and bytes tell them apart.
      index.apply(segments, 0, start, 1 + key.length, start + 1, key.length, 7, kind, false);
    };
    const order = () => {
      const { positions } = index.ordered();
      const byStart = new Map([...at].map(([key, start]) => [start, key]));
      return [...positions].map((p) => byStart.get(p % SEGMENT_SHIFT));
    };
    for (const key of ["abc", "a", "ab", "b"]) apply(key, RecordKind.insert);
    expect(order()).toEqual(["abc", "a", "ab", "b"]);
    apply("a", RecordKind.update);
    expect(order()).toEqual(["abc", "a", "ab", "b"]);
    apply("abc", RecordKind.insert);
    expect(order()).toEqual(["a", "ab", "b", "abc"]);
    apply("a", RecordKind.delete);
    expect(order()).toEqual(["ab", "b", "abc"]);
    // The records probed past the deleted slot are still found.
    apply("b", RecordKind.delete);
    apply("ab", RecordKind.update);
    expect(order()).toEqual(["ab", "abc"]);
    expect(index.size).toBe(2);
  });
});

/** Partition key names and routing: hash tags per partition, P = 1 unchanged, a stable hash. */
import { expect, test } from "bun:test";
import { InvalidOptionError } from "../../src/errors.ts";
import { hashTag, keySlot } from "../../src/streams/key-slot.ts";
import { partitionKey, partitionOf } from "../../src/streams/partitions.ts";
import { stateBase } from "../../src/streams/state-keys.ts";

test("one partition keeps the name; more give each partition a hash tag of its own", () => {
  expect(partitionKey("troupe:tx", 0, 1)).toBe("troupe:tx");
  expect(partitionKey("{troupe}:tx", 0, 1)).toBe("{troupe}:tx");
  expect(partitionKey("troupe:tx", 3, 8)).toBe("{troupe:tx:p3}");
  expect(partitionKey("{troupe}:tx", 3, 8)).toBe("{troupe:p3}:tx");
  expect(partitionKey("a{t}b{c}", 1, 2)).toBe("a{t:p1}b{c}");
  const keys = Array.from({ length: 16 }, (_, i) => partitionKey("troupe:tx", i, 16));
  expect(new Set(keys.map(hashTag)).size).toBe(16);
  // A Redis Cluster spreads them: 16 partitions over 16 distinct slots here.
  expect(new Set(keys.map(keySlot)).size).toBe(16);
  // Every derived key (state, dead letters by suffix) stays in the partition's slot.
  for (const key of keys) {
    expect(stateBase(key)).toBe(key);
    expect(keySlot(`${key}:dlq`)).toBe(keySlot(key));
  }
});

test("co-partitioned streams: partition i of two streams with one tag share a slot", () => {
  for (let i = 0; i < 8; i++)
    expect(keySlot(partitionKey("{troupe}:tx", i, 8))).toBe(keySlot(partitionKey("{troupe}:alerts", i, 8)));
});

test("routing is FNV-1a of the key mod P: stable, and within range", () => {
  // FNV-1a 32-bit reference values: "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968.
  expect(partitionOf("", 2 ** 31)).toBe(0x811c9dc5 % 2 ** 31);
  expect(partitionOf("a", 4096)).toBe(0xe40c292c % 4096);
  expect(partitionOf("foobar", 1000)).toBe(0xbf9cf968 % 1000);
  expect(partitionOf("ünï", 7)).toBe(partitionOf("ünï", 7));
  for (let i = 0; i < 100; i++) expect(partitionOf(`k${i}`, 1)).toBe(0);
});

test("bad partitions and names are named", () => {
  expect(() => partitionKey("s", 8, 8)).toThrow(InvalidOptionError);
  expect(() => partitionKey("a}b", 0, 2)).toThrow("give it a {tag}");
  // A count that is no count routed to NaN or a fraction, which no partition is.
  for (const partitions of [0, -1, 1.5, 2.5, Number.NaN, Number.POSITIVE_INFINITY])
    expect(() => partitionOf("k", partitions)).toThrow(InvalidOptionError);
});

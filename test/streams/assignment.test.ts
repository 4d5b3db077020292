/** Partition assignment: the same answer for the same membership, bounded loads, few moves on a change. */
import { expect, test } from "bun:test";
import { assignPartitions } from "../../src/streams/assignment.ts";

const moved = (before: readonly string[], after: readonly string[]) =>
  before.filter((o, i) => o !== after[i]).length;
const loads = (owners: readonly string[]) => {
  const counts = new Map<string, number>();
  for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  return counts;
};

test("every member computes the same owners, whatever order it lists the members in", () => {
  expect(assignPartitions(16, ["c", "a", "b"])).toEqual(assignPartitions(16, ["a", "b", "c", "a"]));
  expect(assignPartitions(4, ["solo"])).toEqual(["solo", "solo", "solo", "solo"]);
  expect(() => assignPartitions(4, [])).toThrow(RangeError);
});

test("every member owns floor(P / K) or ceil(P / K) partitions", () => {
  for (const partitions of [1, 7, 8, 16, 64, 256])
    for (let k = 1; k <= 9; k++) {
      const members = Array.from({ length: k }, (_, i) => `host-${i}`);
      const counts = loads(assignPartitions(partitions, members));
      for (const member of members) {
        const owned = counts.get(member) ?? 0;
        expect(owned === Math.floor(partitions / k) || owned === Math.ceil(partitions / k)).toBe(true);
      }
    }
});

test("a join or a leave moves few partitions besides the ones that must move", () => {
  const four = ["a", "b", "c", "d"];
  // 16 partitions, four members to five: the newcomer needs 3 (5 move); round-robin over sorted names moved 12.
  expect(moved(assignPartitions(16, four), assignPartitions(16, [...four, "e"]))).toBeLessThanOrEqual(6);
  // A leave moves the leaver's partitions and few others.
  const before = assignPartitions(64, four);
  const after = assignPartitions(64, ["a", "b", "c"]);
  const leaverHad = before.filter((o) => o === "d").length;
  expect(moved(before, after)).toBeLessThanOrEqual(leaverHad + 8);
});

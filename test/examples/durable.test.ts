import { expect, test } from "bun:test";
import { countWithACrash } from "../../examples/durable/main.ts";

test("the durable-state example counts every key exactly once across a worker crash", async () => {
  const keys = Array.from({ length: 1000 }, (_, i) => `k${(i * 7) % 31}`);
  const expected: Record<string, number> = {};
  for (const key of keys) expected[key] = (expected[key] ?? 0) + 1;
  expect(await countWithACrash(keys)).toEqual(expected);
});

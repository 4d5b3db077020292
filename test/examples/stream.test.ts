import { expect, test } from "bun:test";
import { flagBigOrders } from "../../examples/stream/main.ts";

test("the stream example flags exactly the big orders, through a pump and two workers", async () => {
  const orders = Array.from({ length: 500 }, (_, i) => ({
    customer: `c${i % 13}`,
    cents: (i * 7919) % 20_000,
  }));
  const flagged = await flagBigOrders(orders);
  const expected = orders.filter((o) => o.cents > 10_000);
  expect(flagged.length).toBe(expected.length);
  expect(new Set(flagged.map((o) => `${o.customer}/${o.cents}`))).toEqual(
    new Set(expected.map((o) => `${o.customer}/${o.cents}`)),
  );
});

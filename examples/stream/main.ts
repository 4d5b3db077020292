/**
 * Connects your own actor to your own stream: entries of "orders" are handled by two workers (routed by
 * customer) and acked only after their outputs are in "flagged". In memory here; pass a
 * `RedisStreamBackend(process.env.REDIS_URL)` instead and several processes share the work.
 *
 *   bun examples/stream/main.ts
 */
import { createSystem } from "troupe";
import { defaultCodec, MemoryStreamBackend, Pump } from "troupe/streams";
import type { Order } from "./scorer.actor.ts";

export async function flagBigOrders(orders: Order[]): Promise<Order[]> {
  const backend = new MemoryStreamBackend();
  const system = createSystem();
  const scorer = await system.spawn<Order>(new URL("./scorer.actor.ts", import.meta.url), {
    instances: 2,
    route: (order) => order.customer,
  });
  const pump = new Pump(backend, scorer, { stream: "orders", group: "scorer" });
  await pump.start();

  await backend.appendBatch(
    "orders",
    orders.map((order) => defaultCodec.encode(order)),
  );
  const done = Promise.withResolvers<void>();
  let acked = 0;
  pump.on("acked", ({ ids }) => {
    acked += ids.length;
    if (acked === orders.length) done.resolve();
  });
  await done.promise;

  const flagged = await backend.range("flagged", { count: 1000 });
  await pump.stop();
  await system.stop();
  return flagged.map((entry) => defaultCodec.decode(entry.fields as never) as Order);
}

if (import.meta.main) {
  const orders = Array.from({ length: 1000 }, (_, i) => ({
    customer: `c${i % 17}`,
    cents: (i * 7919) % 20_000,
  }));
  console.log(`${(await flagBigOrders(orders)).length} of ${orders.length} orders flagged`);
}

/**
 * One member of a group that shares a partitioned stream with other processes: start it on several hosts
 * (or twice on one) and each owns about P/K of the partitions, a durable tally actor per owned partition.
 * A member that dies (kill -9) is found gone within a second (Redis drops its connections); the others take
 * its partitions over with their checkpointed state and their unacknowledged entries, so the tallies come
 * out as if nothing happened. (A member that freezes keeps its partitions until its leases expire: 10 s.)
 *
 *   REDIS_CLUSTER_NODES=127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 bun examples/partitions/member.ts host-a
 *   (or REDIS_URL=redis://127.0.0.1:6379; argv[3] names the stream's hash tag, default "shop")
 *
 * Prints one JSON line per partition it takes or gives up: {"member","partition","event","at"}.
 */
import { type ActorRef, createSystem, ThreadPool } from "troupe";
import {
  PartitionedConsumer,
  PartitionedStream,
  type RedisAddress,
  RedisStreamBackend,
} from "troupe/streams";
import { ordersStream, PARTITIONS, talliesStream } from "./shop.ts";
import type { Order, TallyInit } from "./tally.actor.ts";

const member = process.argv[2] ?? `member-${process.pid}`;
const tag = process.argv[3] ?? "shop";
const server: RedisAddress = process.env.REDIS_CLUSTER_NODES
  ? { cluster: process.env.REDIS_CLUSTER_NODES.split(",") }
  : (process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const backend = new RedisStreamBackend(server);
const orders = await PartitionedStream.open(backend, ordersStream(tag), { partitions: PARTITIONS });
const system = createSystem();
// The partitions this member owns share a thread per core, each still an actor with its own state.
const threads = new ThreadPool();
const tallies = new Map<number, ActorRef<Order>>();
const say = (partition: number, event: string) =>
  console.log(JSON.stringify({ member, partition, event, at: Date.now() }));

const consumer = new PartitionedConsumer<Order>(
  backend,
  orders,
  async (partition, key) => {
    // The partition's state lives next to its stream (same slot); spawning restores it and fences
    // whichever process had it before.
    const store = backend.stateStore({ anchor: key });
    const tally = await system.spawn<Order>(new URL("./tally.actor.ts", import.meta.url), {
      name: `tally-p${partition}`,
      init: { out: talliesStream(tag) } satisfies TallyInit,
      state: { store },
      threads,
    });
    tallies.set(partition, tally);
    say(partition, "assigned");
    return {
      target: tally,
      options: { stateStore: store },
      // A lease lost while Redis stalled: held, and kept if this process takes it again before another.
      pause: () => system.pause(tally.name, "lease"),
      resume: () => system.resume(tally.name, "lease"),
    };
  },
  { group: "tally", member },
);
consumer.on("started", ({ partition, pump }) => {
  const off = pump.on("written", () => {
    off();
    say(partition, "first-written");
  });
});
consumer.on("stopped", async ({ partition }) => {
  const tally = tallies.get(partition);
  tallies.delete(partition);
  await tally?.stop();
  say(partition, "revoked");
});
await consumer.start();
console.log(JSON.stringify({ member, event: "started", at: Date.now() }));

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, async () => {
    await consumer.stop();
    await system.stop();
    await backend.close();
    process.exit(0);
  });
}

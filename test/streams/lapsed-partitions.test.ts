/**
 * `PartitionedConsumer` with `pause` / `resume` (src/streams/lapsed-units.ts): a partition whose lease was
 * lost is kept paused until the member knows whether another held the lease since. Taken again first, it
 * goes on with the same target and pump; taken over by another member meanwhile, it is stopped (its pump,
 * then `release`) and set up afresh when it comes back.
 */
import { afterEach, expect, test } from "bun:test";
import { leaseKey } from "../../src/streams/leases.ts";
import type { OwnershipOptions } from "../../src/streams/ownership.ts";
import { PartitionedConsumer } from "../../src/streams/partitioned-consumer.ts";
import { PartitionedProducer } from "../../src/streams/partitioned-producer.ts";
import { PartitionedStream } from "../../src/streams/partitions.ts";
import { LeaseBackend, type RoundCall } from "../support/stalling-leases.ts";
import { TestTarget, until } from "./test-target.ts";

const LEASE_MS = 1_500;
const options: OwnershipOptions = { group: "g", member: "a", leaseMs: LEASE_MS, renewMs: LEASE_MS / 4 };

interface Event {
  k: string;
  n: number;
}

let consumer: PartitionedConsumer<Event, void> | undefined;
afterEach(() => consumer?.stop());

/** A consumer of `stream` as member "a", recording each partition's setups, pauses, resumes and releases. */
function recorded(backend: LeaseBackend, stream: PartitionedStream) {
  const log: string[] = [];
  const handled: number[] = [];
  const target = new TestTarget<Event, void>({
    instances: 1,
    window: 16,
    key: (e) => e.k,
    handler: async (e) => {
      handled.push(e.n);
    },
  });
  consumer = new PartitionedConsumer<Event, void>(
    backend,
    stream,
    (partition) => {
      log.push(`${partition} set up`);
      return {
        target,
        options: { blockMs: 50 },
        release: async () => void log.push(`${partition} released`),
        pause: () => log.push(`${partition} paused`),
        resume: () => log.push(`${partition} resumed`),
      };
    },
    options,
  );
  const owning = (count: number) =>
    until(
      (check) => {
        const off = [consumer!.ownership.on("assigned", check), consumer!.ownership.on("revoked", check)];
        return () => {
          for (const unsubscribe of off) unsubscribe();
        };
      },
      () => consumer!.ownership.owned.length === count,
    );
  return { consumer, log, handled, owning };
}

test.each([
  ["every call of a round", undefined],
  // Redis stopped answering right after the heartbeat: the round under way when the leases lapse ends
  // once it answers again, without having tried to take them back.
  ["the renewals only", ["renew"] as RoundCall[]],
])(
  "a partition lost while the backend stalled (%s), taken again before anyone else: the same pump goes on, resumed",
  async (_stalled, calls) => {
    const backend = new LeaseBackend();
    const stream = await PartitionedStream.open(backend, `t${crypto.randomUUID()}`, { partitions: 2 });
    const { consumer, log, handled, owning } = recorded(backend, stream);
    await consumer.start();
    await owning(2);
    const pumps = [consumer.pump(0), consumer.pump(1)];
    const answer = backend.stall(calls);
    await owning(0);
    await Bun.sleep(LEASE_MS);
    answer();
    await owning(2);
    expect(log.sort()).toEqual(["0 paused", "0 resumed", "0 set up", "1 paused", "1 resumed", "1 set up"]);
    expect([consumer.pump(0), consumer.pump(1)]).toEqual(pumps);
    // And it reads again, under the lease's new generation.
    await new PartitionedProducer<Event>(backend, stream, { key: (e) => e.k }).send({ k: "x", n: 1 });
    const pump = pumps[stream.partitionOf("x")]!;
    await until(
      (check) => pump.on("acked", check),
      () => handled.length === 1,
    );
  },
  20_000,
);

test("a partition another member held meanwhile is stopped, released, and set up afresh when it comes back", async () => {
  const backend = new LeaseBackend();
  const stream = await PartitionedStream.open(backend, `t${crypto.randomUUID()}`, { partitions: 1 });
  const { consumer, log, owning } = recorded(backend, stream);
  const stopped = Promise.withResolvers<void>();
  consumer.on("stopped", () => stopped.resolve());
  await consumer.start();
  await owning(1);
  const release = await backend.takeOver(leaseKey(stream.keys[0]!, "g"));
  await consumer.ownership.rebalance();
  await stopped.promise;
  expect(log).toEqual(["0 set up", "0 paused", "0 released"]);
  await release();
  await owning(1);
  expect(log).toEqual(["0 set up", "0 paused", "0 released", "0 set up"]);
}, 20_000);

/**
 * The partitioned stream contract, run against every backend (memory.test.ts, redis.test.ts,
 * cluster.test.ts): the partition count is stored at creation and checked at every open; the producer
 * routes each key to one partition and keeps its order; co-partitioned streams check their state together.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { InvalidOptionError, TroupeError } from "../../src/errors.ts";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { PartitionedProducer } from "../../src/streams/partitioned-producer.ts";
import { PartitionedStream } from "../../src/streams/partitions.ts";
import type { ContractHarness } from "./contract.ts";
import { Entry } from "./state-contract.ts";

interface Event {
  k: string;
  seq: number;
}

export function runPartitionContract(name: string, create: () => Promise<ContractHarness>): void {
  describe(`partitioned streams: ${name}`, () => {
    let h: ContractHarness;
    let b: StreamBackend;
    let s: string;
    const open = async () => {
      h = await create();
      b = h.backend;
      s = `${h.prefix}:tx`;
    };
    afterEach(async () => {
      await h?.cleanup();
    });

    test("one partition is the stream's own key: nothing existing changes", async () => {
      await open();
      await b.append(s, { n: "1" });
      const stream = await PartitionedStream.open(b, s);
      expect(stream.keys).toEqual([s]);
      expect(stream.keyFor("any")).toBe(s);
      expect((await PartitionedStream.open(b, s, { partitions: 1 })).keys).toEqual([s]);
      expect(await b.length(s)).toBe(1);
    });

    test("the count is stored at creation; opening with another fails with ERR_PARTITION_MISMATCH", async () => {
      await open();
      expect(await b.storedPartitions(s)).toBeNull();
      const created = await PartitionedStream.open(b, s, { partitions: 8 });
      expect(await b.storedPartitions(s)).toBe(8);
      const again = await PartitionedStream.open(b, s, { partitions: 8 });
      expect(again.keys).toEqual(created.keys);
      for (const partitions of [4, undefined]) {
        const error = await PartitionedStream.open(b, s, partitions ? { partitions } : {}).catch((e) => e);
        expect(error).toBeInstanceOf(TroupeError);
        expect(error.code).toBe("ERR_PARTITION_MISMATCH");
        expect(error.message).toStartWith(
          `partitions: stream "${s}" was created with 8 partitions, not ${partitions ?? 1}`,
        );
      }
      for (const partitions of [0, 1.5, 5000]) {
        const error = await PartitionedStream.open(b, `${h.prefix}:bad`, { partitions }).catch((e) => e);
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect(error.option).toBe("partitions");
      }
      // A refused count stored nothing: the first valid open decides.
      expect((await PartitionedStream.open(b, `${h.prefix}:bad`, { partitions: 2 })).partitions).toBe(2);
    });

    test("the producer routes each key to one partition, in order, and the keys cover every partition", async () => {
      await open();
      const stream = await PartitionedStream.open(b, s, { partitions: 8 });
      const producer = new PartitionedProducer<Event>(b, stream, { key: (e) => e.k });
      const keys = Array.from({ length: 200 }, (_, i) => `wallet-${i}`);
      const events = Array.from({ length: 10 }, (_, seq) => keys.map((k) => ({ k, seq }))).flat();
      for (let i = 0; i < events.length; i += 250) {
        const results = await producer.sendBatch(events.slice(i, i + 250));
        expect(results.every((r) => r.ok)).toBe(true);
      }
      expect(await producer.send({ k: keys[0]!, seq: 10 })).toBeString();
      const seen = new Map<string, { partition: number; seqs: number[] }>();
      for (const [partition, key] of stream.keys.entries()) {
        const entries = await b.range(key, { count: 10_000 });
        expect(entries.length).toBeGreaterThan(0);
        for (const entry of entries) {
          const event = defaultCodec.decode(entry.fields!) as Event;
          const record = seen.get(event.k) ?? { partition, seqs: [] };
          expect(record.partition).toBe(partition);
          record.seqs.push(event.seq);
          seen.set(event.k, record);
        }
      }
      expect(seen.size).toBe(keys.length);
      for (const [k, { partition, seqs }] of seen) {
        expect(partition).toBe(stream.partitionOf(k));
        expect(seqs).toEqual(Array.from({ length: k === keys[0] ? 11 : 10 }, (_, i) => i));
      }
    });

    test("co-partitioned streams of one hash tag: a checkpoint acks both partitions' entries in one write", async () => {
      await open();
      const tx = await PartitionedStream.open(b, `{${h.prefix}}:tx`, { partitions: 4 });
      const alerts = await PartitionedStream.open(b, `{${h.prefix}}:alerts`, { partitions: 4 });
      const covers: Entry[] = [];
      for (const key of [tx.keys[2]!, alerts.keys[2]!]) {
        await b.ensureGroup(key, "g");
        await b.append(key, { n: "1" });
        const [entry] = await b.readNew(key, "g", "c", { count: 1 });
        covers.push(new Entry(key, "g", entry!.id));
      }
      const store = b.stateStore({ anchor: tx.keys[2]! });
      const scope = { actor: "counter", instance: 0 };
      const { epoch } = await store.restore(scope);
      await store.commit({ scope, epoch, segments: [], covers });
      expect(covers.map((c) => c.ackedCount)).toEqual([1, 1]);
      for (const key of [tx.keys[2]!, alerts.keys[2]!])
        expect(await b.pending(key, "g", { count: 10 })).toEqual([]);
    });
  });
}

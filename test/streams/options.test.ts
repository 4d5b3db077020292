import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { InvalidOptionError } from "../../src/errors.ts";
import { MemoryStateStore } from "../../src/runtime/memory-state-store.ts";
import type { CompactionOptions } from "../../src/runtime/state-log.ts";
import {
  MEMORY_BACKEND_DEFAULTS,
  MemoryStreamBackend,
  resolveMemoryBackendOptions,
} from "../../src/streams/memory-backend.ts";
import {
  OWNERSHIP_DEFAULTS,
  type OwnershipOptions,
  PartitionOwnership,
  resolveOwnershipOptions,
} from "../../src/streams/ownership.ts";
import { PartitionedConsumer } from "../../src/streams/partitioned-consumer.ts";
import { PartitionedProducer } from "../../src/streams/partitioned-producer.ts";
import {
  PARTITION_DEFAULTS,
  PartitionedStream,
  resolvePartitionOptions,
} from "../../src/streams/partitions.ts";
import { PRODUCER_DEFAULTS, resolveProducerOptions } from "../../src/streams/producer.ts";
import { Pump } from "../../src/streams/pump.ts";
import { PUMP_DEFAULTS, resolvePumpOptions } from "../../src/streams/pump-options.ts";
import type { PumpTarget } from "../../src/streams/pump-target.ts";
import {
  REDIS_BACKEND_DEFAULTS,
  RedisStreamBackend,
  resolveRedisBackendOptions,
} from "../../src/streams/redis-backend.ts";
import {
  RETENTION_DEFAULTS,
  Retention,
  type RetentionOptions,
  resolveRetentionOptions,
} from "../../src/streams/retention.ts";
import { resolveStateStoreOptions } from "../../src/streams/stream-state-store.ts";

const idleTarget: PumpTarget = {
  name: "idle",
  freeCredits: () => 0,
  deliver: () => false,
  onCredit: () => () => {},
};

/** Pins the exact message, the code and the named option of a validation failure. */
function rejects(resolve: () => unknown, option: string, message: string): void {
  let caught: unknown;
  try {
    resolve();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidOptionError);
  const error = caught as InvalidOptionError;
  expect(error.code).toBe("ERR_INVALID_OPTION");
  expect(error.option).toBe(option);
  expect(error.message).toBe(`${option}: ${message}`);
}

describe("pump options", () => {
  const base = { stream: "tx", group: "g" };

  test("defaults live in PUMP_DEFAULTS; the dead-letter stream and consumer are derived", () => {
    const o = resolvePumpOptions(base);
    expect(o.deadLetterStream).toBe("tx:dlq");
    expect(o.consumer).toBe(`${hostname()}-${process.pid}`);
    expect(o.maxDeliveries).toBe(PUMP_DEFAULTS.maxDeliveries);
    expect(resolvePumpOptions({ ...base, maxBatch: undefined }).maxBatch).toBe(512);
    expect(resolvePumpOptions({ ...base, deadLetterStream: "dead", consumer: "w1" })).toMatchObject({
      deadLetterStream: "dead",
      consumer: "w1",
    });
  });

  test("every bad option is named", () => {
    rejects(() => resolvePumpOptions({ stream: "", group: "g" }), "stream", "must be a non-empty string");
    rejects(() => resolvePumpOptions({ stream: "tx" } as never), "group", "must be a non-empty string");
    rejects(() => resolvePumpOptions({ ...base, consumer: "" }), "consumer", "must be a non-empty string");
    rejects(() => resolvePumpOptions({ ...base, maxBatch: 0 }), "maxBatch", "must be an integer >= 1, got 0");
    rejects(
      () => resolvePumpOptions({ ...base, blockMs: 1.5 }),
      "blockMs",
      "must be an integer >= 1, got 1.5",
    );
    rejects(
      () => resolvePumpOptions({ ...base, maxDeliveries: 0 }),
      "maxDeliveries",
      "must be an integer >= 1, got 0",
    );
    rejects(
      () => resolvePumpOptions({ ...base, sweepIntervalMs: -1 }),
      "sweepIntervalMs",
      "must be an integer >= 0, got -1",
    );
    rejects(
      () => resolvePumpOptions({ ...base, maxCommitAttempts: 0 }),
      "maxCommitAttempts",
      "must be an integer >= 1, got 0",
    );
    rejects(
      () => resolvePumpOptions({ ...base, retryMinMs: 100, retryMaxMs: 10 }),
      "retryMaxMs",
      "must be an integer >= 100, got 10",
    );
    rejects(
      () => resolvePumpOptions({ ...base, deadLetterStream: "tx" }),
      "deadLetterStream",
      "must differ from stream",
    );
  });

  test("options that would fail only at the first entry are named at construction (a spec test's findings)", () => {
    // A codec without decode dead-lettered every valid entry as malformed; "" wrote no letter at all.
    const codec = "must be an entry codec: { encode, decode } (defaultCodec, jsonCodec, …)";
    rejects(() => resolvePumpOptions({ ...base, codec: {} as never }), "codec", codec);
    rejects(
      () => resolvePumpOptions({ ...base, deadLetterStream: "" }),
      "deadLetterStream",
      "must be a non-empty stream key, or null for <stream>:dlq",
    );
    rejects(
      () => resolvePumpOptions({ ...base, toMessage: "x" as never }),
      "toMessage",
      "must be a function",
    );
    rejects(() => resolvePumpOptions({ ...base, outputsOf: 1 as never }), "outputsOf", "must be a function");
    rejects(
      () => resolvePumpOptions({ ...base, consumer: 42 as never }),
      "consumer",
      "must be a non-empty string",
    );
    rejects(
      () => resolvePumpOptions({ ...base, stateStore: "redis" as never }),
      "stateStore",
      "must be a stream state store (backend.stateStore()) or null",
    );
    rejects(
      () => resolvePumpOptions({ ...base, maxDeliverys: 3 } as never),
      "maxDeliverys",
      "is not a pump option",
    );
    rejects(
      () => resolveProducerOptions({ stream: "tx", lagCapacty: 5 } as never),
      "lagCapacty",
      "is not a producer option",
    );
    rejects(() => resolveProducerOptions({ stream: "tx", codec: 7 as never }), "codec", codec);
    rejects(
      () => resolveProducerOptions({ stream: "tx", mayWrite: true as never }),
      "mayWrite",
      "must be a function",
    );
    rejects(
      () => resolveProducerOptions({ stream: "tx", groups: "g" as never }),
      "groups",
      "must be an array of group names",
    );
    rejects(
      () => resolveProducerOptions({ stream: "tx", highWatermark: "0.5" as never }),
      "highWatermark",
      "must be a number, got string",
    );
  });
});

describe("backend, producer and retention options", () => {
  test("defaults", () => {
    expect(resolveMemoryBackendOptions()).toEqual(MEMORY_BACKEND_DEFAULTS);
    expect(resolveRedisBackendOptions()).toEqual(REDIS_BACKEND_DEFAULTS);
    expect(resolveProducerOptions({ stream: "tx" })).toEqual({ ...PRODUCER_DEFAULTS, stream: "tx" });
    expect(resolveRetentionOptions()).toEqual(RETENTION_DEFAULTS);
  });

  test("every bad option is named", () => {
    rejects(
      () => resolveRedisBackendOptions({ commandTimeoutMs: 0 }),
      "commandTimeoutMs",
      "must be a positive integer, got 0",
    );
    rejects(
      () => resolveRedisBackendOptions({ readWatchdogGraceMs: -5 }),
      "readWatchdogGraceMs",
      "must be a positive integer, got -5",
    );
    rejects(() => resolveProducerOptions({ stream: "" }), "stream", "must be a non-empty string");
    rejects(
      () => resolveProducerOptions({ stream: "tx", lagCapacity: 0 }),
      "lagCapacity",
      "must be an integer >= 1, got 0",
    );
    rejects(
      () => resolveProducerOptions({ stream: "tx", checkIntervalMs: -1 }),
      "checkIntervalMs",
      "must be an integer >= 0, got -1",
    );
    rejects(
      () => resolveProducerOptions({ stream: "tx", downstream: [{ stream: "tx:mint", group: "" }] }),
      "downstream[0]",
      "must name a non-empty stream and group",
    );
    rejects(
      () => resolveProducerOptions({ stream: "tx", highWatermark: 0.96 }),
      "highWatermark",
      "must satisfy 0 < highWatermark < criticalWatermark <= 1",
    );
    rejects(
      () => resolveProducerOptions({ stream: "tx", idempotent: "yes" as unknown as boolean }),
      "idempotent",
      "must be a boolean",
    );
    rejects(
      () => resolveProducerOptions({ stream: "tx", retry: { minMs: 0 } }),
      "retry.minMs",
      "must be a positive integer, got 0",
    );
    rejects(() => resolveRetentionOptions({ keepLast: -1 }), "keepLast", "must be an integer >= 0, got -1");
    // Misspelt, it kept nothing: the entries meant to be kept were trimmed (a spec test).
    rejects(
      () => resolveRetentionOptions({ keepLastt: 10 } as RetentionOptions),
      "keepLastt",
      "is not a retention option",
    );
    rejects(
      () => new Retention(new MemoryStreamBackend(), 5 as unknown as string[]),
      "streams",
      "must be an array of stream names",
    );
    rejects(
      () => resolveMemoryBackendOptions({ maxEntries: -1 }),
      "maxEntries",
      "must be an integer >= 0 or Infinity, got -1",
    );
    rejects(
      () => new MemoryStreamBackend().setMaxEntries(Number.NaN),
      "maxEntries",
      "must be an integer >= 0 or Infinity, got NaN",
    );
    rejects(() => resolveMemoryBackendOptions({ clock: {} as never }), "clock", "must have a now() method");
  });
});

describe("typed events", () => {
  test("a wrong event name or payload does not compile", () => {
    const pump = new Pump(new MemoryStreamBackend(), idleTarget, { stream: "tx", group: "g" });
    const reasons: string[] = [];
    pump.on("deadLettered", (e) => reasons.push(e.reason));
    // @ts-expect-error past-tense facts only: there is no "deadLetter" event
    pump.on("deadLetter", () => {});
    // @ts-expect-error `acked` carries ids, not a count
    pump.on("acked", (e: { count: number }) => e.count);
    expect(reasons).toEqual([]);
  });
});

describe("scale-out options", () => {
  test("ownership: defaults in one place; a renewal period that a lease could not survive is named", () => {
    expect(resolveOwnershipOptions({ group: "g", member: "m" })).toEqual({
      ...OWNERSHIP_DEFAULTS,
      group: "g",
      member: "m",
    });
    const cases: [Partial<OwnershipOptions>, string][] = [
      [{ member: "" }, "member"],
      [{ leaseMs: 0 }, "leaseMs"],
      [{ leaseMs: 1_000, renewMs: 500 }, "renewMs"],
      [{ presenceCheckMs: 0.5 }, "presenceCheckMs"],
      [{ assignment: "random" as never }, "assignment"],
    ];
    for (const [bad, option] of cases) {
      const error = (() => {
        try {
          resolveOwnershipOptions({ group: "g", member: "m", ...bad });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(option);
    }
  });

  test("partitions: 1 by default, an integer from 1 to 4096", () => {
    expect(resolvePartitionOptions()).toEqual(PARTITION_DEFAULTS);
    expect(resolvePartitionOptions({ partitions: 4096 }).partitions).toBe(4096);
    expect(() => resolvePartitionOptions({ partitions: 4097 })).toThrow(
      "partitions: must be an integer from 1 to 4096",
    );
  });

  test("typos and wrong types in the scale-out API are refused at once, naming what is wrong (a spec test's findings)", async () => {
    const backend = new MemoryStreamBackend();
    const named = (option: string) => expect.objectContaining({ code: "ERR_INVALID_OPTION", option });
    // A misspelt count would have created the stream with 1 partition, fixed for good.
    await expect(PartitionedStream.open(backend, "typo", { partiton: 8 } as never)).rejects.toEqual(
      named("partiton"),
    );
    expect(await backend.fixPartitions("typo", 8)).toBe(8);
    const stream = await PartitionedStream.open(backend, "orders", { partitions: 4 });
    for (const key of [undefined, 5, null, {}])
      expect(() => stream.partitionOf(key as never)).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_KEY" }),
      );
    const producer = new PartitionedProducer<{ customer?: string }>(backend, stream, {
      key: (order) => order.customer as string,
    });
    await expect(producer.send({})).rejects.toEqual(expect.objectContaining({ code: "ERR_INVALID_KEY" }));
    // One bad key in a batch writes nothing of it.
    await expect(producer.sendBatch([{ customer: "a" }, {}])).rejects.toEqual(
      expect.objectContaining({ code: "ERR_INVALID_KEY" }),
    );
    expect(await Promise.all(stream.keys.map((key) => backend.range(key, { count: 10 })))).toEqual(
      stream.keys.map(() => []),
    );
    const options = { group: "g", member: "m" };
    const idle = { assigned: async () => {}, revoked: async () => {} };
    expect(
      () => new PartitionOwnership(backend, stream, idle, { ...options, leaseMS: 3_000 } as never),
    ).toThrow(named("leaseMS"));
    expect(
      () =>
        new PartitionedConsumer(backend, stream, async () => ({ target: null as never }), {
          ...options,
          renewMS: 1,
        } as never),
    ).toThrow(named("renewMS"));
    expect(() => new PartitionOwnership(backend, stream, {} as never, options)).toThrow(
      named("handler.assigned"),
    );
    expect(() => new PartitionedConsumer(backend, stream, 5 as never, options)).toThrow(named("setup"));
    // Units of one's own without their count were owned by nobody, round after round.
    const units = { name: "units", keys: ["u0", "u1", "u2"] };
    expect(() => new PartitionOwnership(backend, units as never, idle, options)).toThrow(
      named("stream.partitions"),
    );
    expect(
      () => new PartitionOwnership(backend, { ...units, partitions: 3, keys: ["u0", ""] }, idle, options),
    ).toThrow(named("stream.keys"));
    expect(() => new PartitionOwnership(backend, { ...units, partitions: 3 }, idle, options)).not.toThrow();
  });

  test("a redis cluster needs seed nodes as host:port", () => {
    expect(() => new RedisStreamBackend({ cluster: [] })).toThrow("cluster: needs at least one seed node");
    expect(() => new RedisStreamBackend({ cluster: ["localhost"] })).toThrow(
      'cluster: "localhost" is not host:port',
    );
  });
});

describe("state store options", () => {
  test("a misspelt option is refused, naming it, by both stores (a spec test's finding)", () => {
    const misspelt = { compactRatoi: 1 } as CompactionOptions;
    expect(() => new MemoryStateStore(misspelt)).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_OPTION", option: "compactRatoi" }),
    );
    expect(() => new MemoryStreamBackend().stateStore({ anchor: "tx", ...misspelt })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_OPTION", option: "compactRatoi" }),
    );
    expect(() =>
      resolveStateStoreOptions({ anchor: "tx", restorePageSize: 2, compactMinBytes: 0 }),
    ).not.toThrow();
    // Options that are no object are refused by the same check, not as a TypeError on their keys.
    for (const bad of [null, 5, []])
      expect(() => resolveStateStoreOptions(bad as never)).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_OPTION", option: "options" }),
      );
    expect(() => resolveOwnershipOptions(null as never)).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_OPTION", option: "options" }),
    );
  });
});

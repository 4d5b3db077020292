/**
 * What a read under a lease costs (ReadOptions.lease: the lease checked in Redis with the XREADGROUP, one
 * script): the Redis backend's readNew + ack of `--count` entries in batches of 500, with the lease against
 * without it, rounds alternated, best of `--rounds` (events/s). Each read is the pump's steady-state read
 * (entries waiting, so the leased one never takes its XREAD wait).
 *
 *   bun bench/leased-read.ts [--count 200000] [--rounds 5] [--json]
 */
import { parseCommandLine } from "../src/command-line.ts";
import type { ReadLease, StreamBackend } from "../src/streams/backend.ts";
import { leaseKey } from "../src/streams/leases.ts";
import { RedisStreamBackend } from "../src/streams/redis-backend.ts";
import { redisUrl, withBenchRedis } from "./lib/redis.ts";
import { figure, integer, type Measurement, printReport } from "./lib/report.ts";

const BENCH = "leased-read";
const BATCH = 500;
const USAGE = "usage: bun bench/leased-read.ts [--count 200000] [--rounds 5] [--json]";
// Not parseBenchArgs: best of 5 rounds in one process, not a median of fresh processes.
const values = parseCommandLine(USAGE, {
  json: { type: "boolean", default: false },
  count: { type: "string", default: "200000" },
  rounds: { type: "string", default: "5" },
});
const count = integer(USAGE, "--count", values.count);
const rounds = integer(USAGE, "--rounds", values.rounds);

/** Reads and acks every entry of `stream` through `group`; entries/s. */
async function drain(
  backend: StreamBackend,
  stream: string,
  group: string,
  lease?: ReadLease,
): Promise<number> {
  await backend.ensureGroup(stream, group, "0");
  const started = performance.now();
  let read = 0;
  while (read < count) {
    const entries = await backend.readNew(stream, group, "c", { count: BATCH, ...(lease && { lease }) });
    if (entries.length === 0) throw new Error(`read ${read} of ${count}: the stream ran dry`);
    await backend.ack(
      stream,
      group,
      entries.map((e) => e.id),
    );
    read += entries.length;
  }
  return (read * 1000) / (performance.now() - started);
}

const best = await withBenchRedis(async (redis, prefix) => {
  const backend = new RedisStreamBackend(redisUrl());
  try {
    const stream = `${prefix}:stream`;
    const payload = "x".repeat(300);
    for (let i = 0; i < count; i += 1000)
      await backend.appendBatch(
        stream,
        Array.from({ length: Math.min(1000, count - i) }, () => ({ json: payload })),
      );
    const key = leaseKey(stream, "bench");
    const held = await backend.leases().acquire(key, "c", 3_600_000);
    const lease = { key, holder: "c", generation: held.generation };
    const results = { plain: 0, leased: 0 };
    for (let round = 0; round < rounds; round++) {
      results.plain = Math.max(results.plain, await drain(backend, stream, `plain-${round}`));
      results.leased = Math.max(results.leased, await drain(backend, stream, `leased-${round}`, lease));
    }
    await redis.unlink(key);
    return results;
  } finally {
    await backend.close();
  }
});

const plain: Measurement = { bench: BENCH, metric: "readNew + ack", value: best.plain, unit: "entries/s" };
const leased: Measurement = {
  bench: BENCH,
  metric: "readNew under a lease + ack",
  value: best.leased,
  unit: "entries/s",
};
printReport([figure(plain), figure(leased, plain)], { json: values.json });

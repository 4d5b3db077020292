/**
 * Raw Redis Streams ceiling: a bare ioredis loop of XREADGROUP COUNT 512 then one XACK of the whole batch,
 * over a stream pre-filled with N entries (default 100,000) whose one field is a small msgpackr buffer (the
 * trade object). Entries are read with the Buffer variant and not decoded: this is the transport's limit,
 * the number a pump's end-to-end throughput is judged against. The pre-fill (XADD in pipelines of 1000) is
 * timed separately and reported as well. Streams live under `troupe-bench:<uuid>` and are deleted after.
 *
 * Run: `bun bench/ceilings/redis-raw.ts [--json] [--rounds 3] [--count N]` (REDIS_URL or 127.0.0.1:6379).
 */

import type { Redis } from "ioredis";
import { Packr } from "msgpackr";
import { stopwatch, throughput, warmThenTime } from "../lib/measure.ts";
import { trade } from "../lib/payload.ts";
import { withBenchRedis } from "../lib/redis.ts";
import { type Figure, figure, type Measurement, parseBenchArgs, printReport } from "../lib/report.ts";
import { type Results, runIsolated, type Variant, variant } from "../lib/run-isolated.ts";

export const BENCH = "redis";
export const METRICS = {
  readAck: "xreadgroup+xack",
  xadd: "xadd pipelined",
} as const;

const PIPELINE = 1000;

/** Appends `count` entries to `key` in pipelines; returns the elapsed milliseconds. */
async function fill(redis: Redis, key: string, count: number): Promise<number> {
  const packr = new Packr();
  const time = stopwatch();
  for (let done = 0; done < count; ) {
    const pipeline = redis.pipeline();
    const end = Math.min(count, done + PIPELINE);
    // Buffer.from copies: pack() returns a view on a reused buffer, and the pipeline holds it until exec.
    for (; done < end; done++) pipeline.xadd(key, "*", "d", Buffer.from(packr.pack(trade(done))));
    await pipeline.exec();
  }
  return time();
}

/** Reads and acks the whole of `key` through `group`, `batch` entries per round trip; returns the elapsed ms. */
async function readAndAck(
  redis: Redis,
  key: string,
  group: string,
  total: number,
  batch: number,
): Promise<number> {
  const time = stopwatch();
  for (let read = 0; read < total; ) {
    const reply = await redis.xreadgroupBuffer("GROUP", group, "c1", "COUNT", batch, "STREAMS", key, ">");
    // The RESP2 shape (ioredis speaks RESP2 unless told otherwise): [[key, [[id, fields], ...]]].
    const entries = (reply as [Buffer, [Buffer, Buffer[]][]][] | null)?.[0]?.[1] ?? [];
    if (entries.length === 0) throw new Error(`stream ${key} ran dry after ${read} of ${total} entries`);
    await redis.xack(key, group, ...entries.map(([id]) => id));
    read += entries.length;
  }
  return time();
}

/** XREADGROUP + XACK entries/s over `count` pre-filled entries, and the pre-fill's XADD entries/s. */
export async function xreadgroupAck(count = 100_000, batch = 512): Promise<Measurement[]> {
  return withBenchRedis(async (redis, prefix) => {
    let streams = 0;
    let xaddMs = 0;
    const readMs = await warmThenTime(count, async (n) => {
      // A fresh stream per run, so the timed run reads only its own entries.
      const key = `${prefix}:stream:${streams++}`;
      xaddMs = await fill(redis, key, n);
      await redis.xgroup("CREATE", key, "g", "0");
      return readAndAck(redis, key, "g", n, batch);
    });
    return [
      throughput(BENCH, METRICS.readAck, count, readMs, "entries/s"),
      throughput(BENCH, METRICS.xadd, count, xaddMs, "entries/s"),
    ];
  });
}

export function redisRawVariants(count?: number): Variant[] {
  return [variant(import.meta.url, "xreadgroupAck", ...(count === undefined ? [] : [count]))];
}

export function redisRawFigures(results: Results): Figure[] {
  return [figure(results.get(BENCH, METRICS.readAck)), figure(results.get(BENCH, METRICS.xadd))];
}

if (import.meta.main) {
  const args = parseBenchArgs(
    "usage: bun bench/ceilings/redis-raw.ts [--json] [--rounds 3] [--count N]   (REDIS_URL or 127.0.0.1:6379)",
  );
  printReport(redisRawFigures(await runIsolated(redisRawVariants(args.count), args)), args);
}

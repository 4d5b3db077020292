/**
 * Scanner throughput and latency: the three analyzers together over generated traffic, through Redis and
 * in memory, next to the raw Redis XREADGROUP+XACK ceiling measured in the same run; and produce→alert
 * p50/p99 at a steady 5,000 events/s for a minute, through Redis with and without checkpoints (target p99 < 50 ms),
 * with each analyzer's p99 and the main thread's stalls beside the volatile run's. Throughput with durable analyzer state (the
 * default) and without (volatile), as a ratio of events/s and of events per CPU-second (every thread of the
 * process and the Redis server): what checkpoints cost. With the mint analyzer in 1 and in 8 partitions
 * (TROUPE_PARTITIONS) against none: what the keyed layout costs. Every variant in a fresh process,
 * median of --rounds. Note the ratio to the raw loop: each event is read and acked by three groups.
 *
 *   bun bench/scanner.ts [--json] [--rounds 3] [--count 300000]   (timed events, after 100,000 of warm-up)
 *
 * `--count N` bounds every variant, for a quick run: N timed events after min(100,000, N) of warm-up, N
 * entries of the raw loop, and N events of produce→alert traffic (N / 5,000 s) instead of a minute's.
 */
import { BENCH as REDIS, METRICS as REDIS_METRICS, redisRawVariants } from "./ceilings/redis-raw.ts";
import { figure, parseBenchArgs, printReport } from "./lib/report.ts";
import { runIsolated, variant } from "./lib/run-isolated.ts";
import { BENCH } from "./scanner/pipeline.ts";

const USAGE = `usage: bun bench/scanner.ts [--json] [--rounds 3] [--count 300000]   (timed events, after 100,000 of warm-up)

  --count N  N timed events after min(100,000, N) of warm-up, N entries of the raw loop, and N events
             of produce→alert traffic (N / 5,000 s instead of a minute)`;
const WARMUP = 100_000;
const RATE = 5000;

const args = parseBenchArgs(USAGE);
const pipeline = new URL("./scanner/pipeline.ts", import.meta.url);
/** Count and warm-up of the throughput variants: their defaults unless --count is given. */
const count = args.count === undefined ? [] : [args.count, Math.min(WARMUP, args.count)];
/** Rate and seconds of the produce→alert variants: a minute unless --count bounds the traffic. */
const traffic = args.count === undefined ? [] : [RATE, args.count / RATE];
/** The keyed layout's variants: count and warm-up spelled out, then the partitions. */
const keyed = (partitions: number) =>
  variant(
    pipeline,
    "scannerThroughput",
    "redis",
    "durable",
    args.count ?? 300_000,
    Math.min(WARMUP, args.count ?? WARMUP),
    partitions,
  );
const results = await runIsolated(
  [
    ...redisRawVariants(args.count),
    variant(pipeline, "scannerThroughput", "redis", "durable", ...count),
    variant(pipeline, "scannerThroughput", "redis", "volatile", ...count),
    keyed(1),
    keyed(8),
    variant(pipeline, "scannerThroughput", "memory", "durable", ...count),
    variant(pipeline, "scannerThroughput", "memory", "volatile", ...count),
    variant(pipeline, "produceToAlert", "redis", "durable", ...traffic),
    variant(pipeline, "produceToAlert", "redis", "volatile", ...traffic),
    variant(pipeline, "produceToAlert", "memory", "durable", ...traffic),
  ],
  { ...args, timeoutMs: 600_000 },
);
const raw = results.get(REDIS, REDIS_METRICS.readAck);
const target = (metric: string, value: number, unit: string) => ({ bench: BENCH, metric, value, unit });
const redis = results.get(BENCH, "three analyzers, redis, durable");
const memory = results.get(BENCH, "three analyzers, memory, durable");
printReport(
  [
    figure(raw),
    figure(redis, { ...raw, unit: "events/s" }),
    // Durable state's cost: the same run without checkpoints (issue 13: >= 0.9x, goal 0.95x).
    figure(redis, results.get(BENCH, "three analyzers, redis, volatile")),
    figure(memory, results.get(BENCH, "three analyzers, memory, volatile")),
    // The same as a cost (this process's threads and the Redis server): what a loaded box distorts less.
    figure(
      results.get(BENCH, "three analyzers, redis, durable, per CPU-second"),
      results.get(BENCH, "three analyzers, redis, volatile, per CPU-second"),
    ),
    figure(
      results.get(BENCH, "three analyzers, memory, durable, per CPU-second"),
      results.get(BENCH, "three analyzers, memory, volatile, per CPU-second"),
    ),
    // The keyed layout's cost (issue 14): the mint analyzer on a keyed copy of the stream (and no pattern
    // analyzer), against none; and
    // 8 partitions against 1, in one process (what partitioning itself costs).
    ...["", ", per CPU-second"].flatMap((per) => [
      figure(
        results.get(BENCH, `wallet stage + sybil + mint analyzer, 1 partition, redis, durable${per}`),
        results.get(BENCH, `three analyzers, redis, durable${per}`),
      ),
      figure(
        results.get(BENCH, `wallet stage + sybil + mint analyzer, 8 partitions, redis, durable${per}`),
        results.get(BENCH, `wallet stage + sybil + mint analyzer, 1 partition, redis, durable${per}`),
      ),
    ]),
    figure(redis, target("target (issue 6)", 20_000, "events/s")),
    figure(memory, target("target (issue 6)", 50_000, "events/s")),
    figure(results.get(BENCH, "produce→alert at 5000/s, redis p50")),
    figure(results.get(BENCH, "produce→alert at 5000/s, redis p99"), target("target p99", 50, "ms")),
    // What checkpoints add to it: the same traffic without them.
    figure(
      results.get(BENCH, "produce→alert at 5000/s, redis p99"),
      results.get(BENCH, "produce→alert at 5000/s, redis, volatile p99"),
    ),
    // Where the tail comes from: each analyzer's alerts, and the main thread's stalls, beside volatile's.
    ...analyzersWithAlerts().map((analyzer) =>
      figure(
        results.get(BENCH, `produce→alert at 5000/s, redis, ${analyzer} p99`),
        results.get(BENCH, `produce→alert at 5000/s, redis, volatile, ${analyzer} p99`),
      ),
    ),
    figure(
      results.get(BENCH, "produce→alert at 5000/s, redis, main thread stalled > 15 ms"),
      results.get(BENCH, "produce→alert at 5000/s, redis, volatile, main thread stalled > 15 ms"),
    ),
    figure(results.get(BENCH, "produce→alert at 5000/s, memory p50")),
    figure(results.get(BENCH, "produce→alert at 5000/s, memory p99"), target("target p99", 50, "ms")),
  ],
  args,
);

/**
 * The analyzers whose alerts both produce→alert runs timed. A minute of traffic times each one's; a --count
 * smoke run's few seconds may time none of one (a full run without them fails in `results.get`).
 */
function analyzersWithAlerts(): string[] {
  return ["wallet", "pattern", "sybil"].filter(
    (analyzer) =>
      args.count === undefined ||
      ["", ", volatile"].every((volatile) =>
        results.has(BENCH, `produce→alert at 5000/s, redis${volatile}, ${analyzer} p99`),
      ),
  );
}

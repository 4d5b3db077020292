/**
 * End to end: stream entries through the pump into a no-op actor and acked, next to the raw limits measured
 * in the same run. Figures:
 * - throughput from a pre-filled stream (100,000 small msgpackr entries in field `d`): pump → no-op actor →
 *   XACK on Redis, against (a) the raw ioredis XREADGROUP COUNT 512 + XACK loop (bench/ceilings/redis-raw.ts;
 *   target ≥ 0.7×) and (b) BullMQ no-op jobs at its best concurrency of 1 / 10 / 100 (bench/ceilings/bullmq.ts,
 *   10,000 jobs; target ≥ 5×); the same pump with the default options, to show what the tuning buys; and the
 *   in-memory backend against its own raw read + ack loop;
 * - produce → ack latency p50 / p99 at a steady 5,000 entries/s on Redis and in memory, against a raw
 *   produce → read → ack loop at the same rate;
 * - recovery: from a worker killing itself under full load to every entry the process held being acked again
 *   (target < 1 s), on Redis and in memory.
 * The pump options the bench uses are in `TUNED` (and in the metric names). Every variant runs in a fresh
 * process; the median of the rounds is reported.
 *
 *   bun bench/e2e.ts [--json] [--rounds 3] [--count N]
 *
 * `--count N` sets the entries of the throughput variants (BullMQ keeps its 10,000 jobs, latency runs 5 s,
 * recovery crashes at 60% of 50,000 entries). Redis: REDIS_URL or 127.0.0.1:6379, keys under
 * `troupe-bench:<uuid>`, deleted after.
 */
import {
  BENCH as BULLMQ,
  METRICS as BULLMQ_METRICS,
  bullmqBest,
  bullmqVariants,
  CONCURRENCIES,
} from "./ceilings/bullmq.ts";
import { BENCH as REDIS, METRICS as REDIS_METRICS, redisRawVariants } from "./ceilings/redis-raw.ts";
import { BENCH, type Tuning } from "./e2e/harness.ts";
import { METRICS as LATENCY } from "./e2e/latency.ts";
import { METRICS as RECOVERY } from "./e2e/recovery.ts";
import { METRICS as THROUGHPUT } from "./e2e/throughput.ts";
import { figure, type Measurement, parseBenchArgs, printReport } from "./lib/report.ts";
import { runIsolated, variant } from "./lib/run-isolated.ts";

/** `maxBatch` and the mailbox as `Pump` and `spawn` default them. */
const DEFAULTS: Tuning = { maxBatch: 512, instances: 1, capacity: 1024 };
/**
 * The tuned pump, chosen with bench/e2e/tune.ts. One instance: the main thread (read, decode, route, commit)
 * is the limit, and a second worker only takes CPU from it on two cores. A mailbox of 8 reads: entries
 * waiting for their XACK still count against the credits, so with the default 2 reads the next read waits
 * for the previous ack round trip and the worker idles. Spread into variant arguments (`{ ...TUNED }`):
 * an interface is not assignable to the JSON type they are sent as.
 */
const TUNED: Tuning = { maxBatch: 512, instances: 1, capacity: 4096 };
/** The tuned pump handing payload bytes to the worker (rawPayloadCodec): no decoding on the main thread. */
const RAW: Tuning = { ...TUNED, payload: "raw" };
const RATE = 5000;
/** The recovery target, as a baseline so the ratio reads "times faster than required". */
const RECOVERY_TARGET: Measurement = { bench: BENCH, metric: "target", value: 1000, unit: "ms" };

const USAGE = `usage: bun bench/e2e.ts [--json] [--rounds 3] [--count N]

  --count N  the entries of the throughput variants (BullMQ keeps its 10,000 jobs, latency runs 5 s,
             recovery crashes at 60% of 50,000 entries)`;

const args = parseBenchArgs(USAGE);
const count = args.count === undefined ? [] : [args.count];
const throughputModule = new URL("./e2e/throughput.ts", import.meta.url);
const latencyModule = new URL("./e2e/latency.ts", import.meta.url);
const recoveryModule = new URL("./e2e/recovery.ts", import.meta.url);

const results = await runIsolated(
  [
    ...redisRawVariants(args.count),
    ...bullmqVariants(),
    variant(throughputModule, "pumpThroughput", "redis", { ...TUNED }, ...count),
    variant(throughputModule, "pumpThroughput", "redis", { ...RAW }, ...count),
    variant(throughputModule, "pumpThroughput", "redis", { ...DEFAULTS }, ...count),
    variant(throughputModule, "memoryReadAck", ...count),
    variant(throughputModule, "pumpThroughput", "memory", { ...TUNED }, ...count),
    variant(throughputModule, "pumpThroughput", "memory", { ...RAW }, ...count),
    variant(latencyModule, "rawLatency", "redis", RATE),
    variant(latencyModule, "pumpLatency", "redis", { ...TUNED }, RATE),
    variant(latencyModule, "rawLatency", "memory", RATE),
    variant(latencyModule, "pumpLatency", "memory", { ...TUNED }, RATE),
    variant(recoveryModule, "crashRecovery", "redis", { ...TUNED }),
    variant(recoveryModule, "crashRecovery", "memory", { ...TUNED }),
  ],
  args,
);

const raw = results.get(REDIS, REDIS_METRICS.readAck);
const bullmq = bullmqBest(results);
const redisPump = results.get(BENCH, THROUGHPUT.pump("redis", TUNED));
const memoryRaw = results.get(BENCH, THROUGHPUT.memoryReadAck);
const latency = (kind: "redis" | "memory", p: 50 | 99) =>
  figure(
    results.get(BENCH, `${LATENCY.pump(kind, RATE)} p${p}`),
    results.get(BENCH, `${LATENCY.raw(kind, RATE)} p${p}`),
  );
printReport(
  [
    figure(raw),
    ...CONCURRENCIES.map((c) => figure(results.get(BULLMQ, BULLMQ_METRICS.jobs(c)))),
    figure(redisPump, raw),
    figure(redisPump, bullmq),
    figure(results.get(BENCH, THROUGHPUT.pump("redis", RAW)), raw),
    figure(results.get(BENCH, THROUGHPUT.pump("redis", RAW)), bullmq),
    figure(results.get(BENCH, THROUGHPUT.pump("redis", DEFAULTS)), raw),
    figure(memoryRaw),
    figure(results.get(BENCH, THROUGHPUT.pump("memory", TUNED)), memoryRaw),
    figure(results.get(BENCH, THROUGHPUT.pump("memory", RAW)), memoryRaw),
    latency("redis", 50),
    latency("redis", 99),
    latency("memory", 50),
    latency("memory", 99),
    ...(["redis", "memory"] as const).flatMap((kind) => [
      figure(results.get(BENCH, RECOVERY.recovered(kind)), RECOVERY_TARGET),
      figure(results.get(BENCH, RECOVERY.restarted(kind))),
      figure(results.get(BENCH, RECOVERY.held(kind))),
    ]),
  ],
  args,
);

/**
 * The mint partitions of a process on a shared ThreadPool (`TROUPE_PARTITION_THREADS`: the cores, here at
 * most 8 so that the two differ) against a thread each (the layout before the pool): the whole scanner through Redis, durable, keyed in 16
 * partitions, over one generated workload (bench/scanner/pipeline.ts). Reports events/s, events per
 * CPU-second (every thread of the process and the Redis server) and the process's max RSS, each with the
 * pool against a thread each; for the RSS the ratio is pool / a thread each (lower is better). Each variant
 * in a fresh process, the rounds alternating, medians.
 *
 *   bun bench/partition-threads.ts [--json] [--rounds 3] [--count 200000]
 */
import { type Figure, figure, parseBenchArgs, printReport } from "./lib/report.ts";
import { runIsolated, variant } from "./lib/run-isolated.ts";

const BENCH = "scanner";
const PARTITIONS = 16;
const WARMUP = 50_000;
const PIPELINE = new URL("./scanner/pipeline.ts", import.meta.url);

const args = parseBenchArgs("usage: bun bench/partition-threads.ts [--json] [--rounds 3] [--count 200000]");
const count = args.count ?? 200_000;
/** No longer than the timed events, so that a --count smoke run stays short (the default count keeps it all). */
const warmup = Math.min(WARMUP, count);
const cores = Math.min(navigator.hardwareConcurrency, PARTITIONS / 2);
const metric = (threads: number) =>
  `wallet stage + sybil + mint analyzer, ${PARTITIONS} partitions on ${threads} thread${threads === 1 ? "" : "s"}, redis, durable`;
const results = await runIsolated(
  [PARTITIONS, cores].map((threads) =>
    variant(PIPELINE, "scannerThroughput", "redis", "durable", count, warmup, PARTITIONS, threads),
  ),
  { rounds: args.rounds, timeoutMs: 600_000 },
);
const get = (threads: number, suffix = "") => results.get(BENCH, `${metric(threads)}${suffix}`);
const figures: Figure[] = ["", ", per CPU-second", ", max RSS"].map((suffix) =>
  figure(get(cores, suffix), get(PARTITIONS, suffix)),
);
printReport(figures, { json: args.json });

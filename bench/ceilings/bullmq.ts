/**
 * BullMQ ceiling: how fast BullMQ processes no-op jobs, the job-queue alternative Troupe's stream pump
 * must beat (issue 4 asks for ≥ 5× BullMQ at its best concurrency). For each concurrency (1, 10, 100) in its
 * own process: addBulk N jobs (default 10,000; timed and reported as well), then a Worker with that
 * concurrency and a no-op processor, timed from its start until the N-th `completed` event. Jobs are
 * removed on completion, as a throughput-minded user would configure them. The best concurrency is
 * reported too, and addBulk as the median over all runs. Keys live under the BullMQ prefix `troupe-bench:<uuid>` and are deleted after.
 *
 * N defaults to 10,000 rather than the raw loop's 100,000 so that concurrency 1 (~3k jobs/s) stays a few
 * seconds; the rate does not depend on N once warm. `--count 100000` runs the raw loop's count.
 *
 * Run: `bun bench/ceilings/bullmq.ts [--json] [--rounds 3] [--count N]` (REDIS_URL or 127.0.0.1:6379).
 */
import { Queue, Worker } from "bullmq";
import { stopwatch, throughput, warmThenTime } from "../lib/measure.ts";
import { trade } from "../lib/payload.ts";
import { connect, withBenchRedis } from "../lib/redis.ts";
import { type Figure, figure, type Measurement, parseBenchArgs, printReport } from "../lib/report.ts";
import { type Results, runIsolated, type Variant, variant } from "../lib/run-isolated.ts";

export const BENCH = "bullmq";
export const CONCURRENCIES = [1, 10, 100] as const;
export const METRICS = {
  jobs: (concurrency: number) => `no-op jobs, concurrency ${concurrency}`,
  best: "no-op jobs, best concurrency",
  /** The same name from every concurrency: the median then spans all of their runs. */
  addBulk: "addBulk",
} as const;

/** No-op jobs/s with `concurrency`, and the addBulk jobs/s of the same run. */
export async function bullmqNoop(count = 10_000, concurrency = 10): Promise<Measurement[]> {
  return withBenchRedis(async (_redis, prefix) => {
    // BullMQ requires maxRetriesPerRequest: null on the connections its workers block on.
    const connection = connect({ maxRetriesPerRequest: null });
    const queue = new Queue("noop", { connection, prefix });
    let addMs = 0;
    try {
      const processMs = await warmThenTime(count, async (n) => {
        const worker = new Worker("noop", async () => {}, {
          connection,
          prefix,
          concurrency,
          autorun: false,
        });
        try {
          await worker.waitUntilReady();
          const jobs = Array.from({ length: n }, (_, i) => ({
            name: "trade",
            data: trade(i),
            opts: { removeOnComplete: true },
          }));
          const addTime = stopwatch();
          await queue.addBulk(jobs);
          addMs = addTime();
          let completed = 0;
          const allDone = new Promise<void>((resolve) => {
            worker.on("completed", () => {
              if (++completed === n) resolve();
            });
          });
          const time = stopwatch();
          void worker.run();
          await allDone;
          return time();
        } finally {
          await worker.close();
        }
      });
      return [
        throughput(BENCH, METRICS.jobs(concurrency), count, processMs, "jobs/s"),
        throughput(BENCH, METRICS.addBulk, count, addMs, "jobs/s"),
      ];
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
}

export function bullmqVariants(count?: number): Variant[] {
  return CONCURRENCIES.map((c) => variant(import.meta.url, "bullmqNoop", count ?? 10_000, c));
}

/** The best concurrency's rate, as a measurement of its own for other benches to compare with. */
export function bullmqBest(results: Results): Measurement {
  const best = CONCURRENCIES.map((c) => results.get(BENCH, METRICS.jobs(c))).reduce((a, b) =>
    b.value > a.value ? b : a,
  );
  return { ...best, metric: METRICS.best };
}

/** Each concurrency, the best compared with `baseline` if given (the raw loop), and addBulk. */
export function bullmqFigures(results: Results, baseline?: Measurement): Figure[] {
  const best = bullmqBest(results);
  return [
    ...CONCURRENCIES.map((c) => figure(results.get(BENCH, METRICS.jobs(c)))),
    figure(best, baseline),
    figure(results.get(BENCH, METRICS.addBulk)),
  ];
}

if (import.meta.main) {
  const args = parseBenchArgs(
    "usage: bun bench/ceilings/bullmq.ts [--json] [--rounds 3] [--count N]   (REDIS_URL or 127.0.0.1:6379)",
  );
  printReport(bullmqFigures(await runIsolated(bullmqVariants(args.count), args)), args);
}

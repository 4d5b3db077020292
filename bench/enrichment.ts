/**
 * Token enrichment (issue 15, the seed's TaskPoolManager): per token, 4 HTTP checks at once against the
 * example's API server (its own process, `--latency` ms per answer, default 50). Throughput over a backlog
 * of `--count` tokens (default 2,000):
 *   - Troupe: the enrichment example (stream → pump → 2 workers × 20 tokens in progress → scores stream);
 *   - a plain single-thread promise pool with as many tokens in flight (40), the same calls, no stream: the
 *     ceiling of I/O-bound work in one process;
 *   - BullMQ (Redis on REDIS_URL, keys under `t15:bench:<uuid>`, deleted after) with the same processor, at
 *     concurrencies 20, 40 and 100, the best one reported;
 *   - Troupe and the plain pool again with 100 tokens in flight (2 × 50), BullMQ's best concurrency: with
 *     awaited I/O, throughput is tokens in flight / latency, so only equal numbers in flight compare the
 *     runtimes rather than their settings. (Bun's fetch keeps at most 256 requests open per process, so
 *     100 tokens × 4 checks are capped at 64 tokens' worth for every contender alike.)
 * And the time per token (append → score written, p50 / p99) at the seed's upper target, 100 tokens/s for
 * 5 s, Troupe next to the plain pool. Every variant runs in a fresh process; medians of `--rounds`.
 *
 *   bun bench/enrichment.ts [--json] [--rounds 3] [--count N]
 */
import { randomUUID } from "node:crypto";
import { Queue, Worker } from "bullmq";
import { CHECKS, enrichToken } from "../examples/enrichment/checks.ts";
import type { EnricherInit, NewMint } from "../examples/enrichment/enricher.actor.ts";
import { enrichMints } from "../examples/enrichment/main.ts";
import { createSystem } from "../src/index.ts";
import { defaultCodec, MemoryStreamBackend, Pump } from "../src/streams/index.ts";
import { stopwatch, throughput } from "./lib/measure.ts";
import { connect, deleteByPrefix } from "./lib/redis.ts";
import { figure, type Measurement, parseBenchArgs, printReport } from "./lib/report.ts";
import { runIsolated, variant } from "./lib/run-isolated.ts";

const BENCH = "enrichment";
const LATENCY_MS = 50;
const INSTANCES = 2;
const POOL = 20;
const IN_FLIGHT = INSTANCES * POOL;
const BULLMQ_CONCURRENCIES = [20, 40, 100] as const;
const RATE = 100;
const RATE_SECONDS = 5;
const ENRICHER = new URL("../examples/enrichment/enricher.actor.ts", import.meta.url);
const API_SERVER = new URL("../examples/enrichment/api-server.ts", import.meta.url);

const WIDE_POOL = 50;
const WIDE_IN_FLIGHT = INSTANCES * WIDE_POOL;

const METRICS = {
  troupe: (pool: number) => `troupe ${INSTANCES}×${pool}`,
  pool: (limit: number) => `plain promise pool ${limit}`,
  bullmq: (concurrency: number) => `bullmq concurrency ${concurrency}`,
  bullmqBest: "bullmq best concurrency",
  seed: "seed target",
  troupeLatency: `troupe per token at ${RATE}/s`,
  poolLatency: `plain pool per token at ${RATE}/s`,
} as const;

/** The API server in a process of its own, so that its work is nobody's overhead; stopped by `use`'s end. */
async function withApiServer<T>(use: (url: string) => Promise<T>): Promise<T> {
  const child = Bun.spawn([process.execPath, Bun.fileURLToPath(API_SERVER), String(LATENCY_MS)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  try {
    const reader = child.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the API server exited before printing its URL");
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    return await use(text.trim());
  } finally {
    child.kill();
    await child.exited;
  }
}

function mints(count: number, run: string): string[] {
  return Array.from({ length: count }, (_, i) => `${run}-${i}`);
}

/** Troupe: the enrichment example over a backlog of `count` tokens, `pool` in progress per worker. */
export async function troupeTokens(count: number, pool: number): Promise<Measurement> {
  return withApiServer(async (apiUrl) => {
    const options = { apiUrl, instances: INSTANCES, concurrency: pool };
    await enrichMints(mints(200, "warm"), options);
    const run = await enrichMints(mints(count, "t"), options);
    if (run.scores.length !== count) throw new Error(`troupe scored ${run.scores.length} of ${count}`);
    return throughput(BENCH, METRICS.troupe(pool), count, run.elapsedMs, "tokens/s");
  });
}

/** `limit` tokens in flight on one thread, each as soon as a slot is free: the I/O-bound ceiling. */
async function promisePool(apiUrl: string, tokens: readonly string[], limit: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < tokens.length) await enrichToken(apiUrl, CHECKS, tokens[next++] as string);
  };
  await Promise.all(Array.from({ length: limit }, lane));
}

export async function poolTokens(count: number, limit: number): Promise<Measurement> {
  return withApiServer(async (apiUrl) => {
    await promisePool(apiUrl, mints(200, "warm"), limit);
    const time = stopwatch();
    await promisePool(apiUrl, mints(count, "p"), limit);
    return throughput(BENCH, METRICS.pool(limit), count, time(), "tokens/s");
  });
}

/** BullMQ with the same processor: addBulk the backlog, then a Worker of `concurrency` until all completed. */
export async function bullmqTokens(count: number, concurrency: number): Promise<Measurement> {
  return withApiServer(async (apiUrl) => {
    const redis = connect();
    const prefix = `t15:bench:${randomUUID()}`;
    // BullMQ requires maxRetriesPerRequest: null on the connections its workers block on.
    const connection = connect({ maxRetriesPerRequest: null });
    const queue = new Queue("enrich", { connection, prefix });
    try {
      const worker = new Worker("enrich", (job) => enrichToken(apiUrl, CHECKS, job.data.mint as string), {
        connection,
        prefix,
        concurrency,
        autorun: false,
      });
      await worker.waitUntilReady();
      await queue.addBulk(
        mints(count, "b").map((mint) => ({
          name: "token",
          data: { mint },
          opts: { removeOnComplete: true },
        })),
      );
      let completed = 0;
      const allDone = new Promise<void>((resolve, reject) => {
        worker.on("completed", () => {
          if (++completed === count) resolve();
        });
        worker.on("failed", (_job, error) => reject(error));
      });
      const time = stopwatch();
      void worker.run();
      await allDone;
      const elapsed = time();
      await worker.close();
      return throughput(BENCH, METRICS.bullmq(concurrency), count, elapsed, "tokens/s");
    } finally {
      await queue.close();
      connection.disconnect();
      await deleteByPrefix(redis, prefix);
      redis.disconnect();
    }
  });
}

/** Appends one token every 1/RATE s for RATE_SECONDS, calling `arrived` with each token's index. */
async function paced(arrive: (index: number) => void): Promise<number> {
  const total = RATE * RATE_SECONDS;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    arrive(i);
  }
  return total;
}

function percentileMs(bench: string, metric: string, values: number[]): Measurement[] {
  values.sort((a, b) => a - b);
  return [50, 99].map((p) => ({
    bench,
    metric: `${metric} p${p}`,
    value: values[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] as number,
    unit: "ms",
  }));
}

/** Troupe at RATE tokens/s: from the append of a token to its score written and its entry acked. */
export async function troupeLatency(): Promise<Measurement[]> {
  return withApiServer(async (apiUrl) => {
    const backend = new MemoryStreamBackend();
    const system = createSystem();
    const init: EnricherInit = { apiUrl, checks: CHECKS };
    const ref = await system.spawn<NewMint>(ENRICHER, {
      instances: INSTANCES,
      concurrency: POOL,
      capacity: 256,
      route: (event) => event.mint,
      messageTimeoutMs: 15_000,
      init,
    });
    const pump = new Pump(backend, ref, { stream: "new-mints", group: "enricher" });
    await pump.start();
    const appendedAt = new Map<string, number>();
    const latencies: number[] = [];
    const done = Promise.withResolvers<void>();
    const total = RATE * RATE_SECONDS;
    pump.on("acked", ({ ids }) => {
      const now = performance.now();
      for (const id of ids) latencies.push(now - (appendedAt.get(id) as number));
      if (latencies.length >= total) done.resolve();
    });
    await paced((i) => {
      const at = performance.now();
      void backend.append("new-mints", defaultCodec.encode({ mint: `l-${i}` })).then((id) => {
        appendedAt.set(id, at);
      });
    });
    await done.promise;
    await pump.stop();
    await system.stop();
    return percentileMs(BENCH, METRICS.troupeLatency, latencies);
  });
}

export async function poolLatency(): Promise<Measurement[]> {
  return withApiServer(async (apiUrl) => {
    const latencies: number[] = [];
    const pending: Promise<void>[] = [];
    const waiting: Array<() => void> = [];
    let inFlight = 0;
    await paced((i) => {
      const at = performance.now();
      pending.push(
        (async () => {
          if (inFlight >= IN_FLIGHT) await new Promise<void>((resolve) => waiting.push(resolve));
          inFlight++;
          await enrichToken(apiUrl, CHECKS, `l-${i}`);
          inFlight--;
          waiting.shift()?.();
          latencies.push(performance.now() - at);
        })(),
      );
    });
    await Promise.all(pending);
    return percentileMs(BENCH, METRICS.poolLatency, latencies);
  });
}

if (import.meta.main) {
  const args = parseBenchArgs("usage: bun bench/enrichment.ts [--json] [--rounds 3] [--count N]");
  const count = args.count ?? 2_000;
  const results = await runIsolated(
    [
      variant(import.meta.url, "troupeTokens", count, POOL),
      variant(import.meta.url, "poolTokens", count, IN_FLIGHT),
      ...BULLMQ_CONCURRENCIES.map((c) => variant(import.meta.url, "bullmqTokens", count, c)),
      variant(import.meta.url, "troupeTokens", count, WIDE_POOL),
      variant(import.meta.url, "poolTokens", count, WIDE_IN_FLIGHT),
      variant(import.meta.url, "troupeLatency"),
      variant(import.meta.url, "poolLatency"),
    ],
    args,
  );
  const troupe = results.get(BENCH, METRICS.troupe(POOL));
  const pool = results.get(BENCH, METRICS.pool(IN_FLIGHT));
  const wideTroupe = results.get(BENCH, METRICS.troupe(WIDE_POOL));
  const widePool = results.get(BENCH, METRICS.pool(WIDE_IN_FLIGHT));
  const bullmq = BULLMQ_CONCURRENCIES.map((c) => results.get(BENCH, METRICS.bullmq(c)));
  const sameInFlight = results.get(BENCH, METRICS.bullmq(IN_FLIGHT));
  const best = bullmq.reduce((a, b) => (b.value > a.value ? b : a));
  const bestNamed = { ...best, metric: `${METRICS.bullmqBest} (${best.metric})` };
  const seedTarget: Measurement = { bench: BENCH, metric: METRICS.seed, value: 100, unit: "tokens/s" };
  printReport(
    [
      figure(pool),
      figure(widePool),
      ...bullmq.map((m) => figure(m)),
      figure(troupe, pool),
      figure(troupe, sameInFlight),
      figure(troupe, bestNamed),
      figure(troupe, seedTarget),
      figure(wideTroupe, widePool),
      figure(wideTroupe, bestNamed),
      figure(
        results.get(BENCH, `${METRICS.troupeLatency} p50`),
        results.get(BENCH, `${METRICS.poolLatency} p50`),
      ),
      figure(
        results.get(BENCH, `${METRICS.troupeLatency} p99`),
        results.get(BENCH, `${METRICS.poolLatency} p99`),
      ),
    ],
    args,
  );
}

/**
 * The sweep that chose bench/e2e.ts's pump options: Redis pump → no-op actor throughput for a grid of
 * `maxBatch`, `instances` and mailbox `capacity`, next to the raw XREADGROUP + XACK loop, every variant in a
 * fresh process, rounds interleaved, medians printed. Differences under ~15% are noise on a shared machine:
 * use 5 rounds or more.
 *
 *   bun bench/e2e/tune.ts [--json] [--rounds 5] [--count N]
 */
import { BENCH as REDIS, METRICS as REDIS_METRICS, redisRawVariants } from "../ceilings/redis-raw.ts";
import { figure, parseBenchArgs, printReport } from "../lib/report.ts";
import { runIsolated, variant } from "../lib/run-isolated.ts";
import { BENCH, type Tuning } from "./harness.ts";
import { METRICS } from "./throughput.ts";

const GRID: Tuning[] = [
  { maxBatch: 512, instances: 1, capacity: 1024 },
  { maxBatch: 256, instances: 1, capacity: 2048 },
  { maxBatch: 512, instances: 1, capacity: 2048 },
  { maxBatch: 256, instances: 1, capacity: 4096 },
  { maxBatch: 512, instances: 1, capacity: 4096 },
  { maxBatch: 1024, instances: 1, capacity: 8192 },
  { maxBatch: 512, instances: 2, capacity: 4096 },
];

const args = parseBenchArgs("usage: bun bench/e2e/tune.ts [--json] [--rounds 5] [--count N]");
const count = args.count === undefined ? [] : [args.count];
const throughputModule = new URL("./throughput.ts", import.meta.url);
const results = await runIsolated(
  [
    ...redisRawVariants(args.count),
    ...GRID.map((tuning) => variant(throughputModule, "pumpThroughput", "redis", { ...tuning }, ...count)),
  ],
  args,
);
const raw = results.get(REDIS, REDIS_METRICS.readAck);
printReport(
  [figure(raw), ...GRID.map((tuning) => figure(results.get(BENCH, METRICS.pump("redis", tuning)), raw))],
  args,
);

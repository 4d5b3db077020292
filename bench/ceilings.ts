/**
 * All raw ceilings, measured with no Troupe runtime: the worker link (postMessage per object, batched
 * msgpackr frames, shared ring, ping-pong), raw Redis Streams (XREADGROUP + XACK, pipelined XADD) and BullMQ
 * no-op jobs. Each variant runs in a fresh process, rounds interleaved; the medians are printed as a table,
 * or as JSON lines with `--json`. See bench/ceilings/README.md.
 *
 * Run: `bun bench/ceilings.ts [--json] [--rounds 3] [--count N]` (Redis: REDIS_URL or 127.0.0.1:6379).
 */
import { bullmqFigures, bullmqVariants } from "./ceilings/bullmq.ts";
import {
  BENCH as REDIS,
  METRICS as REDIS_METRICS,
  redisRawFigures,
  redisRawVariants,
} from "./ceilings/redis-raw.ts";
import { workerLinkFigures, workerLinkVariants } from "./ceilings/worker-link.ts";
import { parseBenchArgs, printReport } from "./lib/report.ts";
import { runIsolated } from "./lib/run-isolated.ts";

const USAGE =
  "usage: bun bench/ceilings.ts [--json] [--rounds 3] [--count N]   (Redis: REDIS_URL or 127.0.0.1:6379)";

const args = parseBenchArgs(USAGE);
const results = await runIsolated(
  [...workerLinkVariants(args.count), ...redisRawVariants(args.count), ...bullmqVariants(args.count)],
  args,
);
printReport(
  [
    ...workerLinkFigures(results),
    ...redisRawFigures(results),
    ...bullmqFigures(results, results.get(REDIS, REDIS_METRICS.readAck)),
  ],
  args,
);

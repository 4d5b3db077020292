/**
 * `bun run eval`: scores the detectors through the full pipeline.
 *
 *   bun run eval [--seed 1] [--hours 10] [--scale 1] [--json]          a generated workload (≥ 1M events at 10 h)
 *   bun run eval --events FILE.jsonl --truth TRUTH.jsonl [--json]       a recorded workload and its truth file
 *
 * In memory by default; with REDIS_URL through Redis (its keys are removed afterwards).
 */
import { numberFlag, parseCommandLine, usageError } from "../command-line.ts";
import { type TruthRecord, truthFromJsonl } from "../ingest/truth.ts";
import { checkRedisReachable } from "../scanner/redis-reachable.ts";
import type { StreamBackend } from "../streams/backend.ts";
import { MemoryStreamBackend } from "../streams/memory-backend.ts";
import { RedisStreamBackend } from "../streams/redis-backend.ts";
import { type EvalWorkload, evaluate } from "./evaluate.ts";
import { formatScorecard } from "./run-inline.ts";

const USAGE = `usage: bun run eval [--seed N] [--hours H] [--scale S] [--json]
       bun run eval --events FILE.jsonl --truth TRUTH.jsonl [--json]

  --seed     seed of the generated workload (default 1)
  --hours    event-time length of the generated workload (default 10)
  --scale    multiplies the organic launch rate (default 1)
  --events   a recorded workload (JSONL), with --truth its ground truth (JSONL)
  --json     one JSON line per detector and one for the throughput
  -h, --help this text

environment: REDIS_URL (unset: in memory)`;

function fail(message: string): never {
  return usageError(USAGE, message);
}

const values = parseCommandLine(USAGE, {
  seed: { type: "string" },
  hours: { type: "string" },
  scale: { type: "string" },
  events: { type: "string" },
  truth: { type: "string" },
  json: { type: "boolean", default: false },
});
let workload: EvalWorkload;
if (values.events || values.truth) {
  if (!values.events || !values.truth) fail("--events and --truth go together");
  const generated = (["seed", "hours", "scale"] as const).filter((flag) => values[flag] !== undefined);
  if (generated.length > 0)
    fail(`${generated.map((flag) => `--${flag}`).join(", ")}: for a generated workload, not with --events`);
  for (const file of [values.events, values.truth])
    if (!(await Bun.file(file).exists())) fail(`no such file: ${file}`);
  let truth: TruthRecord[] = [];
  try {
    truth = truthFromJsonl(await Bun.file(values.truth).text());
  } catch (error) {
    fail(`${values.truth}: ${(error as Error).message}`);
  }
  workload = { kind: "file", events: values.events, truth };
} else {
  workload = {
    kind: "generated",
    seed: numberFlag(USAGE, "seed", values.seed ?? "1", { atLeast: 0 }, true),
    hours: numberFlag(USAGE, "hours", values.hours ?? "10", { atLeast: 0.01 }),
    scale: numberFlag(USAGE, "scale", values.scale ?? "1", { atLeast: 0.01 }),
  };
}

const redisUrl = process.env.REDIS_URL;
if (redisUrl) {
  // Named at once (host, port, why) rather than a command timing out later.
  await checkRedisReachable(redisUrl).catch((error: Error) => {
    console.error(error.message);
    process.exit(1);
  });
}
const backend: StreamBackend = redisUrl ? new RedisStreamBackend(redisUrl) : new MemoryStreamBackend();
const prefix = `troupe-eval:${crypto.randomUUID()}:`;
const result = await evaluate(backend, workload, prefix);
if (redisUrl) await removeKeys(redisUrl, prefix);
await backend.close();

const label =
  workload.kind === "generated"
    ? `seed ${workload.seed}, ${workload.hours} h, scale ${workload.scale}`
    : workload.events;
if (values.json) {
  const bench = "eval";
  for (const d of result.scorecard.detectors) {
    console.log(JSON.stringify({ bench, workload: label, ...d }));
  }
  console.log(
    JSON.stringify({
      bench,
      metric: "events/s",
      value: result.eventsPerSecond,
      unit: "events/s",
      baseline: null,
      baseline_value: null,
      ratio: null,
      events: result.events,
      alerts: result.alerts,
    }),
  );
} else {
  console.log(
    `${label}: ${result.events.toLocaleString("en")} events, ${result.mints} mints, ${result.alerts} alerts, ${Math.round(result.eventsPerSecond).toLocaleString("en")} events/s through the pipeline (${redisUrl ? "redis" : "in-memory"})\n`,
  );
  console.log(formatScorecard(result.scorecard));
}
process.exit(0);

/** The run's keys: its streams, and those named in their slots (`{prefix…}`: dedup markers, durable state). */
async function removeKeys(url: string, keyPrefix: string): Promise<void> {
  const { default: Redis } = await import("ioredis");
  const redis = new Redis(url, { protocol: 2 });
  for (const pattern of [`${keyPrefix}*`, `{${keyPrefix}*`]) {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
  }
  redis.disconnect();
}

/**
 * Environment configuration of `bun run start` (12-factor): every variable, its default and its check in
 * one place. A bad value fails at start with one message naming every bad variable at once.
 */
import { statSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { isLoopback } from "./http/serve.ts";
import { ANALYZER_STATE_DEFAULTS } from "./scanner/analyzers.ts";
import { ScannerError } from "./scanner/errors.ts";
import { hashTag } from "./streams/key-slot.ts";
import { parseSeedNode, type RedisAddress } from "./streams/redis-target.ts";

/** Whether `value` parses as a URL with a host (`redis://` alone would mean localhost:6379 to ioredis). */
function hasHost(value: string): boolean {
  try {
    return new URL(value).hostname !== "";
  } catch {
    return false;
  }
}

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .transform((value) => (value === "" ? null : value))
    .refine((value) => value === null || protocols.some((p) => value.startsWith(p)), {
      message: `must start with ${protocols.join(" or ")}`,
    })
    .refine((value) => value === null || !protocols.some((p) => value.startsWith(p)) || hasHost(value), {
      message: `must be a URL with a host and a port from 1 to 65535, e.g. ${protocols[0]}127.0.0.1:${protocols[0]?.startsWith("redis") ? 6379 : 8080}`,
    })
    .nullable();

/** `host:port,host:port,…` (or redis:// URLs): a Redis Cluster's seed nodes; empty = none. */
const seedNodes = z
  .string()
  .transform((value, ctx) => {
    const seeds = value
      .split(",")
      .map((seed) => seed.trim())
      .filter((seed) => seed !== "");
    if (seeds.length === 0) {
      if (value.trim() === "") return null;
      ctx.addIssue({ code: "custom", message: "names no seed node (e.g. 10.0.0.1:7000,10.0.0.2:7000)" });
      return z.NEVER;
    }
    for (const seed of seeds) {
      try {
        parseSeedNode(seed);
      } catch {
        ctx.addIssue({
          code: "custom",
          message: `"${seed}" is not host:port (e.g. 10.0.0.1:7000,10.0.0.2:7000)`,
        });
        return z.NEVER;
      }
    }
    return seeds;
  })
  .nullable();

const CONSUMER_NAME = /^[\w.:-]{1,128}$/;

/**
 * The host name: what a restarted process finds again, so it takes its own pending entries back instead
 * of leaving a dead `<host>-<pid>` consumer in every group after each restart. Two consuming processes on
 * one host need their own TROUPE_CONSUMER.
 */
function defaultConsumer(): string {
  const name = hostname()
    .replace(/[^\w.:-]/g, "-")
    .slice(0, 128);
  return CONSUMER_NAME.test(name) ? name : "troupe";
}

/**
 * A whole number in decimal digits: a coercion took "" for 0 (TROUPE_HTTP_PORT= bound a random port) and
 * read 0x10, 0b11 and 1e3 as numbers.
 */
const integer = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d{1,16}$/, { message })
    .transform(Number)
    .pipe(z.number().min(min, { message }).max(max, { message }));
};

/** A path to write to: its folder exists and the path is no folder ("-" is stdout). */
function writablePath(path: string): string | null {
  if (path === "-") return null;
  try {
    if (statSync(path).isDirectory()) return "is a directory";
    return null;
  } catch {
    try {
      return statSync(dirname(resolve(path))).isDirectory() ? null : `${dirname(path)} is not a directory`;
    } catch {
      return `its directory ${dirname(path)} does not exist`;
    }
  }
}

/** `"<warning>,<critical>"`: the two watermarks of a band, the first below the second. */
const bands = (unit: "entries" | "seconds") =>
  z
    .string()
    .trim()
    .regex(unit === "entries" ? /^\d+,\d+$/ : /^\d+(\.\d+)?,\d+(\.\d+)?$/, {
      message: `must be "<warning>,<critical>" in ${unit}, e.g. ${unit === "entries" ? "100,1000" : "10,60"}`,
    })
    .transform((value) => {
      const [high, critical] = value.split(",").map(Number) as [number, number];
      return { high, critical };
    })
    .refine((w) => w.high > 0 && w.high < w.critical, {
      message: "the warning mark must be above 0 and below the critical one",
    });

/** Variable name → schema with its default. The README's configuration table lists exactly these. */
const ENV = z.object({
  REDIS_URL: optionalUrl(["redis://", "rediss://"]).default(null),
  REDIS_CLUSTER_NODES: seedNodes.default(null),
  TROUPE_HTTP_HOST: z.string().trim().min(1).default("127.0.0.1"),
  TROUPE_HTTP_PORT: integer(0, 65535).default(7070),
  TROUPE_API_TOKEN: z
    .string()
    // Trimmed, as its length is counted: kept with spaces (a padded .env line), no client could send it,
    // and every mutation answered 401 (a spec test).
    .transform((value) => (value === "" ? null : value.trim()))
    .refine((value) => value === null || value.length >= 16, {
      message: "must be at least 16 characters, not counting spaces around it",
    })
    .nullable()
    .default(null),
  TROUPE_CONSUMER: z
    .string()
    .regex(CONSUMER_NAME, { message: "letters, digits, '_', '.', ':', '-' only (1-128)" })
    .default(defaultConsumer()),
  TROUPE_STREAM_PREFIX: z
    .string()
    .regex(/^[\w.:{}-]{0,64}$/)
    .refine(
      (prefix) => !/[{}]/.test(prefix) || (hashTag(prefix) !== null && prefix.match(/[{}]/g)?.length === 2),
      {
        message: "a '{' or '}' only as one hash tag, e.g. {troupe}:",
      },
    )
    .default("troupe:"),
  TROUPE_RATE: integer(1, 1_000_000).default(200),
  TROUPE_SEED: integer(0, 2 ** 31 - 1).default(1),
  TROUPE_CLAIM_IDLE_MS: integer(100, 86_400_000).default(30_000),
  TROUPE_MAX_DELIVERIES: integer(1, 1000).default(5),
  TROUPE_DURABLE_STATE: z.enum(["on", "off"]).default("on"),
  TROUPE_CHECKPOINT_EVERY: integer(1, 1_000_000).default(ANALYZER_STATE_DEFAULTS.checkpointEvery),
  TROUPE_CHECKPOINT_MS: integer(1, 3_600_000).default(ANALYZER_STATE_DEFAULTS.checkpointIntervalMs),
  TROUPE_ANALYZER_LEASE_MS: integer(400, 3_600_000).default(10_000),
  /**
   * Partitions of the tx stream keyed by mint, for the mint analyzer (W3 and P5 keyed by mint); fixed when
   * the stream is created. Unset: no mint analyzer, W3 and P5 run in the wallet and pattern analyzers.
   */
  TROUPE_PARTITIONS: integer(1, 256).nullable().default(null),
  /** Worker threads that the mint partitions a process owns share (each partition an actor of its own). */
  TROUPE_PARTITION_THREADS: integer(1, 256).default(navigator.hardwareConcurrency),
  /** The seed monitor's bands: a group is `high` (warning) from the first figure, `critical` from the second. */
  TROUPE_PENDING_BANDS: bands("entries").prefault("100,1000"),
  TROUPE_LAG_SECONDS_BANDS: bands("seconds").prefault("10,60"),
  // Spaces around it dropped, as for the token: a name that starts or ends with one is a typo far more often.
  TROUPE_ALERTS_FILE: z
    .string()
    .transform((value) => (value.trim() === "" ? null : value.trim()))
    .superRefine((value, ctx) => {
      const problem = value === null ? null : writablePath(value);
      if (problem !== null) ctx.addIssue({ code: "custom", message: `${value}: ${problem}` });
    })
    .nullable()
    .default(null),
  TROUPE_ALERTS_STDOUT: z.enum(["auto", "text", "json", "off"]).default("auto"),
  ALERT_WEBHOOK_URL: optionalUrl(["http://", "https://"]).default(null),
});

/** Settings that only make sense together, each problem named by the variable to change. */
const CONFIG = ENV.superRefine((config, ctx) => {
  if (config.REDIS_URL !== null && config.REDIS_CLUSTER_NODES !== null)
    ctx.addIssue({
      code: "custom",
      path: ["REDIS_CLUSTER_NODES"],
      message: "set either REDIS_URL (one server) or REDIS_CLUSTER_NODES (a cluster), not both",
    });
  if (config.REDIS_CLUSTER_NODES !== null && hashTag(config.TROUPE_STREAM_PREFIX) === null)
    ctx.addIssue({
      code: "custom",
      path: ["TROUPE_STREAM_PREFIX"],
      message:
        "needs a hash tag with REDIS_CLUSTER_NODES, e.g. {troupe}: (a durable analyzer's checkpoint acks entries of the tx and findings streams in one script, so they must share a slot)",
    });
  if (!isLoopback(config.TROUPE_HTTP_HOST) && config.TROUPE_API_TOKEN === null)
    ctx.addIssue({
      code: "custom",
      path: ["TROUPE_API_TOKEN"],
      message: `required when TROUPE_HTTP_HOST (${config.TROUPE_HTTP_HOST}) is not a loopback address: every route then needs it`,
    });
  if (config.TROUPE_ALERTS_FILE === "-" && ["text", "json"].includes(config.TROUPE_ALERTS_STDOUT))
    ctx.addIssue({
      code: "custom",
      path: ["TROUPE_ALERTS_STDOUT"],
      message:
        "TROUPE_ALERTS_FILE=- already writes the alerts to stdout (JSON lines): leave this at auto, or off",
    });
});

export type TroupeConfig = z.infer<typeof ENV>;

/** Variables this program reads, for `--help` and the README. */
export const CONFIG_VARIABLES = Object.keys(ENV.shape) as Array<keyof TroupeConfig>;

/** Where the streams live: a cluster's seed nodes, a server's URL, or `null` (in memory). */
export function redisAddressOf(config: TroupeConfig): RedisAddress | null {
  return config.REDIS_CLUSTER_NODES ? { cluster: config.REDIS_CLUSTER_NODES } : config.REDIS_URL;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): TroupeConfig {
  const picked = Object.fromEntries(
    CONFIG_VARIABLES.filter((name) => env[name] !== undefined).map((name) => [name, env[name]]),
  );
  const result = CONFIG.safeParse(picked);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  throw new ScannerError("ERR_CONFIG", `invalid configuration:\n  ${problems.join("\n  ")}`);
}

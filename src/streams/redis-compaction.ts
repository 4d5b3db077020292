/**
 * One compaction of a scope's changelog in Redis (redis-state-store.ts), run whole on the compaction thread
 * (compaction-thread.ts `run`) over a connection of its own: it reads the base and the log's first N
 * segments, folds them by key (values stay opaque bytes), writes the new base under a key of its own and
 * swaps it in with a script that also drops those N segments; commits go on appending meanwhile, and a
 * takeover fences the swap like any other write. Run from the main thread, the reads and writes (the base
 * and the log in, a new base out: tens of megabytes for an analyzer's state) stalled its pumps by tens of
 * milliseconds at a time and made the main heap's collections long: the durable scanner's produce→alert
 * tail.
 */
import type Redis from "ioredis";
import type { RedisOptions } from "ioredis";
import { compressSegmentSync } from "../runtime/segment-compression.ts";
import { SegmentCompaction } from "../runtime/state-compaction.ts";
import { type CompactionOptions, compactionDue } from "../runtime/state-log.ts";
import type { StateScope } from "../runtime/state-store.ts";
import { STATE_COMPACT_LUA } from "./redis-scripts.ts";
import { type RedisAddress, redisTarget } from "./redis-target.ts";
import { scopeKeys } from "./state-keys.ts";

/** Where the compaction connects: the backend's address and its connection options (structured-clonable). */
export interface RedisConnection {
  address: RedisAddress;
  redis: RedisOptions;
  commandTimeoutMs: number;
}

export interface RedisCompactionJob {
  connection: RedisConnection;
  /** The state keys' prefix (state-keys.ts `stateBase`). */
  base: string;
  scope: StateScope;
  epoch: number;
  /** The new base's generation (unique per incarnation: `epoch.n`). */
  generation: string;
  compaction: Required<CompactionOptions>;
}

/** Values per read (each a segment or a base chunk of up to ~1 MiB): short turns for Redis. */
const COMPACTION_PAGE = 2;

/** An abandoned compaction's base (its process died before the swap) expires after this long. */
const UNSWAPPED_BASE_TTL_MS = 3_600_000;

type CompactionClient = Pick<Redis, "hget" | "llen" | "lrangeBuffer" | "rpush" | "pexpire" | "disconnect"> & {
  troupeStateCompact(
    meta: string,
    log: string,
    newBase: string,
    oldBase: string,
    ...args: (string | number)[]
  ): Promise<unknown>;
};

/** A list's values, a page per round trip: the first `count` of them, or all with -1. */
export async function* listPages(
  lrange: (key: string, from: number, to: number) => Promise<Buffer[]>,
  key: string,
  count: number,
  page: number,
): AsyncGenerator<Uint8Array> {
  for (let from = 0; count < 0 || from < count; from += page) {
    const to = count < 0 ? from + page - 1 : Math.min(from + page, count) - 1;
    const values = await lrange(key, from, to);
    yield* values;
    if (values.length < to - from + 1) return;
  }
}

/** The bytes as a Buffer for ioredis, without a copy. */
export function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The job: true when the log it left is due for another compaction (commits outran it). */
export default async function compactInRedis(job: RedisCompactionJob): Promise<boolean> {
  const { connection } = job;
  const client = redisTarget(connection.address).client({
    ...connection.redis,
    protocol: 2,
    commandTimeout: connection.commandTimeoutMs,
  }) as unknown as CompactionClient & Redis;
  client.on("error", () => {});
  client.defineCommand("troupeStateCompact", { numberOfKeys: 4, lua: STATE_COMPACT_LUA });
  try {
    return await compact(client, job);
  } finally {
    client.disconnect();
  }
}

async function compact(client: CompactionClient, job: RedisCompactionJob): Promise<boolean> {
  const keys = scopeKeys(job.base, job.scope);
  const lrange = (key: string, from: number, to: number) => client.lrangeBuffer(key, from, to);
  const [oldGeneration, folded] = await Promise.all([client.hget(keys.meta, "base"), client.llen(keys.log)]);
  const compaction = new SegmentCompaction();
  if (oldGeneration)
    for await (const chunk of listPages(lrange, keys.base(oldGeneration), -1, COMPACTION_PAGE))
      compaction.feed(chunk);
  let foldedBytes = 0;
  for await (const segment of listPages(lrange, keys.log, folded, COMPACTION_PAGE)) {
    compaction.feed(segment);
    foldedBytes += segment.byteLength;
  }
  const newBase = keys.base(job.generation);
  let baseBytes = 0;
  let first = true;
  // Compressed like the checkpoints' segments: a base is as many bytes into Redis.
  for (const chunk of compaction.chunks()) {
    const stored = compressSegmentSync(chunk);
    await client.rpush(newBase, asBuffer(stored));
    if (first) await client.pexpire(newBase, UNSWAPPED_BASE_TTL_MS);
    first = false;
    baseBytes += stored.byteLength;
  }
  const swapped = await client.troupeStateCompact(
    keys.meta,
    keys.log,
    newBase,
    oldGeneration ? keys.base(oldGeneration) : newBase,
    job.epoch,
    oldGeneration ?? "",
    baseBytes > 0 ? job.generation : "",
    baseBytes,
    folded,
    foldedBytes,
  );
  if (!Array.isArray(swapped)) return false;
  const [logBytes, newBaseBytes] = swapped as [number, number];
  return compactionDue(newBaseBytes, logBytes, job.compaction);
}

/**
 * What the end-to-end variants share: a stream backend of either kind under a throw-away key prefix, a
 * stream pre-filled with the bench payload, the pump options the bench tunes, and a wait for "all acked".
 */
import type { StreamBackend } from "../../src/streams/backend.ts";
import { defaultCodec, PAYLOAD_FIELD } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import type { Pump } from "../../src/streams/pump.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { trade } from "../lib/payload.ts";
import { redisUrl, withBenchRedis } from "../lib/redis.ts";

export const BENCH = "e2e";

/** bench/fixtures/noop.actor.ts: returns nothing, so the pump writes no outputs and only acks. */
export const NOOP_ACTOR = new URL("../fixtures/noop.actor.ts", import.meta.url);

export type BackendKind = "redis" | "memory";

/** The knobs the bench tunes: pump `maxBatch`, and the actor's `instances` and mailbox `capacity`. */
export interface Tuning {
  maxBatch: number;
  instances: number;
  capacity: number;
  /** "raw": the pump hands over the payload bytes (rawPayloadCodec) and the worker decodes; the raw loop decodes nothing either. */
  payload?: "decoded" | "raw";
}

/** A tuning as a short label for metric names, e.g. `maxBatch 512, 1×1024`. */
export function tuningLabel({ maxBatch, instances, capacity, payload }: Tuning): string {
  return `maxBatch ${maxBatch}, ${instances}×${capacity}${payload === "raw" ? ", raw payload" : ""}`;
}

/** Appends payloads to a stream, encoded as the pump's default codec expects (a pipeline on Redis). */
export type Appender = (stream: string, payloads: readonly unknown[]) => Promise<unknown>;

/**
 * Runs `use` with a backend, a key prefix and an appender. Redis keys live under a fresh
 * `troupe-bench:<uuid>` and are deleted afterwards; there `append` has a connection of its own, as a
 * separate producer would, so appends never queue behind the pump's reads and commits.
 */
export async function withBackend<T>(
  kind: BackendKind,
  use: (backend: StreamBackend, prefix: string, append: Appender) => Promise<T>,
): Promise<T> {
  if (kind === "memory") {
    const backend = new MemoryStreamBackend();
    try {
      return await use(backend, "bench", (stream, payloads) =>
        backend.appendBatch(
          stream,
          payloads.map((payload) => defaultCodec.encode(payload)),
        ),
      );
    } finally {
      await backend.close();
    }
  }
  return withBenchRedis(async (redis, prefix) => {
    const backend = new RedisStreamBackend(redisUrl());
    const append: Appender = async (stream, payloads) => {
      const pipeline = redis.pipeline();
      for (const payload of payloads) pipeline.xadd(stream, "*", PAYLOAD_FIELD, encode(payload));
      await pipeline.exec();
    };
    try {
      return await use(backend, prefix, append);
    } finally {
      await backend.close();
    }
  });
}

function encode(payload: unknown): Buffer {
  return defaultCodec.encode(payload)[PAYLOAD_FIELD] as Buffer;
}

const FILL_BATCH = 1000;

/** Appends `count` bench payloads (`payload(i)`, a trade by default) in field `d`, in batches of 1000. */
export async function fill(
  append: Appender,
  stream: string,
  count: number,
  payload: (i: number) => unknown = trade,
): Promise<void> {
  for (let start = 0; start < count; start += FILL_BATCH) {
    const batch: unknown[] = [];
    for (let i = start; i < Math.min(count, start + FILL_BATCH); i++) batch.push(payload(i));
    await append(stream, batch);
  }
}

/**
 * Resolves once the pump has acked `count` entries (counted from its `acked` events, which carry the ids of
 * each commit); rejects as soon as it dead-letters or releases one, which a no-op run must never do.
 */
export function ackedAll(pump: Pump<unknown, unknown>, count: number): Promise<void> {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  let acked = 0;
  const offs = [
    pump.on("acked", ({ ids }) => {
      acked += ids.length;
      if (acked >= count) resolve();
    }),
    pump.on("deadLettered", (e) => reject(new Error(`entry ${e.entryId} dead-lettered: ${e.reason}`))),
    pump.on("released", (e) => reject(new Error(`entry ${e.entryId} released: ${e.code}`))),
  ];
  return promise.finally(() => {
    for (const off of offs) off();
  });
}

/**
 * Durable actor state in Redis, next to its anchor stream (state-keys.ts), as a changelog: a commit is one
 * script that checks the epoch, appends the checkpoint's segment to the scope's log and XACKs the covered
 * entries (one round trip, all or nothing, whatever the number of keys); a restore is one script that bumps
 * the epoch (fencing every earlier incarnation), then pages of the base's chunks and the log's segments.
 *
 * Compaction runs in the background of the incarnation that owns the scope, one at a time, whole on the
 * compaction thread with a connection of its own (redis-compaction.ts); commits go on appending meanwhile.
 */

import { errorCode, TroupeError } from "../errors.ts";
import { compactionThread } from "../runtime/compaction-thread.ts";
import { compressSegment } from "../runtime/segment-compression.ts";
import { compactionDue } from "../runtime/state-log.ts";
import { segmentRecords } from "../runtime/state-segment.ts";
import type { Checkpoint, RestoredState, StateScope } from "../runtime/state-store.ts";
import type { Clock } from "../time/clock.ts";
import type { OutputFence } from "./backend.ts";
import { asBuffer, listPages, type RedisCompactionJob, type RedisConnection } from "./redis-compaction.ts";
import { redisError } from "./redis-replies.ts";
import { prepareCovers, releaseCovers } from "./state-cover.ts";
import { epochsKey, type ScopeKeys, scopeKeys, stateBase } from "./state-keys.ts";
import {
  fencedError,
  lostError,
  resolveStateStoreOptions,
  type StreamStateStore,
  type StreamStateStoreOptions,
} from "./stream-state-store.ts";

type Arg = string | number | Buffer;

const COMPACTION_JOB = new URL("./redis-compaction.ts", import.meta.url);

/** Numbers the checkpoints' staging lists, process-wide (an epoch is one incarnation's, in one process). */
let staged = 0;

/** A checkpoint's staged segments whose process died before the commit script expire after this long. */
const UNCOMMITTED_STAGING_TTL_MS = 600_000;

/** The commands the store sends (the scripts are defined on the backend's connection). */
export interface RedisStateClient {
  troupeStateRestore(
    meta: string,
    epochs: string,
    log: string,
    instance: number,
    after: number | "",
  ): Promise<unknown>;
  /** Arrays are sent flattened (one level), so long argument lists need no spread. */
  troupeStateCommit(keyCount: number, keys: readonly string[], ...args: (readonly Arg[])[]): Promise<unknown>;
  lrangeBuffer(key: string, start: number, stop: number): Promise<Buffer[]>;
  rpush(key: string, ...values: Buffer[]): Promise<number>;
  pexpire(key: string, ms: number): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
}

export class RedisStreamStateStore implements StreamStateStore {
  readonly anchor: string;
  readonly #base: string;
  readonly #options: ReturnType<typeof resolveStateStoreOptions>;
  readonly #client: RedisStateClient;
  /** The commits' staging writes' connection (the same as `client` unless the backend gives it one of its own). */
  readonly #bulk: RedisStateClient;
  /** Where the compaction thread connects. */
  readonly #connection: RedisConnection;
  readonly #clock: Clock;
  /** Compactions under way, by scope meta key: one at a time each. */
  readonly #compacting = new Map<string, Promise<void>>();
  #generation = 0;

  /** `clock` stamps each checkpoint's time in the state's meta hash (the backend's clock). */
  constructor(
    client: RedisStateClient,
    options: StreamStateStoreOptions,
    clock: Clock,
    connection: RedisConnection,
    bulk: RedisStateClient = client,
  ) {
    this.#options = resolveStateStoreOptions(options);
    this.anchor = this.#options.anchor;
    this.#base = stateBase(this.anchor);
    this.#client = client;
    this.#bulk = bulk;
    this.#connection = connection;
    this.#clock = clock;
  }

  outputFence(actor: string, epoch: number): OutputFence {
    return { key: epochsKey(this.#base, actor), epoch };
  }

  async restore(scope: StateScope, after?: number): Promise<RestoredState> {
    const keys = scopeKeys(this.#base, scope);
    const registry = epochsKey(this.#base, scope.actor);
    let reply: unknown;
    try {
      reply = await this.#run(() =>
        this.#client.troupeStateRestore(keys.meta, registry, keys.log, scope.instance, after ?? ""),
      );
    } catch (error) {
      throw after !== undefined && (error as TroupeError).code === "ERR_FENCED"
        ? fencedError(scope, after)
        : error;
    }
    const { epoch, generation, lost, found } = parseRestore(reply);
    return { epoch, chunks: this.#chunks(keys, generation), lost, found };
  }

  /**
   * Outputs refused as fenced: a takeover, or a Redis that lost the registry with everything else. The
   * scope's record tells them apart, as the commit script would (a guess only: the restore that follows
   * decides, atomically).
   */
  async #fencedOrLost(error: unknown, meta: string, scope: StateScope, epoch: number): Promise<never> {
    if (errorCode(error) !== "ERR_FENCED") throw error;
    // Unanswered, the commit fails as any refused one does, and is retried: never fenced on a guess.
    const current = await this.#run(() => this.#client.hget(meta, "epoch"));
    throw current === null ? lostError(scope, epoch) : error;
  }

  release(covers: readonly unknown[]): void {
    releaseCovers(covers);
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    const { scope, epoch, segments } = checkpoint;
    const keys = scopeKeys(this.#base, scope);
    const { entries, acks } = await prepareCovers(checkpoint.covers, epoch).catch((error: unknown) =>
      this.#fencedOrLost(error, keys.meta, scope, epoch),
    );
    const staging = `${keys.log}:staging:${epoch}:${++staged}`;
    let records = 0;
    for (const segment of segments) records += segmentRecords(segment);
    const stored = await Promise.all(segments.map(compressSegment));
    let bytes = 0;
    for (const value of stored) bytes += value.byteLength;
    // One RPUSH per segment on the bulk connection, so stream commands on the other one pass in between.
    if (stored.length > 0)
      await this.#run(() =>
        Promise.all([
          ...stored.map((value) => this.#bulk.rpush(staging, asBuffer(value))),
          this.#bulk.pexpire(staging, UNCOMMITTED_STAGING_TTL_MS),
        ]),
      );
    const keyList = [keys.meta, keys.log, staging, ...acks.map((a) => a.stream)];
    const header: Arg[] = [epoch, this.#clock.now(), records, segments.length, bytes, acks.length];
    const acked: Arg[] = [];
    for (const ack of acks) {
      acked.push(ack.group, ack.ids.length);
      for (const id of ack.ids) acked.push(id);
    }
    let reply: unknown;
    try {
      reply = await this.#client.troupeStateCommit(keyList.length, keyList, header, acked);
    } catch (error) {
      const failure = redisError(error);
      if (failure.code === "ERR_FENCED") throw fencedError(scope, epoch);
      throw failure.code === "ERR_STATE_LOST" ? lostError(scope, epoch) : failure;
    }
    for (const entry of entries) entry.acked();
    const [, logBytes, baseBytes] = reply as [number, number, number];
    if (compactionDue(baseBytes, logBytes, this.#options)) this.#startCompaction(scope, keys, epoch);
  }

  #startCompaction(scope: StateScope, keys: ScopeKeys, epoch: number): void {
    if (this.#compacting.has(keys.meta)) return;
    const job: RedisCompactionJob = {
      connection: this.#connection,
      base: this.#base,
      scope: { actor: scope.actor, instance: scope.instance },
      epoch,
      generation: `${epoch}.${++this.#generation}`,
      compaction: {
        compactRatio: this.#options.compactRatio,
        compactMinBytes: this.#options.compactMinBytes,
      },
    };
    // A failed compaction (Redis away, a takeover) changes nothing: the log stays, a later commit retries.
    // One that left the log due again (commits outran it) is followed by another at once.
    const running = compactionThread
      .run<boolean>(COMPACTION_JOB, job)
      .catch(() => false)
      .then((again) => {
        this.#compacting.delete(keys.meta);
        if (again) this.#startCompaction(scope, keys, epoch);
      });
    this.#compacting.set(keys.meta, running);
  }

  async idle(): Promise<void> {
    while (this.#compacting.size > 0) await Promise.all(this.#compacting.values());
  }

  /** The base's chunks, then the log's segments: what a restore replays. */
  async *#chunks(keys: ScopeKeys, generation: string): AsyncGenerator<Uint8Array> {
    if (generation) yield* this.#pages(keys.base(generation));
    yield* this.#pages(keys.log);
  }

  /** A list's values, a page per round trip. */
  #pages(key: string): AsyncGenerator<Uint8Array> {
    const lrange = (list: string, from: number, to: number) =>
      this.#run(() => this.#client.lrangeBuffer(list, from, to));
    return listPages(lrange, key, -1, this.#options.restorePageSize);
  }

  async #run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw redisError(error);
    }
  }
}

function parseRestore(reply: unknown): {
  epoch: number;
  generation: string;
  lost: boolean;
  found: boolean;
} {
  const [epoch, generation, lost, found] = Array.isArray(reply) ? reply : [];
  if (
    typeof epoch !== "number" ||
    typeof generation !== "string" ||
    (lost !== 0 && lost !== 1) ||
    (found !== 0 && found !== 1)
  )
    throw new TroupeError("ERR_STREAM_BACKEND", `unexpected state restore reply: ${String(reply)}`);
  return { epoch, generation, lost: lost === 1, found: found === 1 };
}

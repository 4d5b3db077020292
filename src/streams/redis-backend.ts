/**
 * The Redis Streams backend (ioredis), on one server or a Redis Cluster (redis-target.ts). Commands go
 * over one client with a `commandTimeout`; blocking reads go over a connection per reader (to the node
 * serving its stream, in a cluster), behind a watchdog (`redis-readers.ts`).
 *
 * On a cluster every script and pipeline touches one slot: a stream's dedup markers and durable state are
 * named in its slot (key-slot.ts), a commit sends one pipeline per slot its outputs go to, and the one check
 * that spans two slots, a fenced output written to another slot than its actor's epoch registry, is made
 * first, on its own (see {@link RedisStreamBackend.commit}).
 *
 * Connections speak RESP2 (ioredis 6 defaults to RESP3, whose stream replies have another shape), and
 * payload-bearing replies use the Buffer variants so msgpack bytes are never UTF-8 decoded.
 */
import type { ChainableCommander, RedisOptions } from "ioredis";
import { InvalidOptionError, messageOf, TroupeError } from "../errors.ts";
import { type Clock, checkClock, systemClock } from "../time/clock.ts";
import { withDeadline } from "../time/deadline.ts";
import { sleep } from "../time/timers.ts";
import type {
  AdoptResult,
  AppendResult,
  ClaimOptions,
  ClaimResult,
  CommitItem,
  CommitOutcome,
  ConsumerInfo,
  GroupInfo,
  OutputFence,
  OutputWrite,
  PendingInfo,
  PendingQuery,
  PendingReadOptions,
  RangeOptions,
  ReadLease,
  ReadOptions,
  RedeliveredEntry,
  StreamBackend,
  StreamEntry,
  UniqueAppendResult,
  WriteFields,
} from "./backend.ts";
import { dedupKey, marksKey, partitionsKey } from "./backend.ts";
import { asOutputError } from "./commit.ts";
import { keySlot } from "./key-slot.ts";
import type { RedisConnection } from "./redis-compaction.ts";
import { defineLeaseCommands, type RedisLeaseClient, RedisLeaseStore } from "./redis-leases.ts";
import { BlockingReaders } from "./redis-readers.ts";
import * as reply from "./redis-replies.ts";
import { redisError } from "./redis-replies.ts";
import {
  APPEND_AT_LUA,
  APPEND_FENCED_LUA,
  APPEND_UNIQUE_LUA,
  DELETE_IDLE_CONSUMER_LUA,
  STATE_COMMIT_LUA,
  STATE_RESTORE_LUA,
} from "./redis-scripts.ts";
import { type RedisStateClient, RedisStreamStateStore } from "./redis-state-store.ts";
import { type RedisAddress, type RedisClient, type RedisTarget, redisTarget } from "./redis-target.ts";
import { ensureTracingChannelSubscribersGetter } from "./redis-tracing.ts";
import { ZERO_ID } from "./stream-id.ts";
import type { StreamStateStoreOptions } from "./stream-state-store.ts";

export interface RedisBackendOptions {
  /** Fails a non-blocking command that got no reply in time. @defaultValue 5000 */
  commandTimeoutMs?: number;
  /** How long past its BLOCK a blocking read may stay unanswered before it counts as stalled. @defaultValue 2000 */
  readWatchdogGraceMs?: number;
  /** Extra ioredis options for every connection (host, password, tls...). */
  redis?: RedisOptions;
  /** Times the blocking reads' watchdog (tests inject one). @defaultValue systemClock */
  clock?: Clock;
}

/** Pending entries taken per XAUTOCLAIM … JUSTID (ids only, so a page is small). */
const ADOPT_PAGE = 1000;

export const REDIS_BACKEND_DEFAULTS = {
  commandTimeoutMs: 5_000,
  readWatchdogGraceMs: 2_000,
  redis: {},
  clock: systemClock,
} satisfies Required<RedisBackendOptions>;

export function resolveRedisBackendOptions(options: RedisBackendOptions = {}): Required<RedisBackendOptions> {
  const resolved = { ...REDIS_BACKEND_DEFAULTS, ...options };
  for (const key of ["commandTimeoutMs", "readWatchdogGraceMs"] as const) {
    const value = resolved[key];
    if (!Number.isInteger(value) || value <= 0)
      throw new InvalidOptionError(key, `must be a positive integer, got ${value}`);
  }
  checkClock("clock", resolved.clock);
  return resolved;
}

type ScriptCommands<R> = {
  troupeAppendUnique(stream: string, marker: string, ttlMs: number, ...fields: (string | Uint8Array)[]): R;
  troupeAppendFenced(
    stream: string,
    marker: string,
    fence: string,
    ttlMs: number,
    epoch: number,
    ...fields: (string | Uint8Array)[]
  ): R;
  troupeAppendAt(
    stream: string,
    fence: string,
    id: string,
    epoch: number | "",
    after: string,
    ...fields: (string | Uint8Array)[]
  ): R;
  troupeDeleteIdleConsumer(stream: string, group: string, consumer: string): R;
};
type ScriptedRedis = RedisClient & ScriptCommands<Promise<unknown>> & RedisStateClient & RedisLeaseClient;
type ScriptedPipeline = ChainableCommander & ScriptCommands<ChainableCommander>;

export class RedisStreamBackend implements StreamBackend {
  readonly kind = "redis";
  readonly #options: Required<RedisBackendOptions>;
  readonly #cmd: ScriptedRedis;
  readonly #readers: BlockingReaders;
  readonly #target: RedisTarget;
  readonly #leases: RedisLeaseStore;
  /** The checkpoints' staging writes' own connection (opened with the first state store): their MB-sized
   * writes would otherwise queue every stream command behind them. */
  #bulk: ScriptedRedis | null = null;
  /** Where this backend connects, for the compaction thread's own connections. */
  readonly #address: RedisAddress;
  #closed = false;

  /** A URL (`redis://host:port`), or `{ cluster: ["host:port", …] }`: a Redis Cluster's seed nodes. */
  constructor(address: RedisAddress, options: RedisBackendOptions = {}) {
    this.#options = resolveRedisBackendOptions(options);
    ensureTracingChannelSubscribersGetter();
    this.#address = typeof address === "string" ? address : { cluster: [...address.cluster] };
    this.#target = redisTarget(address);
    this.#cmd = this.#target.client({
      ...this.#options.redis,
      protocol: 2,
      commandTimeout: this.#options.commandTimeoutMs,
    }) as ScriptedRedis;
    // Connection errors reach callers through the commands they fail (and the pump's events); without a
    // listener ioredis prints "Unhandled error event" on every reconnect attempt while Redis is away.
    this.#cmd.on("error", () => {});
    this.#cmd.defineCommand("troupeAppendUnique", { numberOfKeys: 2, lua: APPEND_UNIQUE_LUA });
    this.#cmd.defineCommand("troupeAppendFenced", { numberOfKeys: 3, lua: APPEND_FENCED_LUA });
    this.#cmd.defineCommand("troupeAppendAt", { numberOfKeys: 2, lua: APPEND_AT_LUA });
    this.#cmd.defineCommand("troupeDeleteIdleConsumer", { numberOfKeys: 1, lua: DELETE_IDLE_CONSUMER_LUA });
    this.#cmd.defineCommand("troupeStateRestore", { numberOfKeys: 3, lua: STATE_RESTORE_LUA });
    // Key count given per call: a checkpoint names as many streams as it acks entries of.
    this.#cmd.defineCommand("troupeStateCommit", { lua: STATE_COMMIT_LUA });
    defineLeaseCommands(this.#cmd);
    this.#leases = new RedisLeaseStore(this.#cmd, {
      masters: () => this.#target.masters(),
      options: { ...this.#options.redis, protocol: 2, commandTimeout: this.#options.commandTimeoutMs },
      clock: this.#options.clock,
    });
    const { redis, readWatchdogGraceMs: graceMs, clock } = this.#options;
    this.#readers = new BlockingReaders(this.#target, { redis, graceMs, clock });
  }

  async append(stream: string, fields: WriteFields): Promise<string> {
    const id = await this.#run(() => this.#cmd.xadd(stream, "*", ...flatten(fields)));
    if (id === null) throw new TroupeError("ERR_STREAM_BACKEND", "XADD returned no id");
    return id;
  }

  async appendBatch(
    stream: string,
    batch: readonly WriteFields[],
    ids?: readonly string[],
  ): Promise<AppendResult[]> {
    if (batch.length === 0) return [];
    const pipeline = this.#cmd.pipeline();
    for (let i = 0; i < batch.length; i++)
      pipeline.xadd(stream, ids ? (ids[i] as string) : "*", ...flatten(batch[i] as WriteFields));
    const results = await this.#exec(pipeline, batch.length);
    return results.map(([error, id]): AppendResult => {
      if (error || typeof id !== "string") return { ok: false, error: asOutputError(error ?? id) };
      return { ok: true, id };
    });
  }

  async lastId(stream: string): Promise<string> {
    try {
      return reply.parseLastGeneratedId(await this.#run(() => this.#cmd.call("XINFO", "STREAM", stream)));
    } catch (error) {
      if (messageOf(error).includes("no such key")) return ZERO_ID;
      throw redisError(error);
    }
  }

  async raiseLastId(stream: string, ms: number): Promise<void> {
    try {
      await this.#run(() => this.#cmd.call("XSETID", stream, `${ms}-0`));
    } catch (error) {
      // Already past it (an entry at or above that id), or no stream yet: nothing to raise.
      const message = messageOf(error);
      if (message.includes("smaller than the target stream top item") || message.includes("no such key"))
        return;
      throw redisError(error);
    }
  }

  async appendUnique(
    stream: string,
    dedupId: string,
    fields: WriteFields,
    ttlMs: number,
    fence?: OutputFence,
  ): Promise<UniqueAppendResult> {
    const marker = dedupKey(stream, dedupId);
    const inScript = await this.#fenceForScript(stream, fence);
    const result = await this.#run(() =>
      inScript
        ? this.#cmd.troupeAppendFenced(
            stream,
            marker,
            inScript.key,
            ttlMs,
            inScript.epoch,
            ...flatten(fields),
          )
        : this.#cmd.troupeAppendUnique(stream, marker, ttlMs, ...flatten(fields)),
    );
    return reply.parseUniqueAppend(result);
  }

  async appendAt(
    stream: string,
    id: string,
    fields: WriteFields,
    fence?: OutputFence,
  ): Promise<UniqueAppendResult> {
    const inScript = await this.#fenceForScript(stream, fence);
    const result = await this.#run(() => this.#appendAt(this.#cmd, stream, id, fields, inScript, ""));
    return reply.parseUniqueAppend(result);
  }

  /**
   * APPEND_AT_LUA on `client` (a pipeline too), the fence checked in the script when given; `after`: the id
   * of the write before it to this stream in the same pipeline ('' for none), which must have landed.
   */
  #appendAt<R>(
    client: ScriptCommands<R>,
    stream: string,
    id: string,
    fields: WriteFields,
    fence: OutputFence | undefined,
    after: string,
  ): R {
    return fence
      ? client.troupeAppendAt(stream, fence.key, id, fence.epoch, after, ...flatten(fields))
      : client.troupeAppendAt(stream, stream, id, "", after, ...flatten(fields));
  }

  async ensureGroup(stream: string, group: string, startId = "0"): Promise<boolean> {
    try {
      await this.#cmd.xgroup("CREATE", stream, group, startId, "MKSTREAM");
      return true;
    } catch (error) {
      if (messageOf(error).startsWith("BUSYGROUP")) return false;
      // XGROUP CREATE is refused under OOM even when the group exists: a restart must still start.
      if ((await this.groupInfo(stream, group).catch(() => null)) !== null) return false;
      throw redisError(error);
    }
  }

  async readNew(
    stream: string,
    group: string,
    consumer: string,
    options: ReadOptions,
  ): Promise<StreamEntry[]> {
    const { count, blockMs = 0, mayRead, lease } = options;
    if (lease && !(this.#target.cluster && keySlot(lease.key) !== keySlot(stream)))
      return this.#leasedRead(stream, group, consumer, options, lease);
    const read =
      blockMs > 0
        ? () => this.#readers.read(stream, group, consumer, count, blockMs, mayRead)
        : async () =>
            mayRead && !mayRead()
              ? null
              : this.#cmd.callBuffer(
                  "XREADGROUP",
                  "GROUP",
                  group,
                  consumer,
                  "COUNT",
                  count,
                  "STREAMS",
                  stream,
                  ">",
                );
    return reply.parseReadGroup(await this.#run(read));
  }

  /**
   * A read under a lease, checked in Redis atomically with the XREADGROUP (BlockingReaders.leasedRead:
   * WATCH, then MULTI / EXEC). A MULTI cannot block: when it reads nothing, a plain XREAD BLOCK after the
   * stream's last entry waits on the reader's connection (it takes nothing) and the leased read runs once
   * more, so a read parked while the lease moved on takes nothing when it wakes. A refused read waits out
   * its block as an empty one does, so a stale reader does not spin.
   */
  async #leasedRead(
    stream: string,
    group: string,
    consumer: string,
    options: ReadOptions,
    lease: ReadLease,
  ): Promise<StreamEntry[]> {
    const { count, blockMs = 0, mayRead } = options;
    const once = () =>
      this.#run(() => this.#readers.leasedRead(stream, group, consumer, count, lease, mayRead));
    let answer = await once();
    if (answer.refused) {
      if (blockMs > 0) await sleep(this.#options.clock, blockMs);
      return [];
    }
    const entries = reply.parseReadGroup(answer.read);
    if (entries.length > 0 || blockMs <= 0 || answer.last === null) return entries;
    const lastId = answer.last;
    await this.#run(() => this.#readers.waitAfter(stream, group, consumer, lastId, blockMs, mayRead));
    answer = await once();
    return answer.refused ? [] : reply.parseReadGroup(answer.read);
  }

  async readPending(
    stream: string,
    group: string,
    consumer: string,
    options: PendingReadOptions,
  ): Promise<RedeliveredEntry[]> {
    const args = [
      "GROUP",
      group,
      consumer,
      "COUNT",
      options.count,
      "STREAMS",
      stream,
      options.after ?? ZERO_ID,
    ];
    const entries = reply.parseReadGroup(await this.#run(() => this.#cmd.callBuffer("XREADGROUP", ...args)));
    return this.#withDeliveries(stream, group, consumer, entries);
  }

  async ack(stream: string, group: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.#run(() => this.#cmd.xack(stream, group, ...ids));
  }

  async pending(stream: string, group: string, query: PendingQuery): Promise<PendingInfo[]> {
    const args: (string | number)[] = [stream, group];
    if (query.minIdleMs !== undefined) args.push("IDLE", query.minIdleMs);
    args.push(query.after === undefined ? "-" : `(${query.after}`, "+", query.count);
    if (query.consumer !== undefined) args.push(query.consumer);
    return reply.parsePendingRange(await this.#run(() => this.#cmd.call("XPENDING", ...args)));
  }

  async claimIdle(
    stream: string,
    group: string,
    consumer: string,
    options: ClaimOptions,
  ): Promise<ClaimResult> {
    let cursor = options.cursor ?? ZERO_ID;
    if (options.count <= 0) return { entries: [], deletedIds: [], cursor };
    const claimed: StreamEntry[] = [];
    const deletedIds: string[] = [];
    // One XAUTOCLAIM scans at most 10 × COUNT pending entries: loop until the cursor wraps to 0-0.
    do {
      const want = options.count - claimed.length;
      const args = [stream, group, consumer, options.minIdleMs, cursor, "COUNT", want];
      const step = reply.parseAutoClaim(await this.#run(() => this.#cmd.callBuffer("XAUTOCLAIM", ...args)));
      claimed.push(...step.entries);
      deletedIds.push(...step.deletedIds);
      cursor = step.cursor;
    } while (cursor !== ZERO_ID && claimed.length < options.count);
    const entries = await this.#withDeliveries(stream, group, consumer, claimed);
    return { entries, deletedIds, cursor };
  }

  async adoptPending(stream: string, group: string, consumer: string): Promise<AdoptResult> {
    let cursor = ZERO_ID;
    let pending = 0;
    const deletedIds: string[] = [];
    do {
      const args = [stream, group, consumer, 0, cursor, "COUNT", ADOPT_PAGE, "JUSTID"];
      const step = reply.parseAutoClaimIds(await this.#run(() => this.#cmd.call("XAUTOCLAIM", ...args)));
      pending += step.ids.length;
      deletedIds.push(...step.deletedIds);
      cursor = step.cursor;
    } while (cursor !== ZERO_ID);
    return { pending, deletedIds };
  }

  async groups(stream: string): Promise<GroupInfo[]> {
    const pipeline = this.#cmd.pipeline().call("XINFO", "GROUPS", stream).xlen(stream);
    const [[infoError, info], [, length]] = (await this.#exec(pipeline, 2)) as [
      [Error | null, unknown],
      [Error | null, unknown],
    ];
    if (infoError) {
      if (messageOf(infoError).includes("no such key")) return [];
      throw redisError(infoError);
    }
    const groups = reply.parseGroups(info);
    if (groups.length === 0) return [];
    const summaries = this.#cmd.pipeline();
    for (const g of groups) summaries.call("XPENDING", stream, g.name);
    const firsts = await this.#exec(summaries, groups.length);
    return groups.map((g, i) => {
      const [error, summary] = firsts[i]!;
      if (error) throw redisError(error);
      return { ...g, firstPendingId: reply.parsePendingSummaryFirst(summary), length: Number(length) };
    });
  }

  async groupInfo(stream: string, group: string): Promise<GroupInfo | null> {
    return (await this.groups(stream)).find((g) => g.name === group) ?? null;
  }

  async consumers(stream: string, group: string): Promise<ConsumerInfo[]> {
    return reply.parseConsumers(await this.#run(() => this.#cmd.call("XINFO", "CONSUMERS", stream, group)));
  }

  async deleteConsumer(stream: string, group: string, consumer: string): Promise<"deleted" | "has-pending"> {
    const result = await this.#run(() => this.#cmd.troupeDeleteIdleConsumer(stream, group, consumer));
    return result === -1 ? "has-pending" : "deleted";
  }

  async trim(stream: string, minId: string): Promise<number> {
    return Number(await this.#run(() => this.#cmd.call("XTRIM", stream, "MINID", "=", minId)));
  }

  async range(stream: string, options: RangeOptions): Promise<StreamEntry[]> {
    const reverse = options.reverse ?? false;
    const start = options.start ?? (reverse ? "+" : "-");
    const end = options.end ?? (reverse ? "-" : "+");
    const command = reverse ? "XREVRANGE" : "XRANGE";
    return reply.parseEntries(
      await this.#run(() => this.#cmd.callBuffer(command, stream, start, end, "COUNT", options.count)),
    );
  }

  async delete(stream: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.#run(() => this.#cmd.xdel(stream, ...ids));
  }

  async length(stream: string): Promise<number> {
    return this.#run(() => this.#cmd.xlen(stream));
  }

  async fixPartitions(stream: string, partitions: number): Promise<number> {
    // SET NX GET (Redis ≥ 7.0): sets it unless present, and answers what was there, in one command.
    const stored = await this.#run(() =>
      this.#cmd.call("SET", partitionsKey(stream), partitions, "NX", "GET"),
    );
    return stored === null ? partitions : storedCount(stream, stored);
  }

  async storedPartitions(stream: string): Promise<number | null> {
    const stored = await this.#run(() => this.#cmd.get(partitionsKey(stream)));
    return stored === null ? null : storedCount(stream, stored);
  }

  readMark(stream: string, name: string): Promise<string | null> {
    return this.#run(() => this.#cmd.hget(marksKey(stream), name));
  }

  async writeMark(stream: string, name: string, value: string): Promise<void> {
    await this.#run(() => this.#cmd.hset(marksKey(stream), name, value));
  }

  /**
   * Two round trips: all outputs (append-unique scripts) in one pipeline (one per slot on a cluster, sent
   * together), then one XACK for the items whose every output reply was a success. They cannot share a
   * pipeline: Redis would run the XACK even when an XADD before it was refused (out of memory refuses XADD
   * but accepts XACK).
   *
   * On a cluster, a fenced output whose stream is in another slot than its fence's registry cannot check
   * the fence in its script: the fence is checked first (HEXISTS), then the output written unfenced. A
   * takeover between the two lets that one write through; it carries the same dedup id as the new owner's
   * write of the same entry, so only an output the two incarnations compute differently can show twice.
   */
  async commit(stream: string, group: string, items: readonly CommitItem[]): Promise<CommitOutcome[]> {
    const failed = new Map<string, TroupeError>();
    const written = new Map<string, number>();
    const outputs = items.flatMap((item) => item.outputs.map((output) => ({ item, output })));
    if (outputs.length > 0) {
      const results = await this.#writeOutputs(outputs.map((o) => o.output));
      outputs.forEach(({ item }, i) => {
        const [error, value] = results[i]!;
        if (failed.has(item.id)) return;
        if (error) {
          failed.set(item.id, asOutputError(redisError(error), item.id));
          return;
        }
        const { duplicate } = reply.parseUniqueAppend(value);
        written.set(item.id, (written.get(item.id) ?? 0) + (duplicate ? 0 : 1));
      });
    }
    const ackable = items.filter((item) => item.ack !== false && !failed.has(item.id)).map((item) => item.id);
    let ackError: TroupeError | undefined;
    try {
      await this.ack(stream, group, ackable);
    } catch (error) {
      ackError = redisError(error);
    }
    return items.map((item): CommitOutcome => {
      const error = failed.get(item.id) ?? (item.ack === false ? undefined : ackError);
      return {
        id: item.id,
        acked: error === undefined,
        written: written.get(item.id) ?? 0,
        ...(error && { error }),
      };
    });
  }

  /** Each write's reply, in order: one pipeline per slot (a single server has one), sent together. */
  async #writeOutputs(writes: readonly OutputWrite[]): Promise<[Error | null, unknown][]> {
    const results: [Error | null, unknown][] = new Array(writes.length);
    const split = writes.map((w) => w.fence !== undefined && this.#splitFence(w.stream, w.fence));
    // Each ordered write names the one before it to its stream, which must have landed (APPEND_AT_LUA).
    const lastAt = new Map<string, string>();
    const after = writes.map((w) => {
      if (w.at === undefined) return "";
      const previous = lastAt.get(w.stream) ?? "";
      lastAt.set(w.stream, w.at);
      return previous;
    });
    const refused = await this.#checkFences(writes.filter((_, i) => split[i]).map((w) => w.fence!));
    const bySlot = new Map<number, number[]>();
    writes.forEach((write, i) => {
      const refusal = split[i] ? refused.get(fenceId(write.fence!)) : undefined;
      if (refusal) {
        results[i] = [refusal, null];
        return;
      }
      const slot = this.#target.cluster ? keySlot(write.stream) : 0;
      const indexes = bySlot.get(slot);
      if (indexes) indexes.push(i);
      else bySlot.set(slot, [i]);
    });
    await Promise.all(
      [...bySlot.values()].map(async (indexes) => {
        const pipeline = this.#cmd.pipeline() as ScriptedPipeline;
        for (const i of indexes) {
          const { stream, dedupId, fields, ttlMs, fence, at } = writes[i]!;
          if (at !== undefined) {
            this.#appendAt(pipeline, stream, at, fields, split[i] ? undefined : fence, after[i]!);
            continue;
          }
          const marker = dedupKey(stream, dedupId);
          if (fence && !split[i])
            pipeline.troupeAppendFenced(stream, marker, fence.key, ttlMs, fence.epoch, ...flatten(fields));
          else pipeline.troupeAppendUnique(stream, marker, ttlMs, ...flatten(fields));
        }
        let replies: [Error | null, unknown][];
        try {
          replies = await this.#exec(pipeline, indexes.length);
        } catch (error) {
          replies = indexes.map(() => [error as Error, null]);
        }
        indexes.forEach((i, j) => {
          results[i] = replies[j]!;
        });
      }),
    );
    return results;
  }

  /** On a cluster, a fence whose registry is in another slot than the stream it guards. */
  #splitFence(stream: string, fence: OutputFence): boolean {
    return this.#target.cluster && keySlot(fence.key) !== keySlot(stream);
  }

  /**
   * The fence a single write's script checks with the write, or undefined when there is none or it lives in
   * another slot: that one is checked here first (a refusal throws), as a script may touch one slot only.
   */
  async #fenceForScript(stream: string, fence: OutputFence | undefined): Promise<OutputFence | undefined> {
    if (fence === undefined || !this.#splitFence(stream, fence)) return fence;
    if (!(await this.#fenceLive(fence))) throw redisError(fencedRefusal(fence));
    return undefined;
  }

  async #fenceLive(fence: OutputFence): Promise<boolean> {
    return (await this.#run(() => this.#cmd.hexists(fence.key, String(fence.epoch)))) === 1;
  }

  /**
   * Checks each fence once; returns, by fence, why its writes must not go: the fenced refusal, or the error
   * the check met (their items then stay pending, as for a failed write).
   */
  async #checkFences(fences: readonly OutputFence[]): Promise<Map<string, Error>> {
    const unique = new Map(fences.map((f) => [fenceId(f), f]));
    const refused = new Map<string, Error>();
    await Promise.all(
      [...unique].map(async ([id, fence]) => {
        try {
          if (!(await this.#fenceLive(fence))) refused.set(id, fencedRefusal(fence));
        } catch (error) {
          refused.set(id, error as Error);
        }
      }),
    );
    return refused;
  }

  leases(): RedisLeaseStore {
    return this.#leases;
  }

  stateStore(options: StreamStateStoreOptions): RedisStreamStateStore {
    const connection: RedisConnection = {
      address: this.#address,
      redis: clonableOptions(this.#options.redis),
      commandTimeoutMs: this.#options.commandTimeoutMs,
    };
    return new RedisStreamStateStore(this.#cmd, options, this.#options.clock, connection, this.#bulkClient());
  }

  #bulkClient(): ScriptedRedis {
    if (!this.#bulk) {
      const bulk = this.#target.client({
        ...this.#options.redis,
        protocol: 2,
        commandTimeout: this.#options.commandTimeoutMs,
      }) as ScriptedRedis;
      bulk.on("error", () => {});
      this.#bulk = bulk;
    }
    return this.#bulk;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#readers.close();
    await this.#leases.closePresences();
    await Promise.all([this.#cmd, this.#bulk].map((client) => client && quitWithin(client, QUIT_GRACE_MS)));
  }

  /** Adds each entry's delivery count (one pipelined XPENDING per id: the replies carry none). */
  async #withDeliveries(
    stream: string,
    group: string,
    consumer: string,
    entries: readonly StreamEntry[],
  ): Promise<RedeliveredEntry[]> {
    if (entries.length === 0) return [];
    const pipeline = this.#cmd.pipeline();
    for (const e of entries) pipeline.call("XPENDING", stream, group, e.id, e.id, 1, consumer);
    const rows = await this.#exec(pipeline, entries.length);
    return entries.map((entry, i) => {
      const [error, row] = rows[i]!;
      if (error) throw redisError(error);
      // Absent when another consumer claimed it in between: at least this delivery happened.
      const deliveries = reply.parsePendingRange(row)[0]?.deliveries ?? 1;
      return { ...entry, deliveries };
    });
  }

  async #run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw redisError(error);
    }
  }

  async #exec(pipeline: ChainableCommander, expected: number): Promise<[Error | null, unknown][]> {
    const results = await this.#run(() => pipeline.exec());
    if (!results || results.length !== expected) {
      throw new TroupeError(
        "ERR_STREAM_BACKEND",
        `pipeline returned ${results?.length ?? 0} of ${expected} replies`,
      );
    }
    return results;
  }
}

function fenceId(fence: OutputFence): string {
  return `${fence.key}\u0000${fence.epoch}`;
}

/** What the fenced script replies for a dead epoch, for a fence checked on its own. */
function fencedRefusal(fence: OutputFence): Error {
  return new Error(`FENCED output write refused: epoch ${fence.epoch} is no longer live`);
}

/** Field map to XADD arguments. Bytes are copied: ioredis may queue them past a caller's buffer reuse. */
function flatten(fields: WriteFields): (string | Buffer)[] {
  const args: (string | Buffer)[] = [];
  for (const [key, value] of Object.entries(fields))
    args.push(key, typeof value === "string" ? value : Buffer.from(value));
  return args;
}

/**
 * The connection options another thread can be sent: top-level functions (a retry strategy, a reconnect
 * test) stay here, and the compaction thread's connection, which lives for one compaction, uses ioredis's
 * defaults for them. A compaction that fails (its options cannot be sent either) changes nothing: a later
 * commit starts another.
 */
function clonableOptions(options: RedisOptions): RedisOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => typeof value !== "function"));
}

/** A stored partition count, or an error naming the key when it holds something else. */
function storedCount(stream: string, stored: unknown): number {
  const count = Number(stored);
  if (!Number.isInteger(count) || count < 1)
    throw new TroupeError(
      "ERR_STREAM_BACKEND",
      `${partitionsKey(stream)} holds "${String(stored)}", not a count`,
    );
  return count;
}

/**
 * How long a close waits for Redis to answer QUIT (the replies still owed arrive first) before it drops the
 * connection: a frozen server never answers, and the QUIT then waited out the whole command timeout.
 */
const QUIT_GRACE_MS = 500;

async function quitWithin(client: ScriptedRedis, graceMs: number): Promise<void> {
  await withDeadline(client.quit(), graceMs, "QUIT").catch(() => client.disconnect());
}

/**
 * The embedded default backend: Redis Streams consumer-group semantics in process memory, no server.
 * Delivery counts, idle times, claims, lag and MINID trim follow Redis 7.0, on an injected clock (entry
 * ids, idle times, dedup expiry and the BLOCK timeout), so tests are deterministic; a blocking read parks
 * on a waiter list that appends wake (no polling).
 * `maxEntries` bounds memory the way `maxmemory` + `noeviction` does on Redis: appends are refused,
 * reads and acks still work.
 */
import { InvalidOptionError, TroupeError } from "../errors.ts";
import { type Clock, checkClock, systemClock } from "../time/clock.ts";
import { sleep } from "../time/timers.ts";
import {
  type AdoptResult,
  type AppendResult,
  type ClaimOptions,
  type ClaimResult,
  type CommitItem,
  type CommitOutcome,
  type ConsumerInfo,
  dedupKey,
  type GroupInfo,
  marksKey,
  type OutputFence,
  type PendingInfo,
  type PendingQuery,
  type PendingReadOptions,
  partitionsKey,
  type RangeOptions,
  type ReadOptions,
  type RedeliveredEntry,
  type StreamBackend,
  type StreamEntry,
  type UniqueAppendResult,
  type WriteFields,
} from "./backend.ts";
import { commitSequentially, outOfOrderError } from "./commit.ts";
import { entryFields } from "./entry-codec.ts";
import { MemoryGroup } from "./memory-group.ts";
import { MemoryLeaseStore } from "./memory-leases.ts";
import { MemoryLog } from "./memory-log.ts";
import { MemoryStateSpace, MemoryStreamStateStore } from "./memory-state-store.ts";
import { formatStreamId, parseStreamId, ZERO_ID } from "./stream-id.ts";
import { fencedOutputError, type StreamStateStoreOptions } from "./stream-state-store.ts";

export interface MemoryBackendOptions {
  /** Time for entry ids, idle times, dedup expiry and blocking reads (tests inject one). @defaultValue systemClock */
  clock?: Clock;
  /** Most entries kept across all streams; appends past it fail like Redis OOM. @defaultValue Infinity */
  maxEntries?: number;
}

export const MEMORY_BACKEND_DEFAULTS = {
  clock: systemClock,
  maxEntries: Number.POSITIVE_INFINITY,
} satisfies Required<MemoryBackendOptions>;

export function resolveMemoryBackendOptions(
  options: MemoryBackendOptions = {},
): Required<MemoryBackendOptions> {
  const resolved = { ...MEMORY_BACKEND_DEFAULTS, ...options };
  checkClock("clock", resolved.clock);
  checkMaxEntries(resolved.maxEntries);
  return resolved;
}

function checkMaxEntries(value: number): void {
  if (!(value >= 0) || (!Number.isInteger(value) && value !== Number.POSITIVE_INFINITY)) {
    throw new InvalidOptionError("maxEntries", `must be an integer >= 0 or Infinity, got ${value}`);
  }
}

interface MemoryStream {
  readonly log: MemoryLog;
  readonly groups: Map<string, MemoryGroup>;
  readonly waiters: Set<() => void>;
}

/** Dedup markers are pruned from the oldest on every unique append, a bounded amount each time. */
const DEDUP_PRUNE_PER_CALL = 64;

export class MemoryStreamBackend implements StreamBackend {
  readonly kind = "memory";
  readonly #clock: Clock;
  #maxEntries: number;
  #entries = 0;
  #closed = false;
  readonly #streams = new Map<string, MemoryStream>();
  readonly #dedup = new Map<string, { id: string; expiresAt: number }>();
  /** Partition counts by key (partitionsKey), as Redis stores them. */
  readonly #partitions = new Map<string, number>();
  readonly #marks = new Map<string, Map<string, string>>();
  readonly #state = new MemoryStateSpace();
  readonly #leases: MemoryLeaseStore;

  constructor(options: MemoryBackendOptions = {}) {
    const resolved = resolveMemoryBackendOptions(options);
    this.#clock = resolved.clock;
    this.#maxEntries = resolved.maxEntries;
    this.#leases = new MemoryLeaseStore(this.#clock);
  }

  leases(): MemoryLeaseStore {
    return this.#leases;
  }

  /** Changes the entry limit at run time (e.g. to free "memory" after an out-of-memory phase). */
  setMaxEntries(maxEntries: number): void {
    checkMaxEntries(maxEntries);
    this.#maxEntries = maxEntries;
  }

  async append(stream: string, fields: WriteFields): Promise<string> {
    return this.#append(stream, fields);
  }

  async appendBatch(
    stream: string,
    batch: readonly WriteFields[],
    ids?: readonly string[],
  ): Promise<AppendResult[]> {
    return batch.map((fields, i): AppendResult => {
      try {
        return {
          ok: true,
          id: ids ? this.#appendUnder(stream, ids[i] as string, fields) : this.#append(stream, fields),
        };
      } catch (error) {
        return { ok: false, error: error as TroupeError };
      }
    });
  }

  async lastId(stream: string): Promise<string> {
    this.#open();
    const s = this.#streams.get(stream);
    return s ? formatStreamId(s.log.lastId) : ZERO_ID;
  }

  async raiseLastId(stream: string, ms: number): Promise<void> {
    this.#open();
    this.#streams.get(stream)?.log.raiseLastId(ms);
  }

  async appendUnique(
    stream: string,
    dedupId: string,
    fields: WriteFields,
    ttlMs: number,
    fence?: OutputFence,
  ): Promise<UniqueAppendResult> {
    this.#open();
    if (fence && !this.#state.isLive(fence)) throw fencedOutputError(fence);
    const now = this.#clock.now();
    this.#pruneDedup(now);
    const key = dedupKey(stream, dedupId);
    const existing = this.#dedup.get(key);
    if (existing && existing.expiresAt > now) return { id: existing.id, duplicate: true };
    const id = this.#append(stream, fields);
    this.#dedup.delete(key);
    this.#dedup.set(key, { id, expiresAt: now + ttlMs });
    return { id, duplicate: false };
  }

  async appendAt(
    stream: string,
    id: string,
    fields: WriteFields,
    fence?: OutputFence,
  ): Promise<UniqueAppendResult> {
    this.#open();
    if (fence && !this.#state.isLive(fence)) throw fencedOutputError(fence);
    this.#checkRoom();
    const s = this.#stream(stream, true);
    const outcome = s.log.appendAt(parseStreamId(id), entryFields(fields));
    if (outcome === "out-of-order") throw outOfOrderError(stream, id);
    if (outcome === "duplicate") return { id, duplicate: true };
    this.#added(s);
    return { id, duplicate: false };
  }

  async ensureGroup(stream: string, group: string, startId = "0"): Promise<boolean> {
    this.#open();
    const s = this.#stream(stream, true);
    if (s.groups.has(group)) return false;
    const start = startId === "$" ? s.log.lastId : startId;
    s.groups.set(group, new MemoryGroup(group, start, s.log));
    return true;
  }

  async readNew(
    stream: string,
    group: string,
    consumer: string,
    options: ReadOptions,
  ): Promise<StreamEntry[]> {
    const { mayRead, lease } = options;
    // Checked right before each delivery, as Redis checks a lease with the read (nothing runs in between).
    const leases = this.leases();
    const allowed = () =>
      (!mayRead || mayRead()) && (!lease || leases.holds(lease.key, lease.holder, lease.generation));
    const blockMs = options.blockMs ?? 0;
    if (!allowed()) {
      // A lease that moved on: waits out the block as an empty read does, so a stale reader does not spin.
      if (lease && blockMs > 0) await sleep(this.#clock, blockMs);
      return [];
    }
    const entries = this.#deliverNew(stream, group, consumer, options.count);
    if (entries.length > 0 || blockMs <= 0) return entries;
    return this.#blockForNew(stream, group, consumer, options.count, blockMs, allowed);
  }

  async readPending(
    stream: string,
    group: string,
    consumer: string,
    options: PendingReadOptions,
  ): Promise<RedeliveredEntry[]> {
    const s = this.#stream(stream, false);
    return this.#group(s, stream, group).redeliverOwn(s.log, consumer, options, this.#clock.now());
  }

  async ack(stream: string, group: string, ids: readonly string[]): Promise<number> {
    this.#open();
    return this.#streams.get(stream)?.groups.get(group)?.ack(ids) ?? 0;
  }

  async pending(stream: string, group: string, query: PendingQuery): Promise<PendingInfo[]> {
    const s = this.#stream(stream, false);
    return this.#group(s, stream, group).pendingInfo(query, this.#clock.now());
  }

  async claimIdle(
    stream: string,
    group: string,
    consumer: string,
    options: ClaimOptions,
  ): Promise<ClaimResult> {
    const s = this.#stream(stream, false);
    return this.#group(s, stream, group).claimIdle(s.log, consumer, options, this.#clock.now());
  }

  async adoptPending(stream: string, group: string, consumer: string): Promise<AdoptResult> {
    const s = this.#stream(stream, false);
    return this.#group(s, stream, group).adopt(s.log, consumer, this.#clock.now());
  }

  async groups(stream: string): Promise<GroupInfo[]> {
    this.#open();
    const s = this.#streams.get(stream);
    if (!s) return [];
    return [...s.groups.values()].map((g) => g.info(s.log));
  }

  async groupInfo(stream: string, group: string): Promise<GroupInfo | null> {
    this.#open();
    const s = this.#streams.get(stream);
    const g = s?.groups.get(group);
    return s && g ? g.info(s.log) : null;
  }

  async consumers(stream: string, group: string): Promise<ConsumerInfo[]> {
    const s = this.#stream(stream, false);
    return this.#group(s, stream, group).consumerInfo(this.#clock.now());
  }

  async deleteConsumer(stream: string, group: string, consumer: string): Promise<"deleted" | "has-pending"> {
    const s = this.#stream(stream, false);
    return this.#group(s, stream, group).deleteConsumer(consumer);
  }

  async trim(stream: string, minId: string): Promise<number> {
    this.#open();
    const removed = this.#streams.get(stream)?.log.trim(minId) ?? 0;
    this.#entries -= removed;
    return removed;
  }

  async range(stream: string, options: RangeOptions): Promise<StreamEntry[]> {
    this.#open();
    const log = this.#streams.get(stream)?.log;
    const reverse = options.reverse ?? false;
    const start = options.start ?? (reverse ? "+" : "-");
    const end = options.end ?? (reverse ? "-" : "+");
    return log ? log.range(start, end, options.count, reverse) : [];
  }

  async delete(stream: string, ids: readonly string[]): Promise<number> {
    this.#open();
    const removed = this.#streams.get(stream)?.log.delete(ids) ?? 0;
    this.#entries -= removed;
    return removed;
  }

  async length(stream: string): Promise<number> {
    this.#open();
    return this.#streams.get(stream)?.log.length ?? 0;
  }

  async fixPartitions(stream: string, partitions: number): Promise<number> {
    this.#open();
    const key = partitionsKey(stream);
    const stored = this.#partitions.get(key);
    if (stored !== undefined) return stored;
    this.#partitions.set(key, partitions);
    return partitions;
  }

  async storedPartitions(stream: string): Promise<number | null> {
    this.#open();
    return this.#partitions.get(partitionsKey(stream)) ?? null;
  }

  async readMark(stream: string, name: string): Promise<string | null> {
    this.#open();
    return this.#marks.get(marksKey(stream))?.get(name) ?? null;
  }

  async writeMark(stream: string, name: string, value: string): Promise<void> {
    this.#open();
    const key = marksKey(stream);
    const marks = this.#marks.get(key) ?? new Map<string, string>();
    this.#marks.set(key, marks.set(name, value));
  }

  commit(stream: string, group: string, items: readonly CommitItem[]): Promise<CommitOutcome[]> {
    return commitSequentially(this, stream, group, items);
  }

  stateStore(options: StreamStateStoreOptions): MemoryStreamStateStore {
    const host = {
      space: this.#state,
      checkWritable: () => {
        this.#open();
        if (this.#entries >= this.#maxEntries) throw outOfMemory(this.#entries);
      },
      ack: (stream: string, group: string, ids: readonly string[]) =>
        this.#streams.get(stream)?.groups.get(group)?.ack(ids) ?? 0,
      now: () => this.#clock.now(),
    };
    return new MemoryStreamStateStore(host, options);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#leases.clearPresence();
    for (const s of this.#streams.values()) for (const wake of s.waiters) wake();
  }

  #append(stream: string, fields: WriteFields): string {
    this.#open();
    this.#checkRoom();
    const s = this.#stream(stream, true);
    const entry = s.log.append(this.#clock.now(), entryFields(fields));
    this.#added(s);
    return entry.id;
  }

  /** XADD under `id`: refused, as Redis does, unless it is above the stream's last id. */
  #appendUnder(stream: string, id: string, fields: WriteFields): string {
    this.#open();
    this.#checkRoom();
    const s = this.#stream(stream, true);
    // Refused, the log is unchanged: its last id is still the one the write fell below.
    if (s.log.appendAt(parseStreamId(id), entryFields(fields)) !== "appended")
      throw new TroupeError(
        "ERR_OUTPUT_WRITE",
        `${stream}: id ${id} is equal or smaller than the stream's last id ${formatStreamId(s.log.lastId)}`,
      );
    this.#added(s);
    return id;
  }

  /** An entry was added to `s`: counted against `maxEntries`, and its blocked readers woken. */
  #added(s: MemoryStream): void {
    this.#entries++;
    for (const wake of s.waiters) wake();
  }

  #checkRoom(): void {
    if (this.#entries >= this.#maxEntries) {
      throw new TroupeError(
        "ERR_OUTPUT_WRITE",
        `OOM: memory backend holds ${this.#entries} entries (maxEntries)`,
      );
    }
  }

  #deliverNew(stream: string, group: string, consumer: string, count: number): StreamEntry[] {
    const s = this.#stream(stream, false);
    return this.#group(s, stream, group).deliverNew(s.log, consumer, count, this.#clock.now());
  }

  /** XREADGROUP BLOCK: parks on the stream's waiters until an append brings entries or `blockMs` passes. */
  async #blockForNew(
    stream: string,
    group: string,
    consumer: string,
    count: number,
    blockMs: number,
    allowed: () => boolean,
  ): Promise<StreamEntry[]> {
    const s = this.#stream(stream, false);
    let expired = false;
    let wake: (() => void) | null = null;
    // One timer for the whole BLOCK, however many appends (taken by other consumers) wake it first.
    const timer = this.#clock.setTimeout(() => {
      expired = true;
      wake?.();
    }, blockMs);
    try {
      for (;;) {
        await new Promise<void>((resolve) => {
          const waiter = () => {
            s.waiters.delete(waiter);
            wake = null;
            resolve();
          };
          wake = waiter;
          s.waiters.add(waiter);
        });
        if (!allowed()) return [];
        const entries = this.#deliverNew(stream, group, consumer, count);
        if (entries.length > 0 || expired || this.#closed) return entries;
      }
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  #pruneDedup(now: number): void {
    let budget = DEDUP_PRUNE_PER_CALL;
    for (const [key, marker] of this.#dedup) {
      if (budget-- === 0 || marker.expiresAt > now) break;
      this.#dedup.delete(key);
    }
  }

  #stream(name: string, create: true): MemoryStream;
  #stream(name: string, create: false): MemoryStream;
  #stream(name: string, create: boolean): MemoryStream {
    this.#open();
    let s = this.#streams.get(name);
    if (!s) {
      if (!create) throw noGroup(name, "");
      s = { log: new MemoryLog(), groups: new Map(), waiters: new Set() };
      this.#streams.set(name, s);
    }
    return s;
  }

  #group(s: MemoryStream, stream: string, group: string): MemoryGroup {
    const g = s.groups.get(group);
    if (!g) throw noGroup(stream, group);
    return g;
  }

  #open(): void {
    if (this.#closed) throw new TroupeError("ERR_STREAM_BACKEND", "memory stream backend is closed");
  }
}

/** A state write refused at `maxEntries`, as Redis refuses writes past `maxmemory` under `noeviction`. */
function outOfMemory(entries: number): TroupeError {
  return new TroupeError("ERR_STREAM_BACKEND", `OOM: memory backend holds ${entries} entries (maxEntries)`);
}

function noGroup(stream: string, group: string): TroupeError {
  return new TroupeError("ERR_NOGROUP", `NOGROUP no such stream '${stream}' or consumer group '${group}'`);
}

/**
 * The stream backend contract: Redis Streams semantics (consumer groups, pending entries with delivery
 * counts and idle times, claim, ack) behind one interface, so the pump, dead letters, producer and
 * retention run unchanged on Redis (`RedisStreamBackend`) and on the embedded in-memory default
 * (`MemoryStreamBackend`). Both pass `test/streams/contract.ts`.
 *
 * Errors are {@link TroupeError}s: `ERR_NOGROUP` when the group (or stream) is missing,
 * `ERR_READ_STALLED` when a blocking read outlived its watchdog, `ERR_OUTPUT_WRITE` for a refused
 * write inside {@link StreamBackend.commit}, `ERR_FENCED` for a fenced write (an output or a state
 * checkpoint of an incarnation that was taken over), `ERR_STREAM_BACKEND` for anything else.
 */
import type { TroupeError } from "../errors.ts";
import { slotPrefix } from "./key-slot.ts";
import type { LeaseStore } from "./leases.ts";
import type { StreamStateStore, StreamStateStoreOptions } from "./stream-state-store.ts";

/** Values as written: strings are stored as UTF-8. */
export type WriteFields = Readonly<Record<string, string | Uint8Array>>;
/** Values as read: always bytes (payloads are binary msgpack). */
export type EntryFields = Record<string, Buffer>;

export interface StreamEntry {
  readonly id: string;
  /** `null` when the entry was deleted (XDEL / trim) while pending in the group. */
  readonly fields: EntryFields | null;
}

/** An entry delivered again (own history or claim), with the stream's delivery count after it. */
export interface RedeliveredEntry extends StreamEntry {
  readonly deliveries: number;
}

export type AppendResult =
  | { readonly ok: true; readonly id: string }
  | { readonly ok: false; readonly error: TroupeError };

export interface UniqueAppendResult {
  /** The id written now, or the one written by the first call with the same dedup id. */
  readonly id: string;
  /** True when an entry with this dedup id already existed: nothing was written. */
  readonly duplicate: boolean;
}

export interface ReadOptions {
  readonly count: number;
  /** Block up to this many ms for new entries; 0 returns at once. Keep it short (see RELIABILITY.md). */
  readonly blockMs?: number;
  /**
   * Asked again right before the read goes out, after any wait for its connection: false sends nothing and
   * returns no entries. For a read gated by a lease (a pump's `mayRead`): a read that waited for a
   * connection to come up must not take entries after the lease lapsed.
   */
  readonly mayRead?: () => boolean;
  /**
   * The lease the read is taken under (a partition's, leases.ts): checked in the backend with the read
   * itself (on Redis, WATCH on the lease and the XREADGROUP in MULTI / EXEC), so a read that reaches Redis after the lease moved
   * on, however late, takes nothing and returns no entries (a blocking one after its block, as an empty read
   * does); a blocking read re-checks it when woken. On a Redis Cluster the lease must share the stream's
   * slot for that; otherwise only `mayRead` guards the read.
   */
  readonly lease?: ReadLease;
}

/** A lease as its holder knows it: held by `holder` at `generation` (a later holder has a higher one). */
export interface ReadLease {
  /** The lease's key (`leaseKey`). */
  readonly key: string;
  readonly holder: string;
  readonly generation: number;
}

export interface PendingReadOptions {
  readonly count: number;
  /** Exclusive: entries after this id. @defaultValue "0-0" (the whole history) */
  readonly after?: string;
}

export interface PendingInfo {
  readonly id: string;
  readonly consumer: string;
  readonly idleMs: number;
  readonly deliveries: number;
}

export interface PendingQuery {
  readonly count: number;
  /** Exclusive lower bound, for paging. */
  readonly after?: string;
  readonly consumer?: string;
  readonly minIdleMs?: number;
}

export interface ClaimOptions {
  readonly minIdleMs: number;
  /** The most entries to take in this call (the caller's free capacity). */
  readonly count: number;
  /** Where a previous call stopped. @defaultValue "0-0" */
  readonly cursor?: string;
}

export interface ClaimResult {
  readonly entries: RedeliveredEntry[];
  /** Ids removed from the pending list because the entry no longer exists (Redis ≥ 7). */
  readonly deletedIds: string[];
  /** `"0-0"` once the whole pending list was scanned; otherwise where to continue. */
  readonly cursor: string;
}

export interface AdoptResult {
  /** Entries pending in the caller's name after the call: the group's whole pending list. */
  readonly pending: number;
  readonly deletedIds: string[];
}

export interface GroupInfo {
  readonly name: string;
  readonly consumers: number;
  readonly pending: number;
  readonly lastDeliveredId: string;
  /** Entries not yet delivered to the group; `null` when the backend cannot tell (Redis after XDEL). */
  readonly lag: number | null;
  /**
   * Entries delivered to the group so far (XINFO GROUPS `entries-read`), for rates: only its growth means
   * something. `null` when the backend cannot tell (Redis before the group's first read, or after an XDEL).
   */
  readonly entriesRead: number | null;
  /** Lowest id in the group's pending list. */
  readonly firstPendingId: string | null;
  /** Length of the stream the group reads. */
  readonly length: number;
}

export interface ConsumerInfo {
  readonly name: string;
  readonly pending: number;
  readonly idleMs: number;
}

export interface RangeOptions {
  /** Redis bounds: `-`, `+`, an id, or `(id` for exclusive. */
  readonly start?: string;
  readonly end?: string;
  readonly count: number;
  /** Newest first (XREVRANGE); `start` is then the upper bound. */
  readonly reverse?: boolean;
}

/**
 * Makes a write conditional on an incarnation of a durable actor still being live: `key` is the actor's
 * epoch registry (state-keys.ts), `epoch` the incarnation's. A write whose epoch was fenced (a newer
 * incarnation of its instance took over) is refused with `ERR_FENCED`.
 */
export interface OutputFence {
  readonly key: string;
  readonly epoch: number;
}

/**
 * One idempotent write: `dedupId` is unique per logical output, so a retry never writes twice; or, with
 * `at`, written under that stream id ({@link StreamBackend.appendAt}), which needs no marker.
 */
export interface OutputWrite {
  readonly stream: string;
  readonly dedupId: string;
  readonly fields: WriteFields;
  readonly ttlMs: number;
  readonly fence?: OutputFence;
  /** The id to write the entry under: its source entry's, for a stream in its source's order. */
  readonly at?: string;
}

export interface CommitItem {
  /** The source entry to ack once every output is written. */
  readonly id: string;
  readonly outputs: readonly OutputWrite[];
  /**
   * False writes the outputs only: the entry of a durable actor is acked by the state checkpoint that
   * covers it (stream-state-store.ts). @defaultValue true
   */
  readonly ack?: boolean;
}

export interface CommitOutcome {
  readonly id: string;
  /** The outputs are written and the entry acked (or, for an item with `ack: false`, the outputs written). */
  readonly acked: boolean;
  /** How many outputs were written now (duplicates excluded). */
  readonly written: number;
  /** Why the entry stayed pending (first failing output or the ack itself). */
  readonly error?: TroupeError;
}

export interface StreamBackend {
  /** "redis" or "memory", for stats and logs. */
  readonly kind: string;
  append(stream: string, fields: WriteFields): Promise<string>;
  /**
   * One pipelined batch; each entry reports its own result. With `ids`, entry `i` is written under
   * `ids[i]`, which must be above the stream's last id (else that entry is refused): how an idempotent
   * producer names its entries, so a resend can tell a write that landed ({@link appendAt}).
   */
  appendBatch(
    stream: string,
    batch: readonly WriteFields[],
    ids?: readonly string[],
  ): Promise<AppendResult[]>;
  /** The greatest id the stream has given, its deleted and trimmed entries' included; `0-0` for none. */
  lastId(stream: string): Promise<string>;
  /**
   * Raises the stream's last id to `<ms>-0` when it is below (XSETID; nothing for a stream not created yet):
   * an append under an id named before it is then refused. What a stream's one idempotent writer does when
   * it takes the writing over: a batch the previous writer named before it froze, still on its way, is
   * refused rather than written after the new writer read the stream.
   */
  raiseLastId(stream: string, ms: number): Promise<void>;
  /**
   * Writes once per `dedupId` while its marker lives (`ttlMs`); later calls return the first id. With a
   * `fence`, writes nothing and rejects with `ERR_FENCED` once the fence's epoch is no longer live.
   */
  appendUnique(
    stream: string,
    dedupId: string,
    fields: WriteFields,
    ttlMs: number,
    fence?: OutputFence,
  ): Promise<UniqueAppendResult>;
  /**
   * Writes under stream id `id`, which orders the writes and makes them idempotent without a marker (Kafka's
   * idempotent producer, by Redis's own id rule): an id above the stream's last is written; one the stream
   * holds, or below its oldest entry (trimmed since), is a duplicate; one inside the stream but absent came
   * after a later write, and is refused (`ERR_OUTPUT_WRITE`, out of order). For a stream written by one
   * producer in the order of its source, under the source's ids. `fence` as in `appendUnique`.
   */
  appendAt(stream: string, id: string, fields: WriteFields, fence?: OutputFence): Promise<UniqueAppendResult>;
  /** Creates the group (and the stream) if missing; returns false when it already existed. */
  ensureGroup(stream: string, group: string, startId?: string): Promise<boolean>;
  /** New entries (`>`), delivered to `consumer` and added to its pending list. */
  readNew(stream: string, group: string, consumer: string, options: ReadOptions): Promise<StreamEntry[]>;
  /** The consumer's own pending entries after `after` (XREADGROUP with an id); counts deliveries again. */
  readPending(
    stream: string,
    group: string,
    consumer: string,
    options: PendingReadOptions,
  ): Promise<RedeliveredEntry[]>;
  ack(stream: string, group: string, ids: readonly string[]): Promise<number>;
  pending(stream: string, group: string, query: PendingQuery): Promise<PendingInfo[]>;
  /** XAUTOCLAIM, looped until `count` entries or the cursor wraps to `0-0`. */
  claimIdle(stream: string, group: string, consumer: string, options: ClaimOptions): Promise<ClaimResult>;
  /**
   * Takes over every entry pending in the group's other consumers at once, idle or not, without delivering
   * it or counting a delivery (XAUTOCLAIM with min-idle 0 and JUSTID): the caller's own-history replay then
   * delivers them, in id order, before anything new. Only for a consumer that owns the group's work alone
   * (an actor with durable state, whose restore fenced the previous owner), since it takes entries a live
   * consumer may still be handling. Pending entries that no longer exist leave the pending list and are
   * reported in `deletedIds`.
   */
  adoptPending(stream: string, group: string, consumer: string): Promise<AdoptResult>;
  groups(stream: string): Promise<GroupInfo[]>;
  groupInfo(stream: string, group: string): Promise<GroupInfo | null>;
  consumers(stream: string, group: string): Promise<ConsumerInfo[]>;
  /** Deletes the consumer unless it still owns pending entries (DELCONSUMER would drop them). */
  deleteConsumer(stream: string, group: string, consumer: string): Promise<"deleted" | "has-pending">;
  /** Removes entries with ids below `minId` (XTRIM MINID, exact). */
  trim(stream: string, minId: string): Promise<number>;
  range(stream: string, options: RangeOptions): Promise<StreamEntry[]>;
  delete(stream: string, ids: readonly string[]): Promise<number>;
  length(stream: string): Promise<number>;
  /**
   * Stores `partitions` as the partition count of the logical stream `stream` unless one is stored already
   * (partitions.ts); returns the stored count, the first caller's. Never changes a stored count.
   */
  fixPartitions(stream: string, partitions: number): Promise<number>;
  /** The partition count stored for the logical stream `stream`, or null when none is (never created). */
  storedPartitions(stream: string): Promise<number | null>;
  /**
   * A small value kept with `stream` under `name` (how far a replay into it got), or null when none is:
   * marks outlive the process that wrote them, as the stream does.
   */
  readMark(stream: string, name: string): Promise<string | null>;
  /** Sets `name`'s mark of `stream` to `value`. */
  writeMark(stream: string, name: string, value: string): Promise<void>;
  /**
   * Writes each item's outputs, then acks exactly the items whose outputs were all written (or
   * already existed). Every reply is checked: a refused write (e.g. Redis out of memory, which still
   * accepts XACK) leaves that item pending with its error instead of acking it unprocessed.
   */
  commit(stream: string, group: string, items: readonly CommitItem[]): Promise<CommitOutcome[]>;
  /** Partition leases and group membership on this backend (ownership.ts). */
  leases(): LeaseStore;
  /** A store for durable actor state kept next to the stream `anchor`, on this backend. */
  stateStore(options: StreamStateStoreOptions): StreamStateStore;
  close(): Promise<void>;
}

/** The key that holds a logical stream's partition count (partitions.ts). */
export function partitionsKey(stream: string): string {
  return `${stream}:partitions`;
}

/**
 * A dedup id made of names and ids: joined with "/", every part but the last with its "%" and "/" escaped
 * (%25, %2F), so that two sources never share one (stream "a/b" and group "c" against stream "a" and group
 * "b/c": a spec test saw one's output taken for the other's, and its entry acked without it). A part with
 * neither is unchanged, so are the ids of such names.
 */
export function dedupPath(...parts: string[]): string {
  const last = parts.length - 1;
  let id = "";
  for (let i = 0; i < last; i++) id += `${escapePathPart(parts[i] as string)}/`;
  return id + parts[last];
}

/** Looked for first: a replace on every output cost ~190 ns, most names hold neither. */
function escapePathPart(part: string): string {
  return part.includes("/") || part.includes("%") ? part.replace(/[%/]/g, escapePathChar) : part;
}

function escapePathChar(char: string): string {
  return char === "%" ? "%25" : "%2F";
}

/** The hash of a stream's marks ({@link StreamBackend.readMark}). */
export function marksKey(stream: string): string {
  return `${stream}:marks`;
}

/**
 * The key that marks a written output; shared so both backends describe the same state. It sits in the
 * stream's Redis Cluster slot (key-slot.ts), so the append and its marker are one script.
 */
export function dedupKey(stream: string, dedupId: string): string {
  return `${slotPrefix(stream)}:dedup:${dedupId}`;
}

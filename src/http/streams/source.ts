/**
 * What the control API needs from the streams layer, and nothing more. The HTTP code depends on this
 * interface only; `createStreamsSource()` (backend-source.ts) implements it over a `StreamBackend`
 * and the pumps, so the API works the same on the in-memory backend and on Redis, and an embedding app
 * can supply its own (e.g. for streams read by another process).
 */
import type { DeadLetterFilter, StreamDeadLetter } from "../../streams/dead-letters.ts";

/**
 * `high` / `critical`: lag (entries or seconds) or pending passed that watermark (`StreamsSourceOptions.lag`,
 * `.lagSeconds`, `.pending`); the worst of the three counts. Pending counts here only beyond what this
 * process's pumps hold (work under way, up to their actors' mailboxes): entries nobody live is working on.
 */
export type WatermarkState = "ok" | "high" | "critical";

export interface StreamGroupInfo {
  readonly stream: string;
  readonly group: string;
  /** Entries in the stream (all groups share it). */
  readonly length: number;
  /** Entries not yet delivered to the group; `null` when unknown (Redis after an XDEL or trim). */
  readonly lag: number | null;
  /**
   * Age in seconds of the oldest entry not yet delivered to the group (from its stream id, which is its
   * write time); 0 when nothing waits; `null` when it could not be read.
   */
  readonly lagSeconds: number | null;
  /** Entries delivered to the group per second over the last few seconds; `null` until known. */
  readonly rate: number | null;
  /** Delivered and not acknowledged. */
  readonly pending: number;
  /** Idle time of the group's oldest pending entry; `null` when nothing is pending. */
  readonly oldestPendingIdleMs: number | null;
  readonly consumers: number;
  /** Where this group's dead letters go, and how many records it holds now. */
  readonly deadLetterStream: string;
  readonly deadLetters: number;
  readonly watermark: WatermarkState;
  /**
   * Read by the owner of one unit of a shared-out set (a partition of a partitioned stream, one of the
   * scanner's analyzers) that this process's members may own: who owns it now.
   */
  readonly partition?: PartitionInfo;
}

/** The unit (partition) whose owner reads a group: which one, its owner now, and its lease. */
export interface PartitionInfo {
  /** What it is a unit of: the logical stream (`PartitionedStream.name`), or the scanner's `<prefix>analyzers`. */
  readonly of: string;
  readonly index: number;
  readonly partitions: number;
  /** The member holding the partition's lease; `null` while nobody does (between two owners). */
  readonly owner: string | null;
  /** Time left on the lease (its owner renews it every `renewMs`); 0 when nobody holds it. */
  readonly leaseTtlMs: number;
  /** How long this process's member has owned it; `null` when another member does, or nobody. */
  readonly ownedForMs: number | null;
}

/** Why an entry is pending: who holds it, for how long, how often it was delivered. */
export interface PendingEntryInfo {
  readonly id: string;
  readonly consumer: string;
  readonly idleMs: number;
  readonly deliveries: number;
}

/**
 * A stream dead letter as the API shows it: its id made unique across dead-letter streams, and a preview
 * of its payload instead of the raw fields.
 */
export type DeadLetterView = Omit<StreamDeadLetter, "id" | "fields"> & {
  /** `<dead-letter stream>:<record id>`, e.g. `tx:dlq:1719000000000-0`. */
  readonly id: string;
  /** The decoded payload as JSON, cut to a few hundred characters; `null` when the entry was gone. */
  readonly preview: string | null;
  /** Whether it can be replayed: its original fields survived and came from a stream (not rejected input). */
  readonly replayable: boolean;
};

export interface PageRequest {
  /** Opaque: the `next` of the previous page. */
  readonly cursor?: string | undefined;
  readonly count: number;
}

export interface Page<T> {
  readonly entries: T[];
  /** Pass as `cursor` for the next page; `null` at the end. */
  readonly next: string | null;
}

export interface BackendHealth {
  readonly kind: "redis" | "memory";
  readonly up: boolean;
  /** Round trip of a cheap read; `null` when it failed or timed out. */
  readonly pingMs: number | null;
  readonly error: string | null;
}

/** A fact from the streams layer worth an operator's attention (forwarded on `/events`). */
export interface StreamAlert {
  readonly kind:
    | "deadLettered"
    | "readFailed"
    | "outputFailed"
    | "groupRecreated"
    | "deletedWhilePending"
    | "claimed"
    | "paused"
    | "resumed"
    | "partitionAssigned"
    | "partitionRevoked"
    | "partitionHandlerFailed"
    | "memberDeparted";
  readonly level: "info" | "warning" | "critical";
  readonly stream: string;
  readonly group: string;
  readonly message: string;
}

export interface DeadLetterStore {
  /** Oldest first; a page may hold fewer than `count` matches (records are scanned `count` at a time). */
  list(filter: DeadLetterFilter, page: PageRequest): Promise<Page<DeadLetterView>>;
  /** Appends the original entry to its stream again and removes the record. */
  replay(id: string): Promise<"replayed" | "not-found" | "not-replayable">;
  /** Replays every matching record in batches of `batchSize`; returns how many were replayed. */
  replayAll(filter: DeadLetterFilter, options: { batchSize: number }): Promise<number>;
  /** False when there is no such record. */
  remove(id: string): Promise<boolean>;
}

export interface StreamsSource {
  /** Every group of every watched stream. */
  overview(): Promise<StreamGroupInfo[]>;
  /** Pending entries of one group, oldest first. Rejects with `ERR_NOGROUP` for an unknown stream or group. */
  pending(stream: string, group: string, page: PageRequest): Promise<Page<PendingEntryInfo>>;
  readonly deadLetters: DeadLetterStore;
  /** Whether the backend answers, and how fast; never throws. */
  backendHealth(): Promise<BackendHealth>;
  /** Subscribes to stream alerts; returns the unsubscribe function. */
  subscribe(listener: (alert: StreamAlert) => void): () => void;
}

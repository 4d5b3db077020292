/**
 * The pump's typed events (past-tense facts, one payload object each) and its stats snapshot. Events
 * are per batch on the hot path (`acked` carries the ids of one commit), so listening costs no
 * per-message call.
 */
import type { SerializedError, TroupeError } from "../errors.ts";
import type { DeadLetterReason } from "./dead-letters.ts";

/** Where an entry came from. */
export type EntrySource = "new" | "replayed" | "claimed";

export interface PumpEvents {
  /** The group exists and the first read (own pending history) is about to start. */
  started(event: { stream: string; group: string; consumer: string }): void;
  /** A read returned entries. */
  read(event: { count: number; source: EntrySource }): void;
  /** The replay of this consumer's own pending entries finished; new entries follow. */
  replayed(event: { count: number }): void;
  /** Outputs written and source entries acked (one commit round). */
  acked(event: { ids: readonly string[]; outputsWritten: number }): void;
  /** An entry was written to the dead-letter stream and then acked. */
  deadLettered(event: {
    entryId: string;
    reason: DeadLetterReason;
    deliveries: number;
    error: string | null;
  }): void;
  /** Output writes (or the ack) of these entries failed; they stay pending and are retried. */
  outputFailed(event: {
    entryIds: readonly string[];
    error: TroupeError;
    attempt: number;
    retryInMs: number;
  }): void;
  /** Entries idle in other consumers were claimed by this one. */
  claimed(event: { count: number; deleted: number }): void;
  /** A pending entry no longer exists in the stream (XDEL / trim); it is dead-lettered by id. */
  deletedWhilePending(event: { entryId: string }): void;
  /** The target gave an entry back without a result; it stays pending and is replayed later. */
  released(event: { entryId: string; code: string }): void;
  /** A read failed; the pump backs off, then replays its own history (a lost reply may have delivered). */
  readFailed(event: { error: TroupeError; retryInMs: number }): void;
  /** The group was missing (e.g. Redis restarted without persistence) and was created again. */
  groupRecreated(event: { stream: string; group: string }): void;
  /** The periodic sweep failed (claim, consumer cleanup or stats); it runs again next period. */
  sweepFailed(event: { error: TroupeError }): void;
  /** An idle consumer without pending entries was deleted. */
  consumerRemoved(event: { consumer: string }): void;
  /** Reading stopped: asked for, or the target reported ERR_ACTOR_FAILED. */
  paused(event: { reason: "requested" | "target-failed" }): void;
  resumed(event: Record<string, never>): void;
  /** `stop()` finished; `abandoned` entries were still unacked at its deadline (they stay pending). */
  stopped(event: { abandoned: number }): void;
}

export interface PumpStats {
  read: number;
  delivered: number;
  acked: number;
  deadLettered: number;
  outputsWritten: number;
  outputFailures: number;
  claimed: number;
  deletedWhilePending: number;
  released: number;
  readErrors: number;
  /** Entries in the process now (waiting, in actors, being committed); never above the credits. */
  held: number;
  lastError: SerializedError | null;
  /** From the last sweep or `refresh()`: the group's lag (`null` = unknown) and pending count. */
  lag: number | null;
  pending: number | null;
  snapshotAt: number | null;
}

export function emptyStats(): PumpStats {
  return {
    read: 0,
    delivered: 0,
    acked: 0,
    deadLettered: 0,
    outputsWritten: 0,
    outputFailures: 0,
    claimed: 0,
    deletedWhilePending: 0,
    released: 0,
    readErrors: 0,
    held: 0,
    lastError: null,
    lag: null,
    pending: null,
    snapshotAt: null,
  };
}

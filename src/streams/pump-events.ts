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
  /** Source entries acked (one commit round, or one tick of state checkpoints) and their outputs written. */
  acked(event: { ids: readonly string[]; outputsWritten: number }): void;
  /**
   * Outputs of entries settled by a durable instance were written (one commit round); the entries are
   * acked later, by the state checkpoint that covers them (`acked`).
   */
  written(event: { ids: readonly string[]; outputsWritten: number }): void;
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
  /**
   * A durable instance's outputs were refused: its epoch was taken over (it is a zombie, or it crashed and
   * was restored). Not retried; a checkpoint of the newer incarnation in this process that covers the
   * entries writes them under its own epoch.
   */
  outputFenced(event: { entryIds: readonly string[]; error: TroupeError }): void;
  /** Entries idle in other consumers were claimed by this one. */
  claimed(event: { count: number; deleted: number }): void;
  /** A pending entry no longer exists in the stream (XDEL / trim); it is dead-lettered by id. */
  deletedWhilePending(event: { entryId: string }): void;
  /**
   * The target gave an entry back without a result; it stays pending and is replayed later. The entries read
   * after it that the target had not taken yet go back with it (`ERR_BEHIND_RELEASED`), to follow it again.
   */
  released(event: { entryId: string; code: string }): void;
  /** A read failed; the pump backs off, then replays its own history (a lost reply may have delivered). */
  readFailed(event: { error: TroupeError; retryInMs: number }): void;
  /**
   * The group was missing (e.g. Redis restarted without persistence) and was created again. What the
   * vanished group had not finished is gone with it; `lost` estimates how much (see {@link LossReport}).
   */
  groupRecreated(event: { stream: string; group: string } & LossReport): void;
  /** The backend left a probe unanswered for `stallAfterMs`, or failed it: reads and commits wait. */
  backendStalled(event: { since: number; error: TroupeError | null }): void;
  /** The backend answered again after a stall. */
  backendRecovered(event: { stalledMs: number }): void;
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

/**
 * What a pump can tell about the entries lost with a vanished group. The group's own counters are gone,
 * so `lost` is computed from the last snapshot of the group (the sweep's or `refresh()`'s): its pending
 * and unread entries then, less the entries this pump finished since and the entries it still holds
 * (those are finished normally; their acks find nothing to ack). It is exact when nothing was appended
 * after that snapshot and this pump is the group's only consumer; entries appended later are missed, and
 * with several pumps each reports the group's loss. `null` when there was no snapshot, or its lag was
 * unknown (Redis reports none after an XDEL or trim in the unread range).
 */
export interface LossReport {
  /** Entries this pump held when the loss was found. */
  held: number;
  lost: number | null;
  /** When the snapshot was taken (epoch ms), and the group's last-delivered id then. */
  lastSeenAt: number | null;
  lastDeliveredId: string | null;
}

export interface PumpStats {
  read: number;
  /** Entries handed over in process before the stream brought them (`Pump.handOver`); not in `read`. */
  handedOver: number;
  delivered: number;
  acked: number;
  deadLettered: number;
  outputsWritten: number;
  outputFailures: number;
  /** Output writes refused as fenced (see the `outputFenced` event). */
  outputsFenced: number;
  claimed: number;
  deletedWhilePending: number;
  released: number;
  readErrors: number;
  /** Times the group was found missing and created again. */
  groupsRecreated: number;
  /** Sum of the `lost` estimates of those recreations (see {@link LossReport}). */
  entriesLost: number;
  /** Since when the backend has not answered the health probe (epoch ms); `null` while it answers. */
  stalledSince: number | null;
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
    handedOver: 0,
    delivered: 0,
    acked: 0,
    deadLettered: 0,
    outputsWritten: 0,
    outputFailures: 0,
    outputsFenced: 0,
    claimed: 0,
    deletedWhilePending: 0,
    released: 0,
    readErrors: 0,
    groupsRecreated: 0,
    entriesLost: 0,
    stalledSince: null,
    held: 0,
    lastError: null,
    lag: null,
    pending: null,
    snapshotAt: null,
  };
}

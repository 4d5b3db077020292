/**
 * Main-thread side of one durable instance's checkpoints: when to ask the worker for one, committing it
 * to the state store with what it covers, retrying a refused commit, and what is left after a crash.
 *
 * At most one checkpoint is in the works at a time: asked of the worker, or being committed. A commit the
 * store refuses is retried with backoff; checkpoints taken meanwhile join it (their segments appended in
 * order, the covered messages adding up), so one is pending at most, and the messages it covers keep
 * their credits until it is durable: a store that stays down stalls the actor (backpressure), never
 * memory. A commit refused as ERR_FENCED means a newer incarnation took over: the instance is fenced.
 */

import { errorCode, type TroupeError } from "../errors.ts";
import { type BackoffOptions, backoffDelay } from "../time/backoff.ts";
import type { Clock, TimerHandle } from "../time/clock.ts";
import type { Mailbox } from "./mailbox.ts";
import type { CheckpointMessage } from "./protocol.ts";
import type { StateOptions } from "./spawn-options.ts";
import { segmentRecords } from "./state-segment.ts";
import type { RestoredState, StateScope } from "./state-store.ts";
import type { CheckpointStats, DurableStats } from "./stats.ts";

/** What the checkpointer needs from its instance. */
export interface CheckpointHost {
  readonly clock: Clock;
  /** Asks the live worker for a checkpoint; false when no worker is connected. */
  request(): boolean;
  /** The store refused a commit as ERR_FENCED. */
  fenced(error: TroupeError): void;
  /** The store refused a commit as ERR_STATE_LOST: it holds no record of the state any more. */
  lost(error: TroupeError): void;
}

/** A checkpoint received from the worker and not yet durable. */
interface Pending {
  /** Segments in order: checkpoints taken while a refused commit waited are appended, not merged. */
  segments: Uint8Array[];
  /** Records in the segments (keys written). */
  keys: number;
  /** The oldest `count` uncovered messages are what it covers. */
  count: number;
  bytes: number;
  pauseMs: number;
  workMs: number;
  requestedAt: number;
}

export class Checkpointer {
  readonly #options: Required<StateOptions>;
  readonly #scope: StateScope;
  readonly #mailbox: Mailbox;
  readonly #backoff: Required<BackoffOptions>;
  readonly #host: CheckpointHost;
  /** Uncovered messages (not yet in any checkpoint) that make a checkpoint due at once. */
  readonly #dueAt: number;
  #epoch = 0;
  #connected = false;
  #draining = false;
  /** When the request now at the worker was sent; null when none is. */
  #requestedAt: number | null = null;
  #pending: Pending | null = null;
  #committing: Promise<void> | null = null;
  #retryTimer: TimerHandle | null = null;
  #intervalTimer: TimerHandle | null = null;
  #attempt = 0;
  #checkpoints = 0;
  #failures = 0;
  #fencedWrites = 0;
  #lost = 0;
  #last: Omit<CheckpointStats, "ageMs"> | null = null;
  #restore: { keys: number; ms: number } | null = null;

  constructor(
    options: Required<StateOptions>,
    scope: StateScope,
    mailbox: Mailbox,
    backoff: Required<BackoffOptions>,
    host: CheckpointHost,
  ) {
    this.#options = options;
    this.#scope = scope;
    this.#mailbox = mailbox;
    this.#backoff = backoff;
    this.#host = host;
    // Half the capacity at most, so the credit window never stalls on messages waiting for a checkpoint.
    this.#dueAt = Math.min(options.checkpointEvery, Math.max(1, Math.floor(mailbox.capacity / 2)));
  }

  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Takes the scope over (a new epoch) and reads its last durable checkpoint. A restart after an
   * incarnation of this instance continues that epoch's ownership: refused (ERR_FENCED) if it was taken over.
   * A first start that expected a record (`expectRecord`) and found none reports the state lost.
   */
  async restore(): Promise<RestoredState> {
    const first = this.#epoch === 0;
    const restored = await this.#options.store.restore(this.#scope, first ? undefined : this.#epoch);
    if (first && this.#options.expectRecord && restored.found === false) return { ...restored, lost: true };
    return restored;
  }

  /** A restored worker is taking messages under `epoch`. */
  connected(epoch: number, restore: { keys: number; ms: number }): void {
    this.#epoch = epoch;
    this.#mailbox.epoch = epoch;
    this.#restore = restore;
    this.#connected = true;
    this.#draining = false;
    this.consider();
  }

  /**
   * The worker is gone: nothing more is asked of it and a pending checkpoint is dropped (the messages it
   * covers are redelivered and covered again by the next incarnation). A commit already under way may
   * still succeed; {@link settled} waits for it.
   */
  disconnected(): void {
    this.#connected = false;
    this.#requestedAt = null;
    this.#clearTimers();
    if (!this.#committing) this.#pending = null;
  }

  /** Resolves once no commit is under way: what is uncovered then is exactly what must be redelivered. */
  settled(): Promise<void> {
    return this.#committing ?? Promise.resolve();
  }

  /** The actor is stopping: checkpoint what is handled as soon as the worker has nothing left to do. */
  drain(): void {
    this.#draining = true;
    this.consider();
  }

  /** Asks for a checkpoint if one is due (after messages became uncovered, or a commit ended). */
  consider(): void {
    if (!this.#connected || this.#requestedAt !== null || this.#committing) return;
    const fresh = this.#mailbox.uncovered - (this.#pending?.count ?? 0);
    if (fresh <= 0) {
      this.#clearInterval();
      return;
    }
    if (fresh >= this.#dueAt || (this.#draining && this.#mailbox.held === 0)) {
      this.#request();
    } else if (!this.#intervalTimer) {
      this.#intervalTimer = this.#host.clock.setTimeout(() => {
        this.#intervalTimer = null;
        if (this.#connected && this.#requestedAt === null && !this.#committing) this.#request();
      }, this.#options.checkpointIntervalMs);
    }
  }

  /** The worker's checkpoint: merge it into a pending one (a refused commit) or commit it. */
  received(message: CheckpointMessage): void {
    const requestedAt = this.#requestedAt ?? this.#host.clock.now();
    this.#requestedAt = null;
    const count = this.#mailbox.uncoveredUpTo(message.upTo);
    const segment = message.segment;
    const keys = segment ? segmentRecords(segment) : 0;
    const bytes = segment?.byteLength ?? 0;
    const pending = this.#pending;
    if (pending) {
      if (segment) pending.segments.push(segment);
      pending.count = count;
      pending.keys += keys;
      pending.bytes += bytes;
      pending.pauseMs = Math.max(pending.pauseMs, message.pauseMs);
      pending.workMs += message.workMs;
    } else if (count > 0 || segment) {
      this.#pending = {
        segments: segment ? [segment] : [],
        count,
        keys,
        bytes,
        pauseMs: message.pauseMs,
        workMs: message.workMs,
        requestedAt,
      };
    }
    this.#commit();
    this.consider();
  }

  stats(): DurableStats {
    const last = this.#last;
    return {
      epoch: this.#epoch,
      uncovered: this.#mailbox.uncovered,
      checkpoints: this.#checkpoints,
      checkpointFailures: this.#failures,
      fencedWrites: this.#fencedWrites,
      lostWrites: this.#lost,
      lastCheckpoint: last ? { ...last, ageMs: this.#host.clock.now() - last.at } : null,
      restore: this.#restore,
    };
  }

  #request(): void {
    this.#clearInterval();
    if (this.#host.request()) this.#requestedAt = this.#host.clock.now();
  }

  #commit(): void {
    const pending = this.#pending;
    if (!pending || this.#committing || this.#retryTimer || this.#requestedAt !== null) return;
    const checkpoint = {
      scope: this.#scope,
      epoch: this.#epoch,
      segments: pending.segments,
      covers: this.#mailbox.coverTags(pending.count),
    };
    this.#committing = this.#options.store.commit(checkpoint).then(
      () => {
        this.#committing = null;
        this.#pending = null;
        this.#attempt = 0;
        this.#checkpoints++;
        const at = this.#host.clock.now();
        this.#last = {
          at,
          keys: pending.keys,
          bytes: pending.bytes,
          durationMs: at - pending.requestedAt,
          pauseMs: pending.pauseMs,
          workMs: pending.workMs,
        };
        this.#mailbox.covered(pending.count);
        this.consider();
      },
      (error: unknown) => {
        this.#committing = null;
        const code = errorCode(error);
        if (code === "ERR_FENCED" || code === "ERR_STATE_LOST") {
          this.#pending = null;
          this.#connected = false;
          this.#clearTimers();
          if (code === "ERR_FENCED") {
            this.#fencedWrites++;
            this.#host.fenced(error as TroupeError);
          } else {
            this.#lost++;
            this.#host.lost(error as TroupeError);
          }
          return;
        }
        this.#failures++;
        if (!this.#connected) {
          this.#pending = null;
          return;
        }
        const delay = backoffDelay(this.#attempt++, this.#backoff);
        this.#retryTimer = this.#host.clock.setTimeout(() => {
          this.#retryTimer = null;
          this.#commit();
        }, delay);
        // Later checkpoints may be taken meanwhile and merged into this one.
        this.consider();
      },
    );
  }

  #clearInterval(): void {
    if (this.#intervalTimer) this.#host.clock.clearTimeout(this.#intervalTimer);
    this.#intervalTimer = null;
  }

  #clearTimers(): void {
    this.#clearInterval();
    if (this.#retryTimer) this.#host.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }
}

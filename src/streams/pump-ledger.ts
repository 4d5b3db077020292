/**
 * Every entry a pump holds, from read to ack. An entry is decoded (or dead-lettered at once), handed
 * to the target in stream order within its credits, settled by the target's `done`, then committed
 * (outputs written, then acked) or dead-lettered (record written, then acked) or released (left
 * pending for a replay). Nothing leaves the ledger any other way, which is what makes "never ack an
 * unprocessed entry" (the seed's bug A) and "never drop a failed write" (bug B) checkable in one place.
 */
import type { Emitter } from "nanoevents";
import { errorCode, serializeError, type TroupeError } from "../errors.ts";
import { Deque } from "../runtime/deque.ts";
import type { EntryFields, OutputWrite, StreamBackend } from "./backend.ts";
import { messageOf } from "./commit.ts";
import { type CommitJob, Committer } from "./committer.ts";
import { type DeadLetterReason, deadLetterWrite } from "./dead-letters.ts";
import type { Output } from "./outputs.ts";
import type { EntrySource, PumpEvents, PumpStats } from "./pump-events.ts";
import { type ResolvedPumpOptions, retryBackoff } from "./pump-options.ts";
import type { PumpTarget } from "./pump-target.ts";

/**
 * An entry as read: `fields` null when deleted while pending; `deliveries` counts this one, and is left
 * out by a read of new entries (their first delivery).
 */
export interface Incoming {
  readonly id: string;
  readonly fields: EntryFields | null;
  readonly deliveries?: number;
}

interface Held<M> {
  readonly id: string;
  readonly deliveries: number;
  readonly fields: EntryFields | null;
  message?: M;
  /** Accepted by the target and not settled yet: counted in `#inActors`. */
  inActor: boolean;
  settled: boolean;
}

/** What the ledger needs from its pump. */
export interface LedgerHost {
  /** False once stopping: entries are no longer handed to the target. */
  delivering(): boolean;
  /** An entry was released: replay own history once the ledger is empty. */
  released(): void;
  /** The target reported ERR_ACTOR_FAILED: stop reading until resumed. */
  targetFailed(): void;
  /** Something the read loop may be waiting for changed (room, an empty ledger). */
  changed(): void;
  /** Entries were committed: progress, so replay backoff starts over. */
  progressed(): void;
}

const NO_WRITES: readonly OutputWrite[] = Object.freeze([]);

export class PumpLedger<M, R> {
  readonly #options: ResolvedPumpOptions<M, R>;
  readonly #target: PumpTarget<M, R>;
  readonly #events: Emitter<PumpEvents>;
  readonly #stats: PumpStats;
  readonly #host: LedgerHost;
  readonly #committer: Committer;
  readonly #held = new Map<string, Held<M>>();
  /** Decoded entries the target has not accepted yet (their instance had no credit), in stream order. */
  readonly #waiting = new Deque<Held<M>>();
  #inActors = 0;
  #draining = false;
  #drainAgain = false;
  #closed = false;

  constructor(
    backend: StreamBackend,
    target: PumpTarget<M, R>,
    options: ResolvedPumpOptions<M, R>,
    shared: { events: Emitter<PumpEvents>; stats: PumpStats; host: LedgerHost },
  ) {
    this.#options = options;
    this.#target = target;
    this.#events = shared.events;
    this.#stats = shared.stats;
    this.#host = shared.host;
    this.#committer = new Committer(
      backend,
      {
        stream: options.stream,
        group: options.group,
        batch: options.commitBatch,
        maxAttempts: options.maxCommitAttempts,
        retry: retryBackoff(options),
        clock: options.clock,
      },
      {
        committed: (done) => this.#committed(done),
        failed: (jobs, error, attempt, retryInMs) => this.#commitFailed(jobs, error, attempt, retryInMs),
        gaveUp: (job, error) =>
          this.#deadLetterJob(this.#held.get(job.item.id)!, "output-failed", error.message),
      },
    );
  }

  get size(): number {
    return this.#held.size;
  }

  /** Entries the pump may still take in: free credits minus what it holds outside the actors. */
  room(): number {
    return Math.min(this.#options.maxBatch, this.#target.freeCredits() - (this.#held.size - this.#inActors));
  }

  /** Takes in read entries (skipping ones already held) and hands them on; returns how many it took. */
  accept(entries: readonly Incoming[], source: EntrySource): number {
    const { maxDeliveries, codec, toMessage, stream } = this.#options;
    let count = 0;
    for (const entry of entries) {
      if (this.#held.has(entry.id)) continue;
      count++;
      const held: Held<M> = {
        id: entry.id,
        deliveries: entry.deliveries ?? 1,
        fields: entry.fields,
        inActor: false,
        settled: false,
      };
      this.#held.set(held.id, held);
      if (entry.fields === null) {
        this.#stats.deletedWhilePending++;
        this.#events.emit("deletedWhilePending", { entryId: entry.id });
        this.#deadLetter(held, "deleted-while-pending");
      } else if (held.deliveries > maxDeliveries) {
        this.#deadLetter(held, "max-deliveries", `delivered ${held.deliveries} times (max ${maxDeliveries})`);
      } else {
        try {
          const payload = codec.decode(entry.fields);
          held.message = toMessage({ stream, id: entry.id, payload, deliveries: held.deliveries });
          this.#waiting.push(held);
        } catch (error) {
          this.#deadLetter(held, "malformed", messageOf(error));
        }
      }
    }
    if (count === 0) return 0;
    this.#stats.read += count;
    this.#events.emit("read", { count, source });
    this.drain();
    return count;
  }

  /** Hands waiting entries to the target in order, until one is refused for lack of credit. */
  drain(): void {
    if (this.#draining) {
      this.#drainAgain = true;
      return;
    }
    this.#draining = true;
    try {
      do {
        this.#drainAgain = false;
        let given = 0;
        while (given < this.#waiting.length && this.#host.delivering()) {
          const held = this.#waiting.at(given)!;
          let accepted: boolean;
          try {
            accepted = this.#target.deliver(
              held.message as M,
              (error, result) => this.#settle(held, error, result),
              held.deliveries - 1,
            );
          } catch (error) {
            given++;
            this.#release(held, errorCode(error) ?? "ERR_DELIVER_THREW");
            continue;
          }
          if (!accepted) break;
          given++;
          // `done` may already have run inside deliver(); then the entry never counted as in an actor.
          if (!held.settled) {
            held.inActor = true;
            this.#inActors++;
          }
          this.#stats.delivered++;
        }
        this.#waiting.dropFront(given);
      } while (this.#drainAgain);
    } finally {
      this.#draining = false;
    }
  }

  /** Gives back every entry the target never accepted: they stay pending for the next replay. */
  releaseWaiting(code: string): void {
    for (const held of this.#waiting.drain()) this.#release(held, code);
  }

  /** Stops committing; what is still held stays pending in the stream. Returns how many. */
  close(): number {
    this.#closed = true;
    this.#committer.stop();
    const abandoned = this.#held.size;
    this.#held.clear();
    return abandoned;
  }

  #settle(held: Held<M>, error: TroupeError | null, result: R | undefined): void {
    if (held.settled) return;
    held.settled = true;
    if (held.inActor) {
      held.inActor = false;
      this.#inActors--;
    }
    if (this.#closed) return;
    if (error === null) {
      let outputs: readonly Output[];
      try {
        outputs = this.#options.outputsOf(result);
      } catch (invalid) {
        this.#deadLetter(held, "invalid-outputs", messageOf(invalid));
        return;
      }
      const writes = outputs.length === 0 ? NO_WRITES : outputs.map((o) => this.#outputWrite(held, o));
      this.#committer.add({ item: { id: held.id, outputs: writes }, deadLetter: null, attempts: 0 });
    } else if (error.code === "ERR_MAX_DELIVERIES") {
      this.#deadLetter(held, "handler-failed", error.message);
    } else if (error.code === "ERR_MESSAGE_REJECTED") {
      this.#deadLetter(held, "rejected", error.message);
    } else {
      this.#release(held, error.code);
      if (error.code === "ERR_ACTOR_FAILED") this.#host.targetFailed();
    }
    this.#host.changed();
  }

  #outputWrite(held: Held<M>, output: Output): OutputWrite {
    const { stream, group, codec, dedupTtlMs } = this.#options;
    return {
      stream: output.stream,
      // Scoped by source entry unless global: a redelivery of this entry finds the marker, writes nothing.
      dedupId: output.scope === "global" ? output.dedupId : `${stream}/${group}/${held.id}/${output.dedupId}`,
      fields: output.fields ?? codec.encode(output.payload),
      ttlMs: dedupTtlMs,
    };
  }

  #deadLetter(held: Held<M>, reason: DeadLetterReason, error?: string): void {
    this.#committer.add(this.#deadLetterJob(held, reason, error));
  }

  #deadLetterJob(held: Held<M>, reason: DeadLetterReason, error?: string): CommitJob {
    const { stream, group, deadLetterStream, dedupTtlMs, clock } = this.#options;
    const letter = {
      source: stream,
      group,
      entryId: held.id,
      deliveries: held.deliveries,
      reason,
      fields: held.fields,
      ...(error !== undefined && { error }),
    };
    const write = deadLetterWrite(deadLetterStream, letter, clock.now(), dedupTtlMs);
    return { item: { id: held.id, outputs: [write] }, deadLetter: letter, attempts: 0 };
  }

  /** Gives an entry back unacked: it stays pending and is replayed later. */
  #release(held: Held<M>, code: string): void {
    this.#held.delete(held.id);
    this.#stats.released++;
    this.#events.emit("released", { entryId: held.id, code });
    this.#host.released();
  }

  #committed(done: readonly { job: CommitJob; outcome: { id: string; written: number } }[]): void {
    const ids: string[] = [];
    let written = 0;
    for (const { job, outcome } of done) {
      this.#held.delete(outcome.id);
      const letter = job.deadLetter;
      if (letter) {
        this.#stats.deadLettered++;
        this.#events.emit("deadLettered", {
          entryId: letter.entryId,
          reason: letter.reason,
          deliveries: letter.deliveries,
          error: letter.error ?? null,
        });
      } else {
        ids.push(outcome.id);
        written += outcome.written;
      }
    }
    this.#stats.acked += ids.length;
    this.#stats.outputsWritten += written;
    if (ids.length > 0) this.#events.emit("acked", { ids, outputsWritten: written });
    this.#host.progressed();
    this.#host.changed();
  }

  #commitFailed(jobs: readonly CommitJob[], error: TroupeError, attempt: number, retryInMs: number): void {
    this.#stats.outputFailures += jobs.length;
    this.#stats.lastError = serializeError(error);
    this.#events.emit("outputFailed", { entryIds: jobs.map((j) => j.item.id), error, attempt, retryInMs });
  }
}

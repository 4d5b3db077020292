/**
 * Every entry a pump holds, from read to ack. An entry is decoded (or dead-lettered at once), handed
 * to the target in stream order within its credits, settled by the target's `done`, then committed
 * (outputs written, then acked) or dead-lettered (record written, then acked) or released (left
 * pending for a replay). Nothing leaves the ledger any other way, which is what makes "never ack an
 * unprocessed entry" (the seed's bug A) and "never drop a failed write" (bug B) checkable in one place.
 *
 * An entry settled by a durable instance (`done` carries its epoch) has its outputs written, fenced by
 * that epoch, but is not acked here: it stays held, keeping its credit, until the state checkpoint that
 * covers it (its {@link HeldEntry} is the message's tag) acks it in the same write as the state.
 *
 * An entry handed over in process ({@link PumpLedger.handOver}) is held the same way, but it has no stream id
 * to ack, and a handler failure is left to its stream copy (released, not dead-lettered, no replay asked for):
 * that copy comes anyway, and is delivered, dead-lettered or acked as any entry read.
 */
import type { Emitter } from "nanoevents";
import { errorCode, messageOf, serializeError, TroupeError } from "../errors.ts";
import { Deque } from "../runtime/deque.ts";
import {
  type CommitItem,
  dedupPath,
  type EntryFields,
  type OutputFence,
  type OutputWrite,
  type StreamBackend,
} from "./backend.ts";
import { asOutputError } from "./commit.ts";
import { type CommitJob, Committer } from "./committer.ts";
import { type DeadLetterReason, deadLetterWrite, replayedFor, withoutReplayMark } from "./dead-letters.ts";
import { type CoverHost, HeldEntry } from "./held-entry.ts";
import { checkSourceOutputs, type Output } from "./outputs.ts";
import type { EntrySource, PumpEvents, PumpStats } from "./pump-events.ts";
import { type ResolvedPumpOptions, retryBackoff } from "./pump-options.ts";
import type { PumpTarget } from "./pump-target.ts";
import { compareIdStrings } from "./stream-id.ts";

/**
 * An entry as read: `fields` null when deleted while pending; `deliveries` counts this one, and is left
 * out by a read of new entries (their first delivery).
 */
export interface Incoming {
  readonly id: string;
  readonly fields: EntryFields | null;
  readonly deliveries?: number;
}

/** What the ledger needs from its pump. */
export interface LedgerHost {
  /** False once stopping: entries are no longer handed to the target. */
  delivering(): boolean;
  /** An entry was released: replay own history once the ledger is empty. */
  released(): void;
  /** The target reported ERR_ACTOR_FAILED (or ERR_FENCED): stop reading until resumed. */
  targetFailed(): void;
  /** Something the read loop may be waiting for changed (room, an empty ledger). */
  changed(): void;
  /** The target refused an entry: call `drain` again once it has credits. */
  wantCredit(): void;
  /** Entries were committed: progress, so replay backoff starts over. */
  progressed(): void;
}

const NO_WRITES: readonly OutputWrite[] = Object.freeze([]);

/** The code an entry is released with when it waited behind one released before it was handed over. */
const BEHIND_RELEASED = "ERR_BEHIND_RELEASED";

/** Ids of handed-over entries: never a stream id (`<ms>-<seq>`). */
const HANDED_OVER = "handed-over:";

export class PumpLedger<M, R> implements CoverHost {
  readonly #backend: StreamBackend;
  readonly #options: ResolvedPumpOptions<M, R>;
  readonly #target: PumpTarget<M, R>;
  readonly #events: Emitter<PumpEvents>;
  readonly #stats: PumpStats;
  readonly #host: LedgerHost;
  readonly #committer: Committer;
  readonly #held = new Map<string, HeldEntry<M>>();
  /** Decoded entries the target has not accepted yet (their instance had no credit), in stream order. */
  readonly #waiting = new Deque<HeldEntry<M>>();
  /** Held entries holding a target credit (see `HeldEntry.inActor`). */
  #inActors = 0;
  /** Entries acked by checkpoints since the last `acked` event (one event per tick, not per entry). */
  #coveredIds: string[] = [];
  #coveredWritten = 0;
  /** Numbers the handed-over entries' ids. */
  #handOvers = 0;
  #draining = false;
  #drainAgain = false;
  /** An entry was released while draining: what still waits is given back once the loop lets go of it. */
  #givingBack = false;
  #closed = false;
  /** The newest epoch a durable target settled an entry under: its current incarnation in this process. */
  #newestEpoch = 0;

  constructor(
    backend: StreamBackend,
    target: PumpTarget<M, R>,
    options: ResolvedPumpOptions<M, R>,
    shared: { events: Emitter<PumpEvents>; stats: PumpStats; host: LedgerHost },
  ) {
    this.#backend = backend;
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
        fenced: (jobs, error) => this.#outputsFenced(jobs, error),
      },
    );
  }

  get size(): number {
    return this.#held.size;
  }

  /** The ids held now (a copy). */
  heldIds(): Set<string> {
    return new Set(this.#held.keys());
  }

  /** Entries the pump may still take in: free credits minus what it holds outside the actors. */
  room(): number {
    return Math.min(this.#options.maxBatch, this.#target.freeCredits() - (this.#held.size - this.#inActors));
  }

  /** Takes in read entries (skipping ones already held) and hands them on; returns how many it took. */
  accept(entries: readonly Incoming[], source: EntrySource): number {
    const { maxDeliveries, codec, toMessage, stream, group } = this.#options;
    let count = 0;
    for (const entry of entries) {
      if (this.#held.has(entry.id)) continue;
      count++;
      const replayFor = entry.fields === null ? undefined : replayedFor(entry.fields);
      const fields = replayFor === undefined ? entry.fields : withoutReplayMark(entry.fields!);
      const held = new HeldEntry<M>(this, stream, group, entry.id, entry.deliveries ?? 1, fields);
      this.#held.set(held.id, held);
      if (fields === null) {
        this.#stats.deletedWhilePending++;
        this.#events.emit("deletedWhilePending", { entryId: entry.id });
        this.#deadLetter(held, "deleted-while-pending");
      } else if (replayFor !== undefined && replayFor !== group) {
        // Another group's dead letter, replayed (dead-letters.ts): nothing for this one to do but ack it.
        this.#committer.add({ item: { id: held.id, outputs: NO_WRITES }, deadLetter: null, attempts: 0 });
      } else if (held.deliveries > maxDeliveries) {
        this.#deadLetter(held, "max-deliveries", `delivered ${held.deliveries} times (max ${maxDeliveries})`);
      } else {
        try {
          const payload = codec.decode(fields);
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

  /**
   * Takes in an entry of this pump's stream before a read brings it (see `Pump.handOver`): only for a durable
   * target (a state store), whose checkpoint covers it once its outputs are written, and only while there is
   * room. False when not taken, or when its fields do not decode: its stream copy is then dead-lettered with
   * the reason, as any entry read.
   */
  handOver(fields: EntryFields): boolean {
    const { codec, toMessage, stream, group, stateStore } = this.#options;
    if (stateStore === null || this.#closed || !this.#host.delivering() || this.room() <= 0) return false;
    const id = `${HANDED_OVER}${++this.#handOvers}`;
    const held = new HeldEntry<M>(this, stream, group, id, 1, fields, false);
    try {
      held.message = toMessage({ stream, id, payload: codec.decode(fields), deliveries: 1 });
    } catch {
      return false;
    }
    this.#held.set(id, held);
    this.#stats.handedOver++;
    this.#waiting.push(held);
    this.drain();
    return true;
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
        while (!this.#givingBack && given < this.#waiting.length && this.#host.delivering()) {
          const held = this.#waiting.at(given)!;
          let accepted: boolean;
          try {
            accepted = this.#target.deliver(
              held.message as M,
              (error, result, epoch) => this.#settle(held, error, result, epoch),
              held.deliveries - 1,
              held,
            );
          } catch (error) {
            given++;
            this.#release(held, errorCode(error) ?? "ERR_DELIVER_THREW");
            continue;
          }
          if (!accepted) {
            this.#host.wantCredit();
            break;
          }
          given++;
          // `done` may already have run inside deliver(); then the entry holds a credit only if durable.
          if (!held.settled || held.outputs !== "none") {
            held.inActor = true;
            this.#inActors++;
          }
          this.#stats.delivered++;
        }
        this.#waiting.dropFront(given);
        if (this.#givingBack) {
          for (const held of this.#waiting.drain()) this.#release(held, BEHIND_RELEASED);
          // Set again by those releases, with nothing left waiting.
          this.#givingBack = false;
        }
      } while (this.#drainAgain);
    } finally {
      this.#draining = false;
    }
  }

  /** Entries read and not yet accepted by the target. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Gives back every entry the target never accepted: they stay pending for the next replay. */
  releaseWaiting(code: string): void {
    for (const held of this.#waiting.drain()) this.#release(held, code);
  }

  /**
   * Stops committing; what is still held stays pending in the stream. Returns how many. A durable
   * entry whose outputs were not written yet is left to the checkpoint that covers it, which then
   * writes them itself.
   */
  close(): number {
    this.#closed = true;
    this.#committer.stop();
    let abandoned = 0;
    for (const held of this.#held.values()) {
      if (held.inStream) abandoned++;
      if (held.outputs === "writing" || held.outputs === "fenced") held.setOutputs("abandoned");
    }
    this.#held.clear();
    return abandoned;
  }

  untilWritten(held: HeldEntry<unknown>, epoch: number): Promise<void> | null {
    switch (held.outputs) {
      case "written":
      case "dead":
        return null;
      case "fenced":
        // Written under an older epoch of this process's instance, which crashed: the restored one
        // handled the entry again, from the same state, so its outputs are these; write them under its epoch.
        if (epoch <= held.epoch) return Promise.reject(staleEpoch(held, epoch));
        if (this.#closed) return this.#writeDirectly(held, epoch);
        if (epoch > this.#newestEpoch) this.#newIncarnation(epoch);
        else this.#writeOutputs(held, epoch);
        break;
      case "abandoned":
        return this.#writeDirectly(held, epoch);
    }
    // Not settled yet, or its outputs are being written: look again at the next change.
    return new Promise((resolve, reject) =>
      held.onChange(() => {
        const next = this.untilWritten(held, epoch);
        if (next === null) resolve();
        else next.then(resolve, reject);
      }),
    );
  }

  coverAcked(held: HeldEntry<unknown>): void {
    if (this.#held.get(held.id) !== held) return;
    this.#leave(held);
    if (!held.inStream) return;
    this.#stats.acked++;
    if (this.#coveredIds.length === 0) queueMicrotask(() => this.#emitCovered());
    this.#coveredIds.push(held.id);
    this.#coveredWritten += held.written;
  }

  coverReleased(held: HeldEntry<unknown>): void {
    if (this.#held.get(held.id) !== held) return;
    this.#leave(held);
    this.#release(held, "ERR_NOT_COVERED");
    // A stop waits for the ledger to empty: a fenced instance gives back what it handled after anything
    // else that would have woken it.
    this.#host.changed();
  }

  #settle(held: HeldEntry<M>, error: TroupeError | null, result: R | undefined, epoch?: number): void {
    if (held.settled) return;
    held.settled = true;
    if (error === null && epoch !== undefined) {
      this.#settleDurable(held, result, epoch);
      return;
    }
    if (held.inActor) {
      held.inActor = false;
      this.#inActors--;
    }
    if (this.#closed) return;
    // Handed over: a result without an epoch (a target that is not durable) has no checkpoint to cover it, and
    // a failure is its stream copy's to report (dead-lettered there); that copy comes either way.
    if (
      !held.inStream &&
      (error === null || error.code === "ERR_MAX_DELIVERIES" || error.code === "ERR_MESSAGE_REJECTED")
    ) {
      this.#release(held, error?.code ?? "ERR_NOT_COVERED");
      this.#host.changed();
      return;
    }
    if (error === null) {
      let writes: readonly OutputWrite[];
      try {
        writes = this.#writesOf(held, result);
      } catch (invalid) {
        this.#deadLetter(held, "invalid-outputs", messageOf(invalid));
        return;
      }
      this.#committer.add({ item: { id: held.id, outputs: writes }, deadLetter: null, attempts: 0 });
    } else if (error.code === "ERR_MAX_DELIVERIES") {
      this.#deadLetter(held, "handler-failed", error.message);
    } else if (error.code === "ERR_MESSAGE_REJECTED") {
      this.#deadLetter(held, "rejected", error.message);
    } else {
      this.#release(held, error.code);
      // A fenced instance is stopped for good, like a failed one: stop reading until resumed.
      if (error.code === "ERR_ACTOR_FAILED" || error.code === "ERR_FENCED") this.#host.targetFailed();
    }
    this.#host.changed();
  }

  /** Writes the outputs now, fenced by `epoch`; the entry stays held (with its credit) until covered. */
  #settleDurable(held: HeldEntry<M>, result: R | undefined, epoch: number): void {
    held.epoch = epoch;
    try {
      held.writes = this.#writesOf(held, result);
    } catch (invalid) {
      // Kept in case the pump stops before the dead letter is written: a covering commit must then fail.
      held.refusal = asOutputError(invalid, held.id);
      if (this.#closed) held.setOutputs("abandoned");
      else {
        held.setOutputs("writing");
        this.#deadLetter(held, "invalid-outputs", messageOf(invalid));
      }
      return;
    }
    if (epoch > this.#newestEpoch && !this.#closed) this.#newIncarnation(epoch);
    if (held.writes.length === 0) held.setOutputs("written");
    else if (this.#closed) held.setOutputs("abandoned");
    else this.#writeOutputs(held, epoch);
    this.#host.changed();
  }

  /**
   * A newer incarnation of the target in this process (restored after a crash or a restart) settled an
   * entry, or a checkpoint of it covers one. The outputs its predecessors left unwritten, queued or refused
   * as fenced, are its outputs too (it handles those entries again from the same state), and they must be
   * written before any of its own: an output under its source entry's id written after a later one is
   * refused as out of order, or, below every entry of its stream, taken for a trimmed duplicate. So the
   * queued ones go out under the new epoch, and the refused ones first of all, in stream order.
   */
  #newIncarnation(epoch: number): void {
    this.#newestEpoch = epoch;
    const refused: HeldEntry<M>[] = [];
    for (const held of this.#held.values()) {
      if (held.epoch >= epoch) continue;
      if (held.outputs === "fenced") refused.push(held);
      else if (held.outputs === "writing") held.epoch = epoch;
    }
    this.#committer.rebuild((job) => {
      const held = this.#held.get(job.item.id);
      return job.deadLetter === null && held?.outputs === "writing"
        ? this.#fencedItem(held, held.epoch)
        : null;
    });
    refused.sort((a, b) => compareIdStrings(a.id, b.id));
    this.#writeFirst(refused, epoch);
  }

  /** Writes again, ahead of everything queued, outputs refused for an epoch older than `epoch`. */
  #writeFirst(refused: readonly HeldEntry<unknown>[], epoch: number): void {
    const jobs = refused.map((held): CommitJob => {
      held.epoch = epoch;
      held.setOutputs("writing");
      return { item: this.#fencedItem(held, epoch), deadLetter: null, attempts: 0 };
    });
    this.#committer.addFirst(jobs);
  }

  #writeOutputs(held: HeldEntry<unknown>, epoch: number): void {
    held.epoch = epoch;
    held.setOutputs("writing");
    this.#committer.add({ item: this.#fencedItem(held, epoch), deadLetter: null, attempts: 0 });
  }

  /** For a commit that covers an entry this (stopped) ledger can no longer write: one write, no retry. */
  async #writeDirectly(held: HeldEntry<unknown>, epoch: number): Promise<void> {
    if (held.refusal) throw held.refusal;
    const { stream, group } = this.#options;
    const [outcome] = await this.#backend.commit(stream, group, [this.#fencedItem(held, epoch)]);
    if (!outcome?.acked)
      throw outcome?.error ?? new TroupeError("ERR_OUTPUT_WRITE", `outputs of ${held.id} not written`);
    held.epoch = epoch;
    held.setOutputs("written");
  }

  #fencedItem(held: HeldEntry<unknown>, epoch: number): CommitItem {
    const store = this.#options.stateStore;
    const fence: OutputFence | null = store ? store.outputFence(this.#target.name, epoch) : null;
    const outputs = fence ? held.writes.map((write) => ({ ...write, fence })) : held.writes;
    return { id: held.id, outputs, ack: false };
  }

  #writesOf(held: HeldEntry<M>, result: R | undefined): readonly OutputWrite[] {
    const outputs: readonly Output[] = this.#options.outputsOf(result);
    if (outputs.length === 0) return NO_WRITES;
    checkSourceOutputs(outputs);
    return outputs.map((o) => this.#outputWrite(held, o));
  }

  #outputWrite(held: HeldEntry<M>, output: Output): OutputWrite {
    const { stream, group, codec, dedupTtlMs } = this.#options;
    return {
      stream: output.stream,
      // Scoped by source entry unless global: a redelivery of this entry finds the marker, writes nothing.
      dedupId: output.scope === "global" ? output.dedupId : dedupPath(stream, group, held.id, output.dedupId),
      fields: output.fields ?? codec.encode(output.payload),
      ttlMs: dedupTtlMs,
      ...(output.scope === "source" && { at: held.id }),
    };
  }

  #deadLetter(held: HeldEntry<M>, reason: DeadLetterReason, error?: string): void {
    this.#committer.add(this.#deadLetterJob(held, reason, error));
  }

  #deadLetterJob(held: HeldEntry<M>, reason: DeadLetterReason, error?: string): CommitJob {
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

  /**
   * Gives an entry back unacked: it stays pending and is replayed later, and so do the entries read after it
   * and not handed to the target yet, which would otherwise go before its replay (the same key's order).
   */
  #release(held: HeldEntry<unknown>, code: string): void {
    this.#held.delete(held.id);
    this.#stats.released++;
    this.#events.emit("released", { entryId: held.id, code });
    if (!held.inStream) return;
    this.#host.released();
    if (this.#draining) this.#givingBack = true;
    else for (const behind of this.#waiting.drain()) this.#release(behind, BEHIND_RELEASED);
  }

  /** Lets an entry go from the ledger, and its credit from the count. */
  #leave(held: HeldEntry<unknown>): void {
    this.#held.delete(held.id);
    if (held.inActor) {
      held.inActor = false;
      this.#inActors--;
    }
  }

  #committed(done: readonly { job: CommitJob; outcome: { id: string; written: number } }[]): void {
    const ids: string[] = [];
    const durable: string[] = [];
    let written = 0;
    let durableWritten = 0;
    for (const { job, outcome } of done) {
      const held = this.#held.get(outcome.id);
      if (job.item.ack === false) {
        // A durable entry's outputs: written; its checkpoint acks it.
        durable.push(outcome.id);
        durableWritten += outcome.written;
        if (held) {
          held.written += outcome.written;
          held.setOutputs("written");
        }
        continue;
      }
      if (held) this.#leave(held);
      const letter = job.deadLetter;
      if (letter) {
        if (held && held.outputs !== "none") held.setOutputs("dead");
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
    this.#stats.outputsWritten += written + durableWritten;
    if (durable.length > 0) this.#events.emit("written", { ids: durable, outputsWritten: durableWritten });
    if (ids.length > 0) this.#events.emit("acked", { ids, outputsWritten: written });
    this.#host.progressed();
    this.#host.changed();
  }

  /**
   * Outputs of an incarnation that was taken over: written again at once, first, when a newer incarnation
   * in this process already settled entries (its outputs are queued behind); else kept, unwritten, for
   * the newer incarnation's first settle or a commit that covers them.
   */
  #outputsFenced(jobs: readonly CommitJob[], error: TroupeError): void {
    const again: HeldEntry<M>[] = [];
    for (const job of jobs) {
      const held = this.#held.get(job.item.id);
      if (!held) continue;
      const sent = job.item.outputs.find((write) => write.fence)?.fence?.epoch ?? 0;
      if (sent < this.#newestEpoch && !this.#closed) again.push(held);
      else held.setOutputs("fenced");
    }
    this.#writeFirst(again, this.#newestEpoch);
    this.#stats.outputsFenced += jobs.length;
    this.#events.emit("outputFenced", { entryIds: jobs.map((j) => j.item.id), error });
  }

  #emitCovered(): void {
    const ids = this.#coveredIds;
    const outputsWritten = this.#coveredWritten;
    this.#coveredIds = [];
    this.#coveredWritten = 0;
    this.#events.emit("acked", { ids, outputsWritten });
    this.#host.progressed();
    this.#host.changed();
  }

  #commitFailed(jobs: readonly CommitJob[], error: TroupeError, attempt: number, retryInMs: number): void {
    this.#stats.outputFailures += jobs.length;
    this.#stats.lastError = serializeError(error);
    this.#events.emit("outputFailed", { entryIds: jobs.map((j) => j.item.id), error, attempt, retryInMs });
  }
}

function staleEpoch(held: HeldEntry<unknown>, epoch: number): TroupeError {
  return new TroupeError(
    "ERR_FENCED",
    `outputs of entry ${held.id} were refused for epoch ${held.epoch}: epoch ${epoch} is no newer`,
    { entryId: held.id },
  );
}

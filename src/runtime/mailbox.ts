/**
 * Main-thread side of one instance's mailbox: a credit window of `capacity` messages.
 *
 * Invariant: `held` (queued for sending + sent but not yet acknowledged by the worker) never exceeds
 * `capacity`, so the main thread never has more than `capacity` unprocessed messages per instance. Senders
 * beyond that wait in FIFO order (bounded by `maxWaiting`). Messages leave in batched msgpackr frames;
 * the worker returns credits with cumulative acks. On a crash the in-flight messages go back to the front
 * of the queue, in order, for the restarted worker.
 *
 * For an actor with durable state a handled message is not done yet: it stays *uncovered*, holding its
 * credit, until a checkpoint that includes its effect is durable (`covered`). After a crash the uncovered
 * messages are handled again first (`requeueUncovered`), so the restored state catches up exactly.
 *
 * A worker with concurrency > 1 finishes messages out of order. Its acks stay cumulative (`upTo`: the
 * finished prefix), and carry the outcomes of messages past it as they come, so a reply or a retry never
 * waits for an older, slower message: such an envelope is settled at once and keeps its place in the
 * window, without a credit, until `upTo` passes it. A crash redelivers every message not finished.
 */
import { Packr } from "msgpackr";
import { deserializeError, type SerializedError, TroupeError, type TroupeErrorCode } from "../errors.ts";
import { allBytes, encodeBytesFrame } from "./bytes-frame.ts";
import { Deque } from "./deque.ts";
import type { Envelope, ReplyFn } from "./envelope.ts";
import { type AckMessage, type Frame, progressTag } from "./protocol.ts";

/**
 * Failures a redelivery would not mend: rejected, given up on (cancelled), or handled with a reply that
 * cannot travel back (it would be the same again).
 */
const FINAL_FAILURES: ReadonlySet<string> = new Set<TroupeErrorCode>([
  "ERR_MESSAGE_REJECTED",
  "ERR_CANCELLED",
  "ERR_MESSAGE_ENCODE",
]);

function isFinalFailure(code: string | undefined): code is TroupeErrorCode {
  return code !== undefined && FINAL_FAILURES.has(code);
}

export interface MailboxHooks {
  /** The envelope is finished with an error the runtime gave up with (dead letter, stop, failure). */
  deadLetter(envelope: Envelope, error: TroupeError): void;
  /** A handler threw (the message is redelivered or dead-lettered next). */
  handlerFailed(error: SerializedError): void;
  /** Messages were handled successfully; `latencies` are sampled handler times in ms. */
  processed(count: number, latencies: number[] | null): void;
  /** A sender had to wait for credit (transition from free-flowing to waiting). */
  backpressure(waiting: number): void;
  /** Credits came back. */
  credit(): void;
  /** Durable actors: handled messages became uncovered (now `uncovered` in all). */
  uncovered(count: number): void;
  /** Durable actors: tags of handled messages no checkpoint will cover now (the mailbox closed). */
  abandoned(tags: unknown[]): void;
}

export interface MailboxSettings {
  capacity: number;
  frameSize: number;
  maxDeliveries: number;
  maxWaiting: number;
  /** Handled messages wait for a covering checkpoint before their credit returns. */
  durable: boolean;
}

/** The live worker, as the mailbox sees it. */
export interface WorkerLink {
  frame(frame: ArrayBuffer): void;
  /** The runtime gave up on the in-flight message `seq` (its asker timed out). */
  cancel(seq: number): void;
}

interface Waiter {
  message: unknown;
  reply: ReplyFn | null;
  deliveries: number;
  key: number;
  resolve: () => void;
  reject: (error: TroupeError) => void;
}

export class Mailbox {
  readonly #settings: MailboxSettings;
  readonly #hooks: MailboxHooks;
  /**
   * `moreTypes`: typed arrays, Sets and Maps cross as what they are. Without it msgpackr wrote a
   * `Float64Array` as a buffer of garbage bytes, silently (a spec test); the same speed on plain messages.
   */
  readonly #packr = new Packr({ moreTypes: true });
  /**
   * Every message holding a credit, in seq order: the first `#sent` are in flight (framed and posted),
   * the rest wait to be framed. One deque, so framing moves a boundary instead of copying envelopes.
   */
  readonly #window = new Deque<Envelope>();
  #sent = 0;
  /** In flight but finished out of order (see {@link Envelope.finished}): they hold no credit. */
  #finishedEarly = 0;
  /** Durable actors: handled, replied to, not yet covered by a durable checkpoint; in seq order. */
  readonly #uncovered: Deque<Envelope> | null;
  #epoch = 0;
  readonly #waiters = new Deque<Waiter>();
  #link: WorkerLink | null = null;
  /** Sending is held back for a planned restart: the worker finishes what it has and gets nothing new. */
  #holding = false;
  #quietWaiters: Array<() => void> = [];
  #nextSeq = 1;
  #frames = 0;
  #flushScheduled = false;
  #closedWith: TroupeError | null = null;
  #paused = false;
  #drainWaiters: Array<() => void> = [];

  constructor(settings: MailboxSettings, hooks: MailboxHooks) {
    this.#settings = settings;
    this.#hooks = hooks;
    this.#uncovered = settings.durable ? new Deque() : null;
  }

  get capacity(): number {
    return this.#settings.capacity;
  }
  /** Messages holding a credit: queued for sending plus in flight. */
  get held(): number {
    return this.#window.length - this.#finishedEarly;
  }
  get inFlight(): number {
    return this.#sent;
  }
  /** Handled messages waiting for a covering checkpoint (durable actors). */
  get uncovered(): number {
    return this.#uncovered?.length ?? 0;
  }
  get credits(): number {
    return this.#settings.capacity - this.#used();
  }
  /** The incarnation handling the messages now, given with each reply (durable actors). */
  set epoch(epoch: number) {
    this.#epoch = epoch;
  }

  #used(): number {
    return this.held + (this.#uncovered?.length ?? 0);
  }
  get waiting(): number {
    return this.#waiters.length;
  }
  /** Frames sent so far (messages per frame = the batching actually achieved). */
  get frames(): number {
    return this.#frames;
  }

  /** Accepts a message if a credit is free and nobody is waiting ahead of it. */
  tryAccept(message: unknown, reply: ReplyFn | null, deliveries = 0, tag?: unknown, key = 0): boolean {
    if (this.#closedWith) throw this.#closedWith;
    if (this.#waiters.length > 0 || this.#used() >= this.#settings.capacity) return false;
    this.#enqueue(message, reply, deliveries, tag, key);
    return true;
  }

  /** Accepts a message, waiting (FIFO) for a credit if needed. */
  accept(message: unknown, reply: ReplyFn | null, deliveries = 0, key = 0): Promise<void> {
    if (this.tryAccept(message, reply, deliveries, undefined, key)) return RESOLVED;
    if (this.#waiters.length >= this.#settings.maxWaiting) {
      return Promise.reject(
        new TroupeError(
          "ERR_TOO_MANY_WAITING",
          `more than ${this.#settings.maxWaiting} senders wait for credit`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ message, reply, deliveries, key, resolve, reject });
      if (this.#waiters.length === 1) this.#hooks.backpressure(1);
      // Whatever is queued must leave now: the credits we wait for come back only once it is handled.
      this.flush();
    });
  }

  #enqueue(message: unknown, reply: ReplyFn | null, deliveries: number, tag: unknown, key: number): void {
    this.#window.push({ seq: 0, message, deliveries, failures: 0, reply, tag, key, finished: null });
    if (this.#window.length - this.#sent >= this.#settings.frameSize) this.flush();
    else if (!this.#flushScheduled && this.#link) {
      this.#flushScheduled = true;
      setImmediate(this.#scheduledFlush);
    }
  }

  readonly #scheduledFlush = (): void => {
    this.#flushScheduled = false;
    this.flush();
  };

  get paused(): boolean {
    return this.#paused;
  }

  /** Stops sending: accepted messages wait here (bounded by the credits), nothing new reaches the worker. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.flush();
  }

  /** Sends everything queued, in frames of at most `frameSize` messages. */
  flush(): void {
    const link = this.#link;
    if (!link || this.#paused || this.#holding) return;
    let refused = false;
    while (this.#window.length > this.#sent) {
      const count = Math.min(this.#settings.frameSize, this.#window.length - this.#sent);
      const frame = this.#encode(count);
      if (!frame) {
        this.#dropUnencodable(count);
        refused = true;
        continue;
      }
      this.#nextSeq += count;
      this.#sent += count;
      this.#frames++;
      link.frame(frame);
    }
    // Refused messages freed credits; admit waiters only now, so frames keep leaving in seq order.
    if (refused) this.#admitWaiters();
  }

  /**
   * Numbers the batch from the next seq and encodes it as a {@link Frame}: the seqs are consecutive, and
   * deliveries and result flags go as one value when uniform (the common case), so the per-message cost is
   * the message itself. Null when msgpackr refuses something in it.
   */
  #encode(count: number): ArrayBuffer | null {
    const window = this.#window;
    const from = this.#sent;
    const first = window.at(from) as Envelope;
    const messages: unknown[] = new Array(count);
    let uniformDeliveries = true;
    let uniformKeys = true;
    let replies = 0;
    for (let i = 0; i < count; i++) {
      const envelope = window.at(from + i) as Envelope;
      envelope.seq = this.#nextSeq + i;
      envelope.deliveries++;
      messages[i] = envelope.message;
      if (envelope.deliveries !== first.deliveries) uniformDeliveries = false;
      if (envelope.key !== first.key) uniformKeys = false;
      if (envelope.reply) replies++;
    }
    const each = (f: (envelope: Envelope) => number) =>
      Array.from({ length: count }, (_, i) => f(window.at(from + i) as Envelope));
    const keys = uniformKeys ? (first.key === 0 ? null : first.key) : each((e) => e.key);
    const frame: Frame = [
      this.#nextSeq,
      messages,
      uniformDeliveries ? first.deliveries : each((e) => e.deliveries),
      replies === count ? 1 : replies === 0 ? 0 : each((e) => (e.reply ? 1 : 0)),
    ];
    if (keys !== null) frame.push(keys);
    if (allBytes(messages)) return encodeBytesFrame(frame[0], messages, frame[2], frame[3], keys);
    try {
      return transferable(this.#packr.pack(frame));
    } catch {
      // Not sent after all: the re-encode of what can be encoded counts this delivery again.
      for (let i = 0; i < count; i++) (window.at(from + i) as Envelope).deliveries--;
      return null;
    }
  }

  /**
   * Takes the messages msgpackr refuses out of the next `count` to frame and finishes them with
   * ERR_MESSAGE_ENCODE; the others keep their places. They are finished last, so a sender called back
   * from there queues behind everything that was already accepted.
   */
  #dropUnencodable(count: number): void {
    const refused: { envelope: Envelope; cause: unknown }[] = [];
    const kept = this.#window.drain().filter((envelope, index) => {
      if (index < this.#sent || index >= this.#sent + count) return true;
      try {
        this.#packr.pack(envelope.message);
        return true;
      } catch (cause) {
        refused.push({ envelope, cause });
        return false;
      }
    });
    this.#window.pushAll(kept);
    for (const { envelope, cause } of refused) {
      envelope.seq = 0;
      const message = `message cannot be encoded: ${(cause as Error).message}`;
      this.#finish(envelope, new TroupeError("ERR_MESSAGE_ENCODE", message, { cause }));
    }
  }

  /**
   * Applies a worker ack: settles the messages with an outcome (a result, a failure: redelivered or
   * dead-lettered), then finishes every message up to `upTo`.
   */
  acknowledge(ack: AckMessage): void {
    const { results, failures } = ack;
    let ok = 0;
    const uncovered = this.#uncovered;
    const firstSeq = this.#sent > 0 ? (this.#window.at(0) as Envelope).seq : 0;
    if (results) {
      for (let r = 0; r < results.length; r += 2) {
        const index = (results[r] as number) - firstSeq;
        const envelope = this.#inFlightAt(index);
        if (!envelope) continue;
        envelope.finished = "ok";
        this.#finishedEarly++;
        ok++;
        const reply = envelope.reply;
        envelope.reply = null;
        if (uncovered) reply?.(null, results[r + 1], this.#epoch);
        else reply?.(null, results[r + 1]);
      }
    }
    if (failures) {
      for (let f = 0; f < failures.length; f += 2) {
        const index = (failures[f] as number) - firstSeq;
        const envelope = this.#inFlightAt(index);
        if (!envelope) continue;
        // A placeholder keeps its place in the window until `upTo` passes it; the message moves on.
        this.#window.set(index, {
          ...envelope,
          message: undefined,
          reply: null,
          tag: undefined,
          finished: "failed",
        });
        this.#finishedEarly++;
        const wire = failures[f + 1] as SerializedError;
        // Cancelled: the runtime gave up on it (its asker timed out), the handler did not fail.
        if (wire.code !== "ERR_CANCELLED") this.#hooks.handlerFailed(wire);
        this.#retryOrDeadLetter(envelope, wire);
      }
    }
    let done = 0;
    while (done < this.#sent && (this.#window.at(done) as Envelope).seq <= ack.upTo) done++;
    this.#sent -= done;
    for (const envelope of this.#window.takeFront(done)) {
      if (envelope.finished !== null) {
        this.#finishedEarly--;
        if (envelope.finished === "ok") uncovered?.push(envelope);
        continue;
      }
      ok++;
      if (uncovered) {
        uncovered.push(envelope);
        envelope.reply?.(null, undefined, this.#epoch);
      } else {
        envelope.reply?.(null, undefined);
      }
    }
    this.#hooks.processed(ok, ack.latencies);
    // Also after an ack of failures alone: a stopping actor's last ack may give back only messages it never
    // started, and its checkpoint waits for that ack (a spec test: none came, the stop waited out its
    // deadline, and the messages answered before it were in no checkpoint).
    if (uncovered && uncovered.length > 0) this.#hooks.uncovered(uncovered.length);
    this.#admitWaiters();
    if (this.#window.length > this.#sent) this.flush();
    this.#hooks.credit();
    this.#checkDrained();
  }

  /** The in-flight envelope `index` places from the front, if it is in flight and not finished yet. */
  #inFlightAt(index: number): Envelope | null {
    if (index < 0 || index >= this.#sent) return null;
    const envelope = this.#window.at(index) as Envelope;
    return envelope.finished === null ? envelope : null;
  }

  #retryOrDeadLetter(envelope: Envelope, wire: SerializedError): void {
    if (isFinalFailure(wire.code)) {
      this.#finish(envelope, new TroupeError(wire.code, wire.message));
      return;
    }
    envelope.failures++;
    if (envelope.failures >= this.#settings.maxDeliveries) {
      const error = new TroupeError(
        "ERR_MAX_DELIVERIES",
        `failed ${envelope.failures} deliveries; last error: ${wire.message}`,
        { cause: deserializeError(wire) },
      );
      this.#finish(envelope, error);
    } else {
      this.#window.push(envelope);
    }
  }

  #finish(envelope: Envelope, error: TroupeError): void {
    this.#hooks.deadLetter(envelope, error);
  }

  /**
   * Moves waiting senders into the window, oldest first, but only once a whole frame's worth of credit is
   * free (or nothing is in flight). Admitting on every small ack is the "silly window syndrome": each ack
   * that splits a frame returns a few credits, the waiting producer refills exactly that, frames only ever
   * shrink, and a full mailbox degrades to one message per round trip (measured: 1.8 messages per ack,
   * 5× slower). Acks keep coming while anything is in flight, so the threshold is always reached.
   */
  #admitWaiters(): void {
    if (this.#waiters.length === 0) return;
    if (this.held > 0 && this.credits < this.#settings.frameSize) return;
    while (this.#waiters.length > 0 && this.#used() < this.#settings.capacity) {
      const waiter = this.#waiters.shift() as Waiter;
      this.#enqueue(waiter.message, waiter.reply, waiter.deliveries, undefined, waiter.key);
      waiter.resolve();
    }
  }

  /** Starts sending through `link` (a live worker); queued messages (and redeliveries) leave first. */
  connect(link: WorkerLink): void {
    this.#link = link;
    this.#holding = false;
    this.flush();
  }

  /**
   * The runtime gives up on the message `reply` belongs to (its asker timed out): still queued, it is
   * dropped; in flight, its worker is told to cancel it (the ack then finishes it with ERR_CANCELLED);
   * waiting for credit, it stops waiting. `error` is what it is finished with here.
   */
  cancel(reply: ReplyFn, error: TroupeError): void {
    for (let i = 0; i < this.#window.length; i++) {
      const envelope = this.#window.at(i) as Envelope;
      if (envelope.reply !== reply) continue;
      if (i < this.#sent) {
        this.#link?.cancel(envelope.seq);
        return;
      }
      this.#window.remove(envelope);
      this.#finish(envelope, error);
      this.#admitWaiters();
      this.#hooks.credit();
      this.#checkDrained();
      return;
    }
    for (const waiter of this.#waiters.drain()) {
      if (waiter.reply === reply) waiter.reject(error);
      else this.#waiters.push(waiter);
    }
  }

  /** A planned restart: send nothing more; {@link quiet} tells when the worker has nothing left. */
  hold(): void {
    this.#holding = true;
  }

  /**
   * Resolves once nothing is in flight and, durable, every handled message is covered by a checkpoint; or
   * once the worker is gone (`disconnect`, `close`): the caller then finds it gone.
   */
  quiet(): Promise<void> {
    if (this.#sent === 0 && this.uncovered === 0) return RESOLVED;
    return new Promise((resolve) => this.#quietWaiters.push(resolve));
  }

  /**
   * The worker is gone. In-flight messages return to the front of the queue in order. If the message
   * being handled when it died (`progress` tag) is known, it is blamed (a failure of its own): dead-lettered
   * once it has failed `maxDeliveries` times, so a message that kills its worker cannot do so forever.
   */
  disconnect(progress: number, cause: TroupeError | null): void {
    this.#link = null;
    this.#holding = false;
    // In flight is the front of the window: it is the front of the queue again once nothing counts as sent.
    const sent = this.#sent;
    this.#sent = 0;
    const unfinished = this.#finishedEarly > 0 ? this.#dropFinished(sent) : sent;
    this.#releaseQuiet();
    if (cause && progress !== 0) {
      let culprit: Envelope | undefined;
      for (let i = 0; i < unfinished && !culprit; i++) {
        const envelope = this.#window.at(i) as Envelope;
        if (progressTag(envelope.seq) === progress) culprit = envelope;
      }
      if (culprit && ++culprit.failures >= this.#settings.maxDeliveries) {
        this.#window.remove(culprit);
        const message = `killed its worker ${culprit.failures} times: ${cause.message}`;
        this.#finish(culprit, new TroupeError("ERR_MAX_DELIVERIES", message, { cause }));
      }
    }
    this.#checkDrained();
  }

  /**
   * After a crash, of the `sent` messages that were in flight, those finished out of order are done: a
   * placeholder or a replied-to one leaves the window, except that a durable actor's replied-to ones are
   * handled again (their effect may be in no checkpoint yet), as uncovered ones are. Returns how many of
   * the `sent` remain, at the front.
   */
  #dropFinished(sent: number): number {
    const window = this.#window.drain();
    let remaining = 0;
    for (let i = 0; i < window.length; i++) {
      const envelope = window[i] as Envelope;
      if (i < sent) {
        if (envelope.finished === "failed" || (envelope.finished === "ok" && !this.#uncovered)) continue;
        envelope.finished = null;
        remaining++;
      }
      this.#window.push(envelope);
    }
    this.#finishedEarly = 0;
    return remaining;
  }

  /** How many uncovered messages, from the oldest, have a seq ≤ `upTo` (what a checkpoint at `upTo` covers). */
  uncoveredUpTo(upTo: number): number {
    const uncovered = this.#uncovered;
    if (!uncovered) return 0;
    let count = 0;
    while (count < uncovered.length && (uncovered.at(count) as Envelope).seq <= upTo) count++;
    return count;
  }

  /** The tags of the `count` oldest uncovered messages, in seq order (messages without a tag have none). */
  coverTags(count: number): unknown[] {
    const tags: unknown[] = [];
    const uncovered = this.#uncovered;
    if (!uncovered) return tags;
    for (let i = 0; i < count; i++) {
      const tag = (uncovered.at(i) as Envelope).tag;
      if (tag !== undefined) tags.push(tag);
    }
    return tags;
  }

  /** A checkpoint covering the `count` oldest uncovered messages is durable: their credits come back. */
  covered(count: number): void {
    if (!this.#uncovered || this.#closedWith) return;
    this.#uncovered.dropFront(count);
    this.#admitWaiters();
    if (this.#window.length > this.#sent) this.flush();
    this.#hooks.credit();
    this.#checkDrained();
  }

  /**
   * Before a restored worker connects: the uncovered messages go to the front of the queue, in seq order,
   * ahead of the ones that were in flight, so the worker replays exactly what its checkpoint lacks. They
   * were replied to already: handled again, they are only covered.
   */
  requeueUncovered(): void {
    const uncovered = this.#uncovered;
    if (!uncovered || uncovered.length === 0) return;
    const rest = this.#window.drain();
    for (const envelope of uncovered.drain()) {
      envelope.reply = null;
      // Finished out of order the first time; unfinished again, or its ack would not count it handled.
      envelope.finished = null;
      this.#window.push(envelope);
    }
    this.#window.pushAll(rest);
  }

  /** Finishes every held and waiting message with `error`; the mailbox accepts nothing more. */
  close(error: TroupeError): void {
    this.#closedWith = error;
    this.#link = null;
    if (this.#finishedEarly > 0) this.#dropFinished(this.#sent);
    this.#sent = 0;
    this.#releaseQuiet();
    // Replied to already, so not finished again: their tags go back unsettled (a stream entry stays
    // pending and is replayed elsewhere), as do those of replayed ones (no reply left) still queued.
    const abandoned: unknown[] = [];
    for (const envelope of this.#uncovered?.drain() ?? [])
      if (envelope.tag !== undefined) abandoned.push(envelope.tag);
    for (const envelope of this.#window.drain()) {
      if (envelope.reply === null && envelope.tag !== undefined) abandoned.push(envelope.tag);
      else this.#finish(envelope, error);
    }
    if (abandoned.length > 0) this.#hooks.abandoned(abandoned);
    for (const waiter of this.#waiters.drain()) waiter.reject(error);
    this.#checkDrained();
  }

  /** Resolves once nothing is held, uncovered or waiting. */
  drained(): Promise<void> {
    if (this.#used() === 0 && this.#waiters.length === 0) return RESOLVED;
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #releaseQuiet(): void {
    const waiters = this.#quietWaiters;
    this.#quietWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #checkDrained(): void {
    if (this.#quietWaiters.length > 0 && this.#sent === 0 && this.uncovered === 0) this.#releaseQuiet();
    if (this.#drainWaiters.length === 0 || this.#used() > 0 || this.#waiters.length > 0) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * pack() returns a view on msgpackr's shared buffer: copy before transfer. Uint8Array's own slice copies
 * without zero-filling first (Buffer#slice would only make another view).
 */
function transferable(view: Uint8Array): ArrayBuffer {
  return Uint8Array.prototype.slice.call(view).buffer as ArrayBuffer;
}

/**
 * Worker side, concurrent mode: up to `limit` messages in progress at once, each with its own context and
 * AbortSignal, an optional deadline, and messages that share an order key handled one at a time in seq
 * order. A message that finishes while an older one is still in progress is passed on at once (`early`),
 * so its reply or retry need not wait; every message is also reported in seq order (`report`), so the
 * host's cumulative ack keeps meaning "everything up to here is done".
 *
 * A message given up on (its deadline passed, or the runtime cancelled it) is finished at once with a
 * typed error and its slot is free: a handler that ignores the signal runs on unobserved, its outcome
 * dropped. One that keeps the CPU busy stops everything, which the worker-terminating deadline catches.
 *
 * `quiesce` is the checkpoint barrier: it stops starting new messages, lets the ones in progress finish,
 * then calls back with the handled set being exactly a prefix of the seqs, as a checkpoint needs.
 */
import { TroupeError } from "../errors.ts";
import type { MessageContext } from "./define-actor.ts";
import { Deque } from "./deque.ts";
import { progressTag } from "./protocol.ts";

export interface Task {
  readonly seq: number;
  /** Dropped once it is finished: a finished task may wait long behind an older one. */
  message: unknown;
  readonly deliveries: number;
  readonly wantsResult: boolean;
  /** Order key hash; 0: unordered. */
  readonly key: number;
  state: "queued" | "running" | "done";
  /** Finished while an older message was still unreported: its outcome went out through `early`. */
  early: boolean;
  ok: boolean;
  /** The handler's result, or what it threw / the error the pool gave up with. */
  outcome: unknown;
  controller: AbortController | null;
  timer: ReturnType<typeof setTimeout> | null;
  /** performance.now() when its handler started. */
  startedAt: number;
}

export interface TaskPoolHost {
  readonly actor: string;
  readonly instance: number;
  handle(message: unknown, ctx: MessageContext): unknown;
  /** A message finished out of order (an older one is still in progress). */
  early(task: Task): void;
  /** One finished message, in seq order (after `early` for one that finished out of order). */
  report(task: Task): void;
  /** A batch of reports ended (the host may ack). */
  reported(): void;
  /** Int32 slot 0: oldest in progress; slot 1: handler whose synchronous part runs now. */
  readonly progress: Int32Array;
}

export class TaskPool {
  readonly #limit: number;
  readonly #timeoutMs: number | null;
  readonly #host: TaskPoolHost;
  /** Received, not started, in seq order. */
  readonly #queue = new Deque<Task>();
  /** Every task not reported yet, in seq order. */
  readonly #order = new Deque<Task>();
  /** Tasks whose key was busy when their turn came, per key, in seq order. */
  readonly #parked = new Map<number, Deque<Task>>();
  /** Parked tasks whose key came free: they start before anything from the queue (they are older). */
  readonly #ready = new Deque<Task>();
  /** Keys with a task running or ready. */
  readonly #busy = new Set<number>();
  readonly #bySeq = new Map<number, Task>();
  #active = 0;
  #pumping = false;
  #barrier: (() => void) | null = null;
  #halted = false;

  constructor(limit: number, timeoutMs: number | null, host: TaskPoolHost) {
    this.#limit = limit;
    this.#timeoutMs = timeoutMs;
    this.#host = host;
  }

  add(seq: number, message: unknown, deliveries: number, wantsResult: boolean, key: number): void {
    const task: Task = {
      seq,
      message,
      deliveries,
      wantsResult,
      key,
      state: "queued",
      early: false,
      ok: false,
      outcome: undefined,
      controller: null,
      timer: null,
      startedAt: 0,
    };
    this.#queue.push(task);
    this.#order.push(task);
    this.#bySeq.set(seq, task);
  }

  /** Starts what the limit, the keys and a barrier allow. */
  pump(): void {
    if (this.#pumping || this.#halted) return;
    this.#pumping = true;
    try {
      while (this.#active < this.#limit && !this.#halted) {
        const ready = this.#ready.shift();
        if (ready) {
          if (ready.state === "queued") this.#start(ready);
          else this.#freeKey(ready.key);
          continue;
        }
        if (this.#barrier) break;
        const task = this.#queue.shift();
        if (!task) break;
        if (task.state !== "queued") continue;
        if (task.key !== 0 && this.#busy.has(task.key)) this.#park(task);
        else this.#start(task);
      }
    } finally {
      this.#pumping = false;
    }
    this.#checkBarrier();
  }

  /** Gives up on `seq` (the runtime no longer wants it): aborted if running, skipped if not started. */
  cancel(seq: number): void {
    const task = this.#bySeq.get(seq);
    if (!task || task.state === "done") return;
    this.#giveUp(task, cancelledError());
  }

  /**
   * Calls `then` once nothing is in progress, starting nothing new from the queue meanwhile (older messages
   * parked behind a key still run), so what has been handled is exactly every seq up to some point.
   */
  quiesce(then: () => void): void {
    this.#barrier = then;
    this.#checkBarrier();
  }

  /** The worker is dying: start nothing more, report nothing more. */
  halt(): void {
    this.#halted = true;
  }

  #park(task: Task): void {
    let parked = this.#parked.get(task.key);
    if (!parked) {
      parked = new Deque();
      this.#parked.set(task.key, parked);
    }
    parked.push(task);
  }

  #start(task: Task): void {
    const host = this.#host;
    this.#active++;
    if (task.key !== 0) this.#busy.add(task.key);
    task.state = "running";
    task.startedAt = performance.now();
    const controller = new AbortController();
    task.controller = controller;
    if (this.#timeoutMs !== null) task.timer = setTimeout(this.#expire, this.#timeoutMs, task);
    const ctx: MessageContext = {
      actor: host.actor,
      instance: host.instance,
      deliveries: task.deliveries,
      queued: this.#queue.length,
      signal: controller.signal,
    };
    if (this.#order.at(0) === task) host.progress[0] = progressTag(task.seq);
    host.progress[1] = progressTag(task.seq);
    let result: unknown;
    try {
      result = host.handle(task.message, ctx);
    } catch (error) {
      host.progress[1] = 0;
      this.#finish(task, false, error);
      return;
    }
    host.progress[1] = 0;
    if (isThenable(result)) {
      result.then(
        (value) => this.#finish(task, true, value),
        (error: unknown) => this.#finish(task, false, error),
      );
    } else {
      this.#finish(task, true, result);
    }
  }

  readonly #expire = (task: Task): void => {
    task.timer = null;
    this.#giveUp(
      task,
      new TroupeError("ERR_HANDLER_TIMEOUT", `handler ran longer than ${this.#timeoutMs} ms`, {
        actor: this.#host.actor,
        instance: this.#host.instance,
      }),
    );
  };

  #giveUp(task: Task, error: TroupeError): void {
    task.controller?.abort(error);
    this.#finish(task, false, error);
  }

  #finish(task: Task, ok: boolean, outcome: unknown): void {
    if (task.state === "done" || this.#halted) return;
    const wasRunning = task.state === "running";
    task.state = "done";
    task.ok = ok;
    task.outcome = outcome;
    task.controller = null;
    task.message = undefined;
    if (task.timer !== null) clearTimeout(task.timer);
    task.timer = null;
    this.#bySeq.delete(task.seq);
    if (wasRunning) {
      this.#active--;
      if (task.key !== 0) this.#freeKey(task.key);
    }
    if (this.#order.at(0) !== task) {
      task.early = true;
      this.#host.early(task);
      task.outcome = undefined;
    }
    this.#advance();
    this.pump();
  }

  /** The key's next parked task becomes ready (keeping the key), or the key is free. */
  #freeKey(key: number): void {
    const parked = this.#parked.get(key);
    const next = parked?.shift();
    if (next) {
      this.#ready.push(next);
      if (parked?.length === 0) this.#parked.delete(key);
    } else {
      this.#busy.delete(key);
    }
  }

  /** Reports the finished prefix, in seq order. */
  #advance(): void {
    const order = this.#order;
    let reported = 0;
    for (let front = order.at(0); front?.state === "done" && !this.#halted; front = order.at(0)) {
      order.shift();
      this.#host.report(front);
      reported++;
    }
    if (reported === 0) return;
    const front = order.at(0);
    this.#host.progress[0] = front?.state === "running" ? progressTag(front.seq) : 0;
    this.#host.reported();
  }

  #checkBarrier(): void {
    const then = this.#barrier;
    if (!then || this.#active > 0 || this.#ready.length > 0 || this.#halted) return;
    this.#barrier = null;
    then();
    this.pump();
  }
}

export function cancelledError(): TroupeError {
  return new TroupeError("ERR_CANCELLED", "the runtime gave up on this message (its asker timed out)");
}

/** A message the worker did not start because its actor stops handing back what it has not started. */
export function handedBackError(): TroupeError {
  return new TroupeError("ERR_CANCELLED", "handed back unhandled: the actor is stopping");
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/**
 * Worker side of actor instances: a worker thread hosts one instance, or several when their actors share a
 * thread pool (thread-pool.ts). Each host loads its actor module, handles frames of messages one at a time in
 * order (or, with concurrency or a message timeout, through a task pool: task-pool.ts), returns credits in
 * batched acks, asks for its own recycling, and exposes the control plane (snapshot, queries) over comlink.
 * Every message names its host (`h`). The main side is actor-thread.ts / instance.ts / mailbox.ts; the wire
 * is protocol.ts.
 */
import * as Comlink from "comlink";
import { Unpackr } from "msgpackr";
import { messageOf, serializeError, TroupeError } from "../errors.ts";
import { CheckpointTaker } from "./checkpoint-taker.ts";
import type { ActorDefinition, MessageContext } from "./define-actor.ts";
import { DurableTables } from "./durable-table.ts";
import {
  type AckMessage,
  type CheckpointMessage,
  type ControlApi,
  type ControlResult,
  type FatalMessage,
  type Frame,
  type FromWorker,
  HAND_BACK_SLOT,
  type InitMessage,
  PROGRESS_IDLE,
  progressTag,
  type ToWorker,
} from "./protocol.ts";
import { SegmentWriter } from "./state-segment.ts";
import { cancelledError, handedBackError, isThenable, type Task, TaskPool } from "./task-pool.ts";

declare const self: Worker;

/** One handler latency is sampled out of this many messages: timing every message costs ~10% at 1M msg/s. */
const LATENCY_SAMPLE_MASK = 7;
const HEAP_CHECK_EVERY_MS = 100;
/**
 * A handled message's ack (its reply, its credit) waits at most about this long for others to share it.
 * Acks are batched (`ackEvery`), and a worker working through queued frames acked only once it ran dry: an
 * `ask` of 1 ms behind fifteen messages of 100 ms was answered after 1.5 s, and timed out. The clock is read
 * once a frame and on the sampled messages, whose latency it reads anyway.
 */
const ACK_MAX_DELAY_MS = 2;

const unpackr = new Unpackr({ moreTypes: true });

/** Comlink drops custom error fields, so errors travel as values with their code. */
async function settle(fn: () => unknown): Promise<ControlResult> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}

/** Failed because the runtime gave up on it (deadline, cancel), not because the handler threw on its own. */
function givenUp(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ERR_HANDLER_TIMEOUT" || code === "ERR_CANCELLED";
}

class ActorHost {
  readonly #h: number;
  readonly #config: InitMessage;
  readonly #progress: Int32Array;
  readonly #frames: Frame[] = [];
  readonly #tables: DurableTables;
  /** Writes the checkpoints in slices; its writer is reused by every checkpoint (its buffer grows once). */
  readonly #checkpoints: CheckpointTaker;
  #definition!: ActorDefinition<unknown, unknown, unknown>;
  #state: unknown;
  #running = false;
  /** Dying on purpose, or dropped by the main side: nothing more is handled or reported. */
  #fatal = false;
  /** Resolves once every restore chunk arrived (durable actors). */
  #restored: Promise<void> = Promise.resolve();
  #finishRestore: () => void = () => {};
  /** An idle slice is queued (a turn of the event loop away). */
  #idleSlicing = false;
  /** Concurrent mode's scheduler; null in the serial mode (concurrency 1, no message timeout). */
  #pool: TaskPool | null = null;
  #ackScheduled = false;
  /** Messages handled by this host (for recycling). */
  #handled = 0;
  #recycleAsked = false;
  #heapCheckedAt = 0;
  /** Serial mode: the message being handled, its AbortController once the handler read `ctx.signal`. */
  #runningSeq = 0;
  #runningController: AbortController | null = null;
  /** Serial mode: messages cancelled before their turn; they fail with ERR_CANCELLED without running. */
  readonly #cancelled = new Set<number>();
  /** Serial mode: messages after the running one in its frame. */
  #runningFrameRest = 0;
  #upTo = 0;
  #sinceAck = 0;
  /** About when the oldest message not acked yet was handled (performance.now() ms). */
  #pendingSince = 0;
  #results: unknown[] | null = null;
  #failures: unknown[] | null = null;
  #latencies: number[] | null = null;
  /** The serial mode's context, reused for every message; the signal is made only for a handler that asks. */
  readonly #ctx: MessageContext;

  constructor(config: InitMessage) {
    this.#h = config.h;
    this.#config = config;
    this.#progress = new Int32Array(config.progress);
    this.#tables = new DurableTables(config.durable);
    this.#checkpoints = new CheckpointTaker(this.#tables, new SegmentWriter(), {
      sliceMs: config.checkpointSliceMs,
      deferMs: config.checkpointDeferMs,
    });
    if (config.durable) this.#restored = new Promise((resolve) => (this.#finishRestore = resolve));
    const host = this;
    this.#ctx = {
      actor: config.actor,
      instance: config.instance,
      deliveries: 0,
      get queued(): number {
        return host.#queued();
      },
      get signal(): AbortSignal {
        host.#runningController ??= new AbortController();
        return host.#runningController.signal;
      },
    };
  }

  get unhandledRejection(): InitMessage["unhandledRejection"] {
    return this.#config.unhandledRejection;
  }

  /** A message for this host; `init` and `drop` are the thread's own (the dispatcher below). */
  receive(message: Exclude<ToWorker, { t: "init" | "drop" }>): void {
    switch (message.t) {
      case "frame": {
        const frame = unpackr.unpack(new Uint8Array(message.buf)) as Frame;
        if (this.#pool) this.#addFrame(frame);
        else {
          this.#frames.push(frame);
          if (!this.#running) void this.#run();
        }
        break;
      }
      case "checkpoint":
        if (this.#pool) this.#pool.quiesce(() => this.#takeWholeCheckpoint());
        else {
          this.#checkpoints.begin();
          this.#idleCheckpointSlices();
        }
        break;
      case "cancel":
        if (this.#pool) this.#pool.cancel(message.seq);
        else this.#cancelSerial(message.seq);
        break;
      case "restore":
        this.#tables.restore(message.segment);
        break;
      case "restored":
        this.#finishRestore();
        break;
    }
  }

  /** The main side let go of this host (its instance stopped or restarts): it handles and reports nothing more. */
  drop(): void {
    this.#fatal = true;
    this.#pool?.halt();
    this.#runningController?.abort(cancelledError());
  }

  /** Dies on purpose; progress still names the message being handled, so the main side blames it. */
  die(reason: FatalMessage["reason"], error: unknown): void {
    this.#fatal = true;
    this.#pool?.halt();
    this.#post({ t: "fatal", h: this.#h, reason, error: serializeError(error) });
  }

  log(error: unknown): void {
    this.#post({ t: "log", h: this.#h, error: serializeError(error) });
  }

  async init(): Promise<void> {
    const config = this.#config;
    try {
      const mod = (await import(config.moduleUrl)) as {
        default?: ActorDefinition<unknown, unknown, unknown>;
      };
      const candidate = mod.default;
      if (typeof candidate?.handle !== "function" || typeof candidate.initialState !== "function") {
        throw new TroupeError(
          "ERR_ACTOR_NO_HANDLER",
          `${config.moduleUrl} must default-export defineActor({ initialState, handle })`,
        );
      }
      this.#definition = candidate;
      await this.#restored;
      const restoredKeys = this.#tables.restoredKeys;
      try {
        this.#state = await candidate.initialState({
          actor: config.actor,
          instance: config.instance,
          init: config.init,
          tables: this.#tables,
        });
      } catch (error) {
        // The module loaded: what failed is the actor's own start, named so (it read as a module load).
        if (error instanceof TroupeError) throw error;
        throw new TroupeError(
          "ERR_ACTOR_INIT",
          `initialState of ${config.actor} threw: ${messageOf(error)}`,
          {
            cause: error,
          },
        );
      }
      this.#tables.sealed();
      if (config.concurrency > 1 || config.messageTimeoutMs !== null) {
        this.#pool = new TaskPool(config.concurrency, config.messageTimeoutMs, {
          actor: config.actor,
          instance: config.instance,
          progress: this.#progress,
          handle: (payload, context) => candidate.handle(this.#state, payload, context),
          early: (task) => this.#earlyTask(task),
          report: (task) => this.#reportTask(task),
          reported: () => this.#scheduleAck(),
        });
      }
      Comlink.expose(
        {
          snapshot: () => settle(() => (candidate.snapshot ? candidate.snapshot(this.#state) : this.#state)),
          query: (name: string, args: unknown[]) =>
            settle(() => {
              const fn = candidate.queries?.[name];
              if (!fn)
                throw new TroupeError("ERR_QUERY_NOT_FOUND", `actor ${config.actor} has no query "${name}"`);
              return fn(this.#state, ...args);
            }),
        } satisfies ControlApi,
        config.control,
      );
      this.#post({ t: "ready", h: this.#h, queries: Object.keys(candidate.queries ?? {}), restoredKeys });
    } catch (error) {
      const wire = serializeError(error);
      this.#post({
        t: "initError",
        h: this.#h,
        error: { ...wire, code: wire.code ?? "ERR_ACTOR_MODULE_LOAD" },
      });
    }
  }

  /**
   * Sends an ack. A reply the structured clone refuses (a function, a symbol) fails its message with
   * ERR_MESSAGE_ENCODE instead of the post throwing out of the worker: it crashed the worker at each
   * redelivery until the actor failed, past `maxDeliveries`, for one handler's return value.
   */
  #postAck(ack: AckMessage): void {
    try {
      this.#post(ack);
      return;
    } catch (error) {
      if (ack.results === null) throw error;
    }
    const results: unknown[] = [];
    const failures = ack.failures ? [...ack.failures] : [];
    for (let i = 0; i < ack.results.length; i += 2) {
      const [seq, value] = [ack.results[i], ack.results[i + 1]];
      try {
        structuredClone(value);
        results.push(seq, value);
      } catch (error) {
        const refused = new TroupeError(
          "ERR_MESSAGE_ENCODE",
          `the reply cannot be sent back: ${messageOf(error)}`,
        );
        failures.push(seq as number, serializeError(refused));
      }
    }
    this.#post({ ...ack, results: results.length > 0 ? results : null, failures });
  }

  #post(message: FromWorker, transfer?: (ArrayBuffer | MessagePort)[]): void {
    if (this.#fatal && message.t !== "fatal") return;
    if (transfer) self.postMessage(message, transfer);
    else self.postMessage(message);
  }

  #queued(): number {
    let queued = this.#runningFrameRest;
    for (const frame of this.#frames) queued += frame[1].length;
    return queued;
  }

  /** Serial mode: a cancel aborts the running handler's signal, or marks a message still to come. */
  #cancelSerial(seq: number): void {
    if (this.#running && seq === this.#runningSeq) this.#runningController?.abort(cancelledError());
    else if (seq > this.#upTo) this.#cancelled.add(seq);
  }

  #flushAck(): void {
    if (this.#sinceAck === 0 && this.#results === null && this.#failures === null) return;
    const ack: AckMessage = {
      t: "ack",
      h: this.#h,
      upTo: this.#upTo,
      results: this.#results,
      failures: this.#failures,
      latencies: this.#latencies,
    };
    this.#handled += this.#sinceAck;
    this.#sinceAck = 0;
    this.#pendingSince = performance.now();
    this.#results = null;
    this.#failures = null;
    this.#latencies = null;
    this.#postAck(ack);
    const recycle = this.#config.recycle;
    if (recycle && !this.#recycleAsked) this.#considerRecycling(recycle);
  }

  /** Asks once for a planned restart when a recycle limit is passed (the heap read at most every 100 ms). */
  #considerRecycling(limits: NonNullable<InitMessage["recycle"]>): void {
    let reason: "messages" | "heap" | null = null;
    let heapBytes = 0;
    if (limits.afterMessages !== null && this.#handled >= limits.afterMessages) reason = "messages";
    const now = performance.now();
    if (limits.maxHeapMb !== null && now - this.#heapCheckedAt >= HEAP_CHECK_EVERY_MS) {
      this.#heapCheckedAt = now;
      heapBytes = process.memoryUsage().heapUsed;
      if (reason === null && heapBytes > limits.maxHeapMb * 1024 * 1024) reason = "heap";
    }
    if (reason === null) return;
    this.#recycleAsked = true;
    this.#post({ t: "recycle", h: this.#h, reason, handled: this.#handled, heapBytes });
  }

  #scheduleAck(): void {
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    setImmediate(() => {
      this.#ackScheduled = false;
      this.#flushAck();
    });
  }

  /** A pool task finished out of order: its outcome leaves with the next ack, ahead of `upTo`. */
  #earlyTask(task: Task): void {
    this.#recordOutcome(task);
    this.#scheduleAck();
  }

  /** A pool task is reported in seq order: `upTo` passes it. */
  #reportTask(task: Task): void {
    if (!task.early) this.#recordOutcome(task);
    if (this.#fatal) return;
    this.#upTo = task.seq;
    if (++this.#sinceAck >= this.#config.ackEvery) this.#flushAck();
  }

  /**
   * Records a pool task's outcome for the next ack. A result goes only to a sender waiting for one; one that
   * finished early goes even when undefined, since the main side replies to it before `upTo` passes it.
   */
  #recordOutcome(task: Task): void {
    const seq = task.seq;
    if (task.ok) {
      if (task.wantsResult && (task.early || task.outcome !== undefined)) {
        this.#results ??= [];
        this.#results.push(seq, task.outcome);
      }
    } else {
      if (this.#config.handlerError === "crash" && !givenUp(task.outcome)) {
        this.#progress[1] = progressTag(seq);
        this.die("handlerError", task.outcome);
        return;
      }
      this.#failures ??= [];
      this.#failures.push(seq, serializeError(task.outcome));
    }
    if ((seq & LATENCY_SAMPLE_MASK) === 0 && task.startedAt > 0) {
      this.#latencies ??= [];
      this.#latencies.push(performance.now() - task.startedAt);
    }
  }

  #addFrame(frame: Frame): void {
    const taskPool = this.#pool as TaskPool;
    const [firstSeq, messages, deliveries, wants] = frame;
    const keys = frame[4] ?? 0;
    for (let i = 0; i < messages.length; i++) {
      taskPool.add(
        firstSeq + i,
        messages[i],
        typeof deliveries === "number" ? deliveries : (deliveries[i] as number),
        (typeof wants === "number" ? wants : wants[i]) === 1,
        typeof keys === "number" ? keys : (keys[i] as number),
      );
    }
    taskPool.pump();
  }

  /**
   * One slice of the checkpoint under way. After the last one, the ack covering
   * `upTo` goes first (so the main side knows every message the checkpoint covers), then the checkpoint, its
   * segment in one transferred buffer.
   */
  #checkpointSlice(): void {
    let taken: ReturnType<CheckpointTaker["step"]>;
    try {
      taken = this.#checkpoints.step();
    } catch (error) {
      // A value its table's codec refuses (ERR_ENCODE, naming table and key): no checkpoint can be written
      // while it is there, so the instance ends with that error, as a handler error ends it. Not rethrown:
      // an uncaught error would end every actor sharing this thread.
      this.die("checkpointFailed", error);
      return;
    }
    if (!taken) return;
    this.#flushAck();
    const { segment, pauseMs, workMs } = taken;
    const message: CheckpointMessage = {
      t: "checkpoint",
      h: this.#h,
      upTo: this.#upTo,
      segment,
      pauseMs,
      workMs,
    };
    this.#post(message, segment ? [segment.buffer as ArrayBuffer] : []);
  }

  /**
   * Concurrent mode, once the pool quiesced (nothing in progress: a handler awaiting I/O may have half
   * changed the tables, which no checkpoint may cover): the checkpoint is written whole while the pool waits.
   */
  #takeWholeCheckpoint(): void {
    this.#checkpoints.begin();
    while (this.#checkpoints.active && !this.#fatal) this.#checkpointSlice();
  }

  /**
   * The host is idle with a checkpoint under way: a slice per turn of the event loop, so frames get in
   * between. One chain of turns at a time: `run` ending starts one while an earlier one may still be queued.
   */
  #idleCheckpointSlices(): void {
    if (this.#idleSlicing) return;
    this.#idleSlicing = true;
    setImmediate(() => this.#idleCheckpointSlice());
  }

  #idleCheckpointSlice(): void {
    this.#idleSlicing = false;
    if (this.#running || this.#fatal || !this.#checkpoints.active) return;
    this.#checkpointSlice();
    if (this.#checkpoints.active && !this.#fatal) this.#idleCheckpointSlices();
  }

  async #run(): Promise<void> {
    this.#running = true;
    const config = this.#config;
    const progress = this.#progress;
    const ctx = this.#ctx as { deliveries: number };
    const definition = this.#definition;
    const state = this.#state;
    const cancelled = this.#cancelled;
    let frame = this.#frames.shift();
    while (frame !== undefined && !this.#fatal) {
      if (this.#sinceAck === 0) this.#pendingSince = performance.now();
      const [firstSeq, messages, deliveries, wants] = frame;
      for (let i = 0; i < messages.length && !this.#fatal; i++) {
        const seq = firstSeq + i;
        ctx.deliveries = typeof deliveries === "number" ? deliveries : (deliveries[i] as number);
        progress[0] = progressTag(seq);
        this.#runningSeq = seq;
        this.#runningFrameRest = messages.length - 1 - i;
        this.#runningController = null;
        const sampled = (seq & LATENCY_SAMPLE_MASK) === 0;
        const started = sampled ? performance.now() : 0;
        try {
          if (cancelled.size > 0 && cancelled.delete(seq)) throw cancelledError();
          if (Atomics.load(progress, HAND_BACK_SLOT) !== 0) throw handedBackError();
          let result = definition.handle(state, messages[i], this.#ctx);
          if (isThenable(result)) {
            // What is handled already does not wait for this one's I/O.
            if (this.#sinceAck > 0) this.#flushAck();
            result = await result;
          }
          // The host is dying (an unhandled rejection while this handler awaited) or was dropped: record
          // nothing and leave progress on this message.
          if (this.#fatal) return;
          // A missing result reads as undefined on the main side: only real values travel back.
          if (result !== undefined && (typeof wants === "number" ? wants === 1 : wants[i] === 1)) {
            this.#results ??= [];
            this.#results.push(seq, result);
          }
        } catch (thrown) {
          if (this.#fatal) return;
          // A handler that rejects once its signal aborts (fetch, node:timers/promises) ended because the
          // runtime gave up on it, not by a failure of its own: reported with the abort's reason.
          // (A cast: the handler may have made the controller since it was reset above.)
          const aborted = (this.#runningController as AbortController | null)?.signal;
          const error = aborted?.aborted ? aborted.reason : thrown;
          if (config.handlerError === "crash" && !givenUp(error)) {
            this.die("handlerError", error);
            return;
          }
          this.#failures ??= [];
          this.#failures.push(seq, serializeError(error));
        }
        this.#upTo = seq;
        ++this.#sinceAck;
        if (sampled) {
          const now = performance.now();
          this.#latencies ??= [];
          this.#latencies.push(now - started);
          if (now - this.#pendingSince >= ACK_MAX_DELAY_MS) this.#flushAck();
        }
        if (this.#sinceAck >= config.ackEvery) this.#flushAck();
        if (this.#checkpoints.overdue) this.#checkpointSlice();
      }
      if (this.#sinceAck > 0 && performance.now() - this.#pendingSince >= ACK_MAX_DELAY_MS) this.#flushAck();
      frame = this.#frames.shift();
    }
    progress[0] = PROGRESS_IDLE;
    this.#flushAck();
    this.#running = false;
    this.#idleCheckpointSlices();
  }
}

const hosts = new Map<number, ActorHost>();

/**
 * An unhandled rejection cannot be told apart by host: each host on the thread applies its own policy to
 * it (so a thread shared by actors that crash on one dies on it; one that only logs reports it).
 */
process.on("unhandledRejection", (reason) => {
  for (const host of hosts.values()) {
    if (host.unhandledRejection === "log") host.log(reason);
    else host.die("unhandledRejection", reason);
  }
});

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.t === "init") {
    const host = new ActorHost(message);
    hosts.set(message.h, host);
    void host.init();
    return;
  }
  const host = hosts.get(message.h);
  if (!host) return;
  if (message.t === "drop") {
    hosts.delete(message.h);
    host.drop();
  } else host.receive(message);
};

/**
 * Worker side of an actor instance: loads the actor module, handles frames of messages one at a time in
 * order (or, with concurrency or a message timeout, through a task pool: task-pool.ts), returns credits in
 * batched acks, asks for its own recycling, and exposes the control plane (snapshot, queries) over comlink.
 * The main side is instance.ts / mailbox.ts; the wire is protocol.ts.
 */
import * as Comlink from "comlink";
import { Unpackr } from "msgpackr";
import { serializeError, TroupeError } from "../errors.ts";
import { CheckpointTaker } from "./checkpoint-taker.ts";
import type { ActorDefinition, MessageContext } from "./define-actor.ts";
import { DurableTables } from "./durable-table.ts";
import {
  type AckMessage,
  type CheckpointMessage,
  type ControlApi,
  type ControlResult,
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

const unpackr = new Unpackr();
const frames: Frame[] = [];
let definition: ActorDefinition<unknown, unknown, unknown>;
let state: unknown;
let config: InitMessage;
let progress: Int32Array;
let running = false;
let fatal = false;
let tables: DurableTables;
/** Resolves once every restore chunk arrived (durable actors). */
let restored: Promise<void> = Promise.resolve();
let finishRestore: () => void = () => {};
/** Live keys the restore brought back (reported with `ready`). */
let restoredKeys = 0;
/** Writes the checkpoints in slices; its writer is reused by every checkpoint (its buffer grows once). */
let checkpoints: CheckpointTaker;
/** An idle slice is queued (a turn of the event loop away). */
let idleSlicing = false;
/** Concurrent mode's scheduler; null in the serial mode (concurrency 1, no message timeout). */
let pool: TaskPool | null = null;
let ackScheduled = false;
/** Messages handled by this worker (for recycling). */
let handled = 0;
let recycleAsked = false;
let heapCheckedAt = 0;
const HEAP_CHECK_EVERY_MS = 100;

/** Serial mode: the message being handled, its AbortController once the handler read `ctx.signal`. */
let runningSeq = 0;
let runningController: AbortController | null = null;
/** Serial mode: messages cancelled before their turn; they fail with ERR_CANCELLED without running. */
const cancelled = new Set<number>();

/** Serial mode: messages after the running one in its frame. */
let runningFrameRest = 0;

/** The serial mode's context, reused for every message; the signal is made only for a handler that asks. */
const ctx = {
  actor: "",
  instance: 0,
  deliveries: 0,
  get queued(): number {
    let queued = runningFrameRest;
    for (const frame of frames) queued += frame[1].length;
    return queued;
  },
  get signal(): AbortSignal {
    runningController ??= new AbortController();
    return runningController.signal;
  },
};

/** Serial mode: a cancel aborts the running handler's signal, or marks a message still to come. */
function cancelSerial(seq: number): void {
  if (running && seq === runningSeq) runningController?.abort(cancelledError());
  else if (seq > upTo) cancelled.add(seq);
}

let upTo = 0;
let sinceAck = 0;
let results: unknown[] | null = null;
let failures: unknown[] | null = null;
let latencies: number[] | null = null;

function post(message: FromWorker): void {
  self.postMessage(message);
}

function flushAck(): void {
  if (sinceAck === 0 && results === null && failures === null) return;
  const ack: AckMessage = { t: "ack", upTo, results, failures, latencies };
  handled += sinceAck;
  sinceAck = 0;
  results = null;
  failures = null;
  latencies = null;
  post(ack);
  if (config.recycle && !recycleAsked) considerRecycling(config.recycle);
}

/** Asks once for a planned restart when a recycle limit is passed (the heap read at most every 100 ms). */
function considerRecycling(limits: NonNullable<InitMessage["recycle"]>): void {
  let reason: "messages" | "heap" | null = null;
  let heapBytes = 0;
  if (limits.afterMessages !== null && handled >= limits.afterMessages) reason = "messages";
  const now = performance.now();
  if (limits.maxHeapMb !== null && now - heapCheckedAt >= HEAP_CHECK_EVERY_MS) {
    heapCheckedAt = now;
    heapBytes = process.memoryUsage().heapUsed;
    if (reason === null && heapBytes > limits.maxHeapMb * 1024 * 1024) reason = "heap";
  }
  if (reason === null) return;
  recycleAsked = true;
  post({ t: "recycle", reason, handled, heapBytes });
}

function scheduleAck(): void {
  if (ackScheduled) return;
  ackScheduled = true;
  setImmediate(scheduledAck);
}

function scheduledAck(): void {
  ackScheduled = false;
  flushAck();
}

/** A pool task finished out of order: its outcome leaves with the next ack, ahead of `upTo`. */
function earlyTask(task: Task): void {
  recordOutcome(task);
  scheduleAck();
}

/** A pool task is reported in seq order: `upTo` passes it. */
function reportTask(task: Task): void {
  if (!task.early) recordOutcome(task);
  if (fatal) return;
  upTo = task.seq;
  if (++sinceAck >= config.ackEvery) flushAck();
}

/**
 * Records a pool task's outcome for the next ack. A result goes only to a sender waiting for one; one that
 * finished early goes even when undefined, since the main side replies to it before `upTo` passes it.
 */
function recordOutcome(task: Task): void {
  const seq = task.seq;
  if (task.ok) {
    if (task.wantsResult && (task.early || task.outcome !== undefined)) {
      results ??= [];
      results.push(seq, task.outcome);
    }
  } else {
    if (config.handlerError === "crash" && !givenUp(task.outcome)) {
      progress[1] = progressTag(seq);
      die("handlerError", task.outcome);
      return;
    }
    failures ??= [];
    failures.push(seq, serializeError(task.outcome));
  }
  if ((seq & LATENCY_SAMPLE_MASK) === 0 && task.startedAt > 0) {
    latencies ??= [];
    latencies.push(performance.now() - task.startedAt);
  }
}

/** Failed because the runtime gave up on it (deadline, cancel), not because the handler threw on its own. */
function givenUp(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ERR_HANDLER_TIMEOUT" || code === "ERR_CANCELLED";
}

function addFrame(frame: Frame): void {
  const taskPool = pool as TaskPool;
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
function checkpointSlice(): void {
  const taken = checkpoints.step();
  if (!taken) return;
  flushAck();
  const { segment, pauseMs, workMs } = taken;
  const message: CheckpointMessage = { t: "checkpoint", upTo, segment, pauseMs, workMs };
  self.postMessage(message, segment ? [segment.buffer as ArrayBuffer] : []);
}

/**
 * Concurrent mode, once the pool quiesced (nothing in progress: a handler awaiting I/O may have half
 * changed the tables, which no checkpoint may cover): the checkpoint is written whole while the pool waits.
 */
function takeWholeCheckpoint(): void {
  checkpoints.begin();
  while (checkpoints.active) checkpointSlice();
}

/**
 * The worker is idle with a checkpoint under way: a slice per turn of the event loop, so frames get in
 * between. One chain of turns at a time: `run` ending starts one while an earlier one may still be queued.
 */
function idleCheckpointSlices(): void {
  if (idleSlicing) return;
  idleSlicing = true;
  setImmediate(idleCheckpointSlice);
}

function idleCheckpointSlice(): void {
  idleSlicing = false;
  if (running || !checkpoints.active) return;
  checkpointSlice();
  if (checkpoints.active) idleCheckpointSlices();
}

/** Comlink drops custom error fields, so errors travel as values with their code. */
async function settle(fn: () => unknown): Promise<ControlResult> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}

async function run(): Promise<void> {
  running = true;
  let frame = frames.shift();
  while (frame !== undefined && !fatal) {
    const [firstSeq, messages, deliveries, wants] = frame;
    for (let i = 0; i < messages.length && !fatal; i++) {
      const seq = firstSeq + i;
      ctx.deliveries = typeof deliveries === "number" ? deliveries : (deliveries[i] as number);
      progress[0] = progressTag(seq);
      runningSeq = seq;
      runningFrameRest = messages.length - 1 - i;
      runningController = null;
      const sampled = (seq & LATENCY_SAMPLE_MASK) === 0;
      const started = sampled ? performance.now() : 0;
      try {
        if (cancelled.size > 0 && cancelled.delete(seq)) throw cancelledError();
        if (Atomics.load(progress, HAND_BACK_SLOT) !== 0) throw handedBackError();
        let result = definition.handle(state, messages[i], ctx as MessageContext);
        if (isThenable(result)) result = await result;
        // The worker is dying (an unhandled rejection while this handler awaited): record nothing and
        // leave progress on this message.
        if (fatal) return;
        // A missing result reads as undefined on the main side: only real values travel back.
        if (result !== undefined && (typeof wants === "number" ? wants === 1 : wants[i] === 1)) {
          results ??= [];
          results.push(seq, result);
        }
      } catch (error) {
        if (config.handlerError === "crash" && !givenUp(error)) {
          die("handlerError", error);
          return;
        }
        failures ??= [];
        failures.push(seq, serializeError(error));
      }
      if (sampled) {
        latencies ??= [];
        latencies.push(performance.now() - started);
      }
      upTo = seq;
      if (++sinceAck >= config.ackEvery) flushAck();
      if (checkpoints.overdue) checkpointSlice();
    }
    frame = frames.shift();
  }
  progress[0] = PROGRESS_IDLE;
  flushAck();
  running = false;
  idleCheckpointSlices();
}

/** Dies on purpose; progress still names the message being handled, so the main side blames it. */
function die(reason: "unhandledRejection" | "handlerError", error: unknown): void {
  fatal = true;
  pool?.halt();
  post({ t: "fatal", reason, error: serializeError(error) });
}

async function init(message: InitMessage): Promise<void> {
  config = message;
  progress = new Int32Array(message.progress);
  ctx.actor = message.actor;
  ctx.instance = message.instance;
  tables = new DurableTables(message.durable);
  checkpoints = new CheckpointTaker(tables, new SegmentWriter(), {
    sliceMs: message.checkpointSliceMs,
    deferMs: message.checkpointDeferMs,
  });
  if (message.durable) restored = new Promise((resolve) => (finishRestore = resolve));
  try {
    const mod = (await import(message.moduleUrl)) as { default?: ActorDefinition<unknown, unknown, unknown> };
    const candidate = mod.default;
    if (typeof candidate?.handle !== "function" || typeof candidate.initialState !== "function") {
      throw new TroupeError(
        "ERR_ACTOR_NO_HANDLER",
        `${message.moduleUrl} must default-export defineActor({ initialState, handle })`,
      );
    }
    definition = candidate;
    await restored;
    restoredKeys = tables.restoredKeys;
    state = await definition.initialState({
      actor: message.actor,
      instance: message.instance,
      init: message.init,
      tables,
    });
    tables.sealed();
    if (message.concurrency > 1 || message.messageTimeoutMs !== null) {
      pool = new TaskPool(message.concurrency, message.messageTimeoutMs, {
        actor: message.actor,
        instance: message.instance,
        progress,
        handle: (payload, context) => definition.handle(state, payload, context),
        early: earlyTask,
        report: reportTask,
        reported: scheduleAck,
      });
    }
  } catch (error) {
    const wire = serializeError(error);
    post({ t: "initError", error: { ...wire, code: wire.code ?? "ERR_ACTOR_MODULE_LOAD" } });
    return;
  }
  Comlink.expose(
    {
      snapshot: () => settle(() => (definition.snapshot ? definition.snapshot(state) : state)),
      query: (name: string, args: unknown[]) =>
        settle(() => {
          const fn = definition.queries?.[name];
          if (!fn)
            throw new TroupeError("ERR_QUERY_NOT_FOUND", `actor ${message.actor} has no query "${name}"`);
          return fn(state, ...args);
        }),
    } satisfies ControlApi,
    message.control,
  );
  post({ t: "ready", queries: Object.keys(definition.queries ?? {}), restoredKeys });
}

process.on("unhandledRejection", (reason) => {
  if (config?.unhandledRejection === "log") post({ t: "log", error: serializeError(reason) });
  else die("unhandledRejection", reason);
});

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.t) {
    case "frame": {
      const frame = unpackr.unpack(new Uint8Array(message.buf)) as Frame;
      if (pool) addFrame(frame);
      else {
        frames.push(frame);
        if (!running) void run();
      }
      break;
    }
    case "checkpoint":
      if (pool) pool.quiesce(takeWholeCheckpoint);
      else {
        checkpoints.begin();
        idleCheckpointSlices();
      }
      break;
    case "cancel":
      if (pool) pool.cancel(message.seq);
      else cancelSerial(message.seq);
      break;
    case "restore":
      tables.restore(message.segment);
      break;
    case "restored":
      finishRestore();
      break;
    case "init":
      void init(message);
      break;
  }
};

/**
 * Worker side of an actor instance: loads the actor module, handles frames of messages one at a time in
 * order, returns credits in batched acks, and exposes the control plane (snapshot, queries) over comlink.
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
  type InitMessage,
  PROGRESS_IDLE,
  progressTag,
  type ToWorker,
} from "./protocol.ts";
import { SegmentWriter } from "./state-segment.ts";

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

const ctx: { actor: string; instance: number; deliveries: number } = {
  actor: "",
  instance: 0,
  deliveries: 0,
};

let upTo = 0;
let sinceAck = 0;
let results: unknown[] | null = null;
let failures: unknown[] | null = null;
let latencies: number[] | null = null;

function post(message: FromWorker): void {
  self.postMessage(message);
}

function flushAck(): void {
  if (sinceAck === 0) return;
  const ack: AckMessage = { t: "ack", upTo, results, failures, latencies };
  sinceAck = 0;
  results = null;
  failures = null;
  latencies = null;
  post(ack);
}

/**
 * A message boundary while a checkpoint is under way: one slice of it. After the last one, the ack covering
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

/** The worker is idle with a checkpoint under way: a slice per turn of the event loop, so frames get in. */
function idleCheckpointSlices(): void {
  if (running || !checkpoints.active) return;
  checkpointSlice();
  if (checkpoints.active) setImmediate(idleCheckpointSlices);
}

/** Comlink drops custom error fields, so errors travel as values with their code. */
async function settle(fn: () => unknown): Promise<ControlResult> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
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
      const sampled = (seq & LATENCY_SAMPLE_MASK) === 0;
      const started = sampled ? performance.now() : 0;
      try {
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
        if (config.handlerError === "crash") {
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
      if (checkpoints.active) checkpointSlice();
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
  post({ t: "fatal", reason, error: serializeError(error) });
}

async function init(message: InitMessage): Promise<void> {
  config = message;
  progress = new Int32Array(message.progress);
  ctx.actor = message.actor;
  ctx.instance = message.instance;
  tables = new DurableTables(message.durable);
  checkpoints = new CheckpointTaker(tables, new SegmentWriter(), message.checkpointSliceMs);
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
    case "frame":
      frames.push(unpackr.unpack(new Uint8Array(message.buf)) as Frame);
      if (!running) void run();
      break;
    case "checkpoint":
      checkpoints.begin();
      idleCheckpointSlices();
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

/**
 * The wire between the main thread (actor-ref / instance / mailbox) and a worker (actor-host).
 * Every message type that crosses the thread boundary is declared here and nowhere else.
 *
 * Data plane: `frame` carries many messages as one msgpackr-encoded {@link Frame}, transferred (never cloned),
 * and `ack` returns a cumulative "processed up to seq" with only the results someone waits for.
 * Control plane: comlink over a dedicated MessagePort (see control.ts), never used for messages.
 * A worker thread may host several instances (a shared thread pool): every message names its host, `h`,
 * a number the main side's thread gives each instance it hosts (actor-thread.ts).
 */
import type { SerializedError } from "../errors.ts";

/**
 * A frame: `[firstSeq, messages, deliveries, wantsResult, orderKeys?]`. Message i has seq firstSeq + i.
 * `deliveries`, `wantsResult` (0 | 1) and `orderKeys` are one number for the whole frame when uniform, else
 * one entry per message. An order key is a 32-bit hash of the message's order key (0: unordered), sent only
 * to a worker with concurrency > 1; messages with the same one are handled one at a time, in seq order.
 */
export type Frame =
  | [firstSeq: number, messages: unknown[], deliveries: number | number[], wantsResult: number | number[]]
  | [
      firstSeq: number,
      messages: unknown[],
      deliveries: number | number[],
      wantsResult: number | number[],
      orderKeys: number | number[],
    ];

export type UnhandledRejectionPolicy = "crash" | "log";
export type HandlerErrorPolicy = "redeliver" | "crash";

export interface InitMessage {
  t: "init";
  h: number;
  moduleUrl: string;
  actor: string;
  instance: number;
  init: unknown;
  /** The worker returns credits after this many processed messages, or when it runs out of work. */
  ackEvery: number;
  unhandledRejection: UnhandledRejectionPolicy;
  handlerError: HandlerErrorPolicy;
  /**
   * Int32 slot 0: tag of the message being handled, the oldest one in progress under concurrency (0 = idle):
   * read by the watchdog and on crash. Slot 1 (concurrency only): tag of the handler whose synchronous part
   * runs right now, so a crash or hang inside it blames that message rather than the oldest. Slot 2, set by
   * the main side ({@link HAND_BACK_SLOT}): start no further message, finish each as cancelled.
   */
  progress: SharedArrayBuffer;
  control: MessagePort;
  /**
   * The actor has a state store: its tables are tracked, and `initialState` waits for `restored` (the
   * module loads meanwhile, while the main side reads the last checkpoint from the store).
   */
  durable: boolean;
  /** A durable actor writes a checkpoint in slices of at most this long where it idles... */
  checkpointSliceMs: number;
  /** ...and between messages too once the checkpoint is this old. */
  checkpointDeferMs: number;
  /** Messages in progress at once; above 1 (or with a message timeout) the worker runs a task pool. */
  concurrency: number;
  /** A handler running longer is aborted (`ctx.signal`) and its message fails with ERR_HANDLER_TIMEOUT. */
  messageTimeoutMs: number | null;
  /** When the worker asks to be recycled (a planned restart). */
  recycle: { afterMessages: number | null; maxHeapMb: number | null } | null;
}

export interface FrameMessage {
  t: "frame";
  h: number;
  buf: ArrayBuffer;
}

/** One chunk of the last durable checkpoint (durable actors, after `init`, before `restored`). */
export interface RestoreMessage {
  t: "restore";
  h: number;
  /** A segment to replay (state-segment.ts), in the order the store gave them. */
  segment: Uint8Array;
}

/** Every restore chunk was sent: `initialState` may run. */
export interface RestoredMessage {
  t: "restored";
  h: number;
}

/** Take a checkpoint at the next message boundary. */
export interface CheckpointRequest {
  t: "checkpoint";
  h: number;
}

/**
 * The runtime gave up on a message (its asker timed out): abort its handler (`ctx.signal`) or skip it if
 * not started; it fails with ERR_CANCELLED, which is not redelivered. A serial worker can abort only a
 * handler that read `ctx.signal`; one that did not runs to its end.
 */
export interface CancelMessage {
  t: "cancel";
  h: number;
  seq: number;
}

/** The main side let go of a host (its instance stopped or restarts): it handles and reports nothing more. */
export interface DropMessage {
  t: "drop";
  h: number;
}

export type ToWorker =
  | InitMessage
  | DropMessage
  | FrameMessage
  | RestoreMessage
  | RestoredMessage
  | CheckpointRequest
  | CancelMessage;

export interface ReadyMessage {
  t: "ready";
  h: number;
  queries: string[];
  /** Live keys restored from the store (0 without durable state). */
  restoredKeys: number;
}

export interface InitErrorMessage {
  t: "initError";
  h: number;
  error: SerializedError;
}

export interface AckMessage {
  t: "ack";
  h: number;
  /** Every message with seq ≤ upTo has been handled (successfully or not). */
  upTo: number;
  /** Flat [seq, result, ...] for messages that asked for their result. */
  results: unknown[] | null;
  /** Flat [seq, SerializedError, ...] for handlers that threw. */
  failures: unknown[] | null;
  /** Sampled handler latencies in ms. */
  latencies: number[] | null;
}

/**
 * The worker is about to die on purpose: an unhandled rejection or a handler error under the crash policy,
 * or a checkpoint it could not write.
 */
export interface FatalMessage {
  t: "fatal";
  h: number;
  reason: "unhandledRejection" | "handlerError" | "checkpointFailed";
  error: SerializedError;
}

/** An unhandled rejection under the log policy: reported, the worker lives on. */
export interface LogMessage {
  t: "log";
  h: number;
  error: SerializedError;
}

/**
 * A checkpoint: the tables' keys touched since the previous one, covering exactly the messages handled up
 * to `upTo`. Posted after the ack that covers `upTo`, so the main side already knows every one of them.
 */
export interface CheckpointMessage {
  t: "checkpoint";
  h: number;
  upTo: number;
  /** The touched keys as one segment (its buffer transferred), or null when nothing was touched. */
  segment: Uint8Array | null;
  /** The longest slice of it: the most it held up the handling of a message. */
  pauseMs: number;
  /** All its slices together: what encoding the touched values cost the worker. */
  workMs: number;
}

/** A recycle limit was passed: the worker asks for a planned restart (sent once per worker). */
export interface RecycleMessage {
  t: "recycle";
  h: number;
  reason: "messages" | "heap";
  /** Messages handled by this worker so far. */
  handled: number;
  heapBytes: number;
}

export type FromWorker =
  | RecycleMessage
  | ReadyMessage
  | InitErrorMessage
  | AckMessage
  | FatalMessage
  | LogMessage
  | CheckpointMessage;

/**
 * Seqs grow without bound but the progress slot is an Int32; tags only need to tell apart the messages
 * of one window (≤ capacity), so seq modulo 2^30, shifted off zero (zero means idle), is enough.
 */
export function progressTag(seq: number): number {
  return (seq % 0x3fffffff) + 1;
}

export const PROGRESS_IDLE = 0;

/** Int32 slots of the progress buffer (see {@link InitMessage.progress}). */
export const PROGRESS_SLOTS = 3;

/**
 * Non-zero: the actor is stopping and hands back what its worker has not started (`ActorRef.stop`'s
 * `handBack`). Shared memory rather than a message, which would wait behind every frame already posted.
 */
export const HAND_BACK_SLOT = 2;

/** Result of a control-plane call (comlink keeps no error codes, so errors travel as values). */
export type ControlResult = { ok: true; value: unknown } | { ok: false; error: SerializedError };

/** What a worker exposes over comlink. */
export interface ControlApi {
  snapshot(): Promise<ControlResult>;
  query(name: string, args: unknown[]): Promise<ControlResult>;
}

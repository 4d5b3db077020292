/** Options of `system.spawn`, their defaults, and the resolver that validates them. */
import { InvalidOptionError, messageOf, optionNames, refuseUnknownOptions } from "../errors.ts";
import { type BackoffOptions, resolveBackoff } from "../time/backoff.ts";
import { ThreadPool } from "./actor-thread.ts";
import type { HandlerErrorPolicy, UnhandledRejectionPolicy } from "./protocol.ts";
import type { StateStore } from "./state-store.ts";

export type RestartType = "permanent" | "transient" | "temporary";
export type RouteKey = string | number;

/** Durable state: the actor's tables are checkpointed to `store` and restored from it on every start. */
export interface StateOptions {
  store: StateStore;
  /**
   * Ask for a checkpoint once this many handled messages wait for one. A checkpoint is also asked for
   * once half the mailbox capacity waits (their credits are held until it is durable).
   * @defaultValue 1000
   */
  checkpointEvery?: number;
  /** Ask for a checkpoint at most this long after the first handled message that waits for one. @defaultValue 1000 */
  checkpointIntervalMs?: number;
  /**
   * The worker writes a checkpoint in slices of at most this long, so a checkpoint holds up no message for
   * longer (the keys the messages touch meanwhile are written at its end).
   * @defaultValue 1
   */
  checkpointSliceMs?: number;
  /**
   * Slices go where the worker idles (a turn of its event loop without a message); a checkpoint under way
   * for this long takes one between two messages as well, so a worker that never idles still finishes it.
   * @defaultValue 100
   */
  checkpointDeferMs?: number;
  /**
   * The store held this actor's state before: it ran in this process, was stopped and is spawned again
   * (say its lease moved away and came back). A restore that finds no record of an instance's state then
   * reports it lost (the `stateLost` event), as a restart does: without it, a store that lost everything (a
   * Redis restarted without persistence) looks like a first start. @defaultValue false
   */
  expectRecord?: boolean;
}

export interface SpawnOptions<M = unknown> {
  /** Unique actor name. @defaultValue the module's file name without `.actor.ts` / `.ts` */
  name?: string;
  /** Worker threads (instances) for this actor. @defaultValue 1 */
  instances?: number;
  /** Mailbox capacity C per instance: at most C messages sent but not yet handled. @defaultValue 1024 */
  capacity?: number;
  /** `"round-robin"`, or a key function: the same key always goes to the same instance. @defaultValue "round-robin" */
  route?: "round-robin" | ((message: M) => RouteKey);
  /** A handler running longer than this is hung: its worker is terminated and restarted. @defaultValue 30000 */
  deadlineMs?: number;
  /**
   * Failed deliveries of a message (its handler threw, or its worker died handling it) before it goes to the
   * dead-letter handler; redeliveries caused by another message's crash do not count. @defaultValue 5
   */
  maxDeliveries?: number;
  /** permanent: always restart; transient: only after an abnormal end; temporary: never. @defaultValue "permanent" */
  restart?: RestartType;
  /** A handler that throws fails only its message ("redeliver") or crashes the worker ("crash"). @defaultValue "redeliver" */
  onHandlerError?: HandlerErrorPolicy;
  /** An unhandled promise rejection in the worker crashes it, or is only reported. @defaultValue "crash" */
  unhandledRejection?: UnhandledRejectionPolicy;
  /** Senders allowed to wait for credit per instance before `tell` rejects with ERR_TOO_MANY_WAITING. @defaultValue 100000 */
  maxWaiting?: number;
  /** Messages per frame (one postMessage). @defaultValue ackEvery, so that an ack never splits a frame */
  frameSize?: number;
  /** The worker returns credits after this many handled messages. @defaultValue clamp(floor(capacity / 4), 1, 1024) */
  ackEvery?: number;
  /** Restarts allowed within `periodMs` before the actor is failed (0: none). @defaultValue the supervisor's (3) */
  maxRestarts?: number;
  /** Window of the restart intensity. @defaultValue the supervisor's (5000) */
  periodMs?: number;
  /** Delay between restarts. @defaultValue the supervisor's ({@link BACKOFF_DEFAULTS}) */
  backoff?: BackoffOptions;
  /** Passed (structured-cloned) to the actor's `initialState`. @defaultValue undefined */
  init?: unknown;
  /** Durable state (see {@link StateOptions}). @defaultValue none: the tables live in the worker only */
  state?: StateOptions;
  /**
   * Messages one instance handles at once: an async handler that awaits I/O lets the next ones start, up
   * to this many in progress per worker. Credits, acks, redelivery and dead letters keep their meaning (see
   * docs/architecture.md, "Concurrent handlers"). Must be ≤ capacity. @defaultValue 1
   */
  concurrency?: number;
  /**
   * With `concurrency` > 1, which messages keep their relative order: `"route"` runs messages with the same
   * route key one at a time, in order (so a pump's entries stay in stream order per key), and only
   * different keys overlap; a function gives the key itself; `"none"` orders nothing. A round-robin actor
   * has no route key, so `"route"` orders nothing there. @defaultValue "route"
   */
  orderBy?: "route" | "none" | ((message: M) => RouteKey);
  /**
   * A handler still running this long after it started is given up on: `ctx.signal` aborts and the message
   * fails with ERR_HANDLER_TIMEOUT (redelivered, counted toward `maxDeliveries`); the worker lives on. Must
   * be < `deadlineMs`, which still terminates a worker whose handler keeps the CPU busy.
   * @defaultValue none
   */
  messageTimeoutMs?: number;
  /** Planned restarts of a worker that leaks (see {@link RecycleOptions}). @defaultValue none */
  recycle?: RecycleOptions;
  /**
   * Hosts the instances on this pool's threads, shared with the other instances given the same pool,
   * instead of on a worker thread each: for many small instances on a few cores. Instances on one thread
   * share its event loop (a busy one delays the others) and its module scope, and all restart when it ends
   * (an uncaught error, an exit, a hung handler). Not with `recycle` (a thread's heap is not one
   * instance's). @defaultValue none: a thread per instance
   */
  threads?: ThreadPool;
}

/**
 * A worker is recycled once either limit is passed: it gets no new message, finishes what it holds (a
 * durable instance checkpoints it), and is restarted. Nothing is lost or handled twice, and the restart is
 * not a failure: it does not count toward the restart intensity.
 */
export interface RecycleOptions {
  /** Recycle after this many handled messages. @defaultValue none */
  afterMessages?: number;
  /** Recycle once the worker's JS heap in use passes this many MiB. @defaultValue none */
  maxHeapMb?: number;
}

export interface ResolvedSpawnOptions<M = unknown> {
  name: string;
  instances: number;
  capacity: number;
  route: "round-robin" | ((message: M) => RouteKey);
  deadlineMs: number;
  maxDeliveries: number;
  restart: RestartType;
  onHandlerError: HandlerErrorPolicy;
  unhandledRejection: UnhandledRejectionPolicy;
  maxWaiting: number;
  frameSize: number;
  ackEvery: number;
  maxRestarts: number;
  periodMs: number;
  backoff: Required<BackoffOptions>;
  init: unknown;
  state: Required<StateOptions> | null;
  concurrency: number;
  /** The key whose messages stay in order under concurrency; null: none. */
  orderKey: ((message: M) => RouteKey) | null;
  messageTimeoutMs: number | null;
  recycle: ResolvedRecycle | null;
  threads: ThreadPool | null;
}

export interface ResolvedRecycle {
  afterMessages: number | null;
  maxHeapMb: number | null;
}

export const SPAWN_DEFAULTS = {
  instances: 1,
  capacity: 1024,
  route: "round-robin",
  deadlineMs: 30_000,
  maxDeliveries: 5,
  restart: "permanent",
  onHandlerError: "redeliver",
  unhandledRejection: "crash",
  maxWaiting: 100_000,
  concurrency: 1,
} satisfies Partial<ResolvedSpawnOptions>;

/** Default of `orderBy`: messages with the same route key stay in order. */
export const ORDER_BY_DEFAULT = "route";

export const STATE_DEFAULTS = {
  checkpointEvery: 1000,
  checkpointIntervalMs: 1000,
  checkpointSliceMs: 1,
  checkpointDeferMs: 100,
  expectRecord: false,
} satisfies Partial<StateOptions>;

export interface SupervisionDefaults {
  maxRestarts: number;
  periodMs: number;
  backoff: Required<BackoffOptions>;
}

function positiveNumber(option: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(option, `must be a positive number, got ${String(value)}`);
  }
  return value;
}

function nonNegativeNumber(option: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(option, `must be a number ≥ 0, got ${String(value)}`);
  }
  return value;
}

function positiveInt(option: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidOptionError(option, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * The one rule for `maxRestarts`, wherever it is set (the supervisor's default, a spawn's override): an
 * integer ≥ 0, as OTP's intensity. 0 allows no restart at all: the first failure escalates.
 */
export function checkMaxRestarts(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidOptionError(option, `must be an integer ≥ 0, got ${String(value)}`);
  }
  return value;
}

function flag(option: string, value: boolean): boolean {
  if (typeof value !== "boolean")
    throw new InvalidOptionError(option, `must be a boolean, got ${String(value)}`);
  return value;
}

function oneOf<T extends string>(option: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) {
    throw new InvalidOptionError(option, `must be one of ${allowed.join(", ")}, got ${String(value)}`);
  }
  return value;
}

/** Every option's name, checked against the interface both ways by the compiler. */
const SPAWN_OPTION_NAMES = optionNames<SpawnOptions>({
  name: true,
  instances: true,
  capacity: true,
  route: true,
  deadlineMs: true,
  maxDeliveries: true,
  restart: true,
  onHandlerError: true,
  unhandledRejection: true,
  maxWaiting: true,
  frameSize: true,
  ackEvery: true,
  maxRestarts: true,
  periodMs: true,
  backoff: true,
  init: true,
  state: true,
  concurrency: true,
  orderBy: true,
  messageTimeoutMs: true,
  recycle: true,
  threads: true,
});
const STATE_OPTION_NAMES = optionNames<StateOptions>({
  store: true,
  checkpointEvery: true,
  checkpointIntervalMs: true,
  checkpointSliceMs: true,
  checkpointDeferMs: true,
  expectRecord: true,
});
const RECYCLE_OPTION_NAMES = optionNames<RecycleOptions>({ afterMessages: true, maxHeapMb: true });

/**
 * Refuses a value that cannot be sent to a worker (a function, a class instance holding one), naming its
 * option, here rather than as a DOMException from the first start's postMessage.
 */
function cloneable(option: string, value: unknown): unknown {
  if (value === undefined) return value;
  try {
    structuredClone(value);
  } catch (error) {
    throw new InvalidOptionError(option, `must be structured-cloneable: ${messageOf(error)}`);
  }
  return value;
}

export function resolveSpawnOptions<M>(
  options: SpawnOptions<M>,
  defaultName: string,
  supervision: SupervisionDefaults,
): ResolvedSpawnOptions<M> {
  refuseUnknownOptions(options, SPAWN_OPTION_NAMES, "", "a spawn option");
  const capacity = positiveInt("capacity", options.capacity ?? SPAWN_DEFAULTS.capacity);
  const ackEvery = positiveInt(
    "ackEvery",
    options.ackEvery ?? Math.min(1024, Math.max(1, Math.floor(capacity / 4))),
  );
  const route = options.route ?? SPAWN_DEFAULTS.route;
  if (route !== "round-robin" && typeof route !== "function") {
    throw new InvalidOptionError("route", 'must be "round-robin" or a function returning a key');
  }
  const name = options.name ?? defaultName;
  if (typeof name !== "string" || !/^[A-Za-z0-9][\w.-]{0,63}$/.test(name)) {
    throw new InvalidOptionError(
      "name",
      `must be 1-64 characters of letters, digits, "_", "-", ".", got ${name}`,
    );
  }
  const frameSize = positiveInt("frameSize", options.frameSize ?? ackEvery);
  if (frameSize > capacity)
    throw new InvalidOptionError("frameSize", `must be ≤ capacity (${capacity}), got ${frameSize}`);
  const deadlineMs = positiveInt("deadlineMs", options.deadlineMs ?? SPAWN_DEFAULTS.deadlineMs);
  const concurrency = positiveInt("concurrency", options.concurrency ?? SPAWN_DEFAULTS.concurrency);
  if (concurrency > capacity)
    throw new InvalidOptionError("concurrency", `must be ≤ capacity (${capacity}), got ${concurrency}`);
  const messageTimeoutMs =
    options.messageTimeoutMs === undefined ? null : positiveInt("messageTimeoutMs", options.messageTimeoutMs);
  if (messageTimeoutMs !== null && messageTimeoutMs >= deadlineMs) {
    throw new InvalidOptionError(
      "messageTimeoutMs",
      `must be < deadlineMs (${deadlineMs}), which terminates the worker; got ${messageTimeoutMs}`,
    );
  }
  const threads = options.threads ?? null;
  if (threads !== null && !(threads instanceof ThreadPool))
    throw new InvalidOptionError("threads", "must be a ThreadPool");
  if (threads !== null && options.recycle !== undefined)
    throw new InvalidOptionError(
      "threads",
      "cannot be combined with recycle: a thread's heap is not one instance's",
    );
  return {
    name,
    instances: positiveInt("instances", options.instances ?? SPAWN_DEFAULTS.instances),
    capacity,
    route,
    deadlineMs,
    maxDeliveries: positiveInt("maxDeliveries", options.maxDeliveries ?? SPAWN_DEFAULTS.maxDeliveries),
    restart: oneOf("restart", options.restart ?? SPAWN_DEFAULTS.restart, [
      "permanent",
      "transient",
      "temporary",
    ]),
    onHandlerError: oneOf("onHandlerError", options.onHandlerError ?? SPAWN_DEFAULTS.onHandlerError, [
      "redeliver",
      "crash",
    ]),
    unhandledRejection: oneOf(
      "unhandledRejection",
      options.unhandledRejection ?? SPAWN_DEFAULTS.unhandledRejection,
      ["crash", "log"],
    ),
    maxWaiting: positiveInt("maxWaiting", options.maxWaiting ?? SPAWN_DEFAULTS.maxWaiting),
    frameSize,
    ackEvery,
    maxRestarts: checkMaxRestarts("maxRestarts", options.maxRestarts ?? supervision.maxRestarts),
    periodMs: positiveInt("periodMs", options.periodMs ?? supervision.periodMs),
    backoff: options.backoff
      ? resolveBackoff("backoff", { ...supervision.backoff, ...options.backoff })
      : supervision.backoff,
    init: cloneable("init", options.init),
    state: resolveState(options.state),
    concurrency,
    orderKey: resolveOrderKey(options.orderBy ?? ORDER_BY_DEFAULT, route),
    messageTimeoutMs,
    recycle: resolveRecycle(options.recycle),
    threads,
  };
}

function resolveOrderKey<M>(
  orderBy: SpawnOptions<M>["orderBy"],
  route: ResolvedSpawnOptions<M>["route"],
): ((message: M) => RouteKey) | null {
  if (typeof orderBy === "function") return orderBy;
  if (orderBy === "none") return null;
  if (orderBy === "route") return route === "round-robin" ? null : route;
  throw new InvalidOptionError(
    "orderBy",
    `must be "route", "none" or a key function, got ${String(orderBy)}`,
  );
}

function resolveRecycle(recycle: RecycleOptions | undefined): ResolvedRecycle | null {
  if (recycle === undefined) return null;
  refuseUnknownOptions(recycle, RECYCLE_OPTION_NAMES, "recycle.", "a recycle option");
  const afterMessages =
    recycle.afterMessages === undefined ? null : positiveInt("recycle.afterMessages", recycle.afterMessages);
  const maxHeapMb =
    recycle.maxHeapMb === undefined ? null : positiveInt("recycle.maxHeapMb", recycle.maxHeapMb);
  if (afterMessages === null && maxHeapMb === null) {
    throw new InvalidOptionError("recycle", "needs afterMessages or maxHeapMb");
  }
  return { afterMessages, maxHeapMb };
}

function resolveState(state: StateOptions | undefined): Required<StateOptions> | null {
  if (state === undefined) return null;
  refuseUnknownOptions(state, STATE_OPTION_NAMES, "state.", "a state option");
  const store = state.store;
  if (typeof store?.restore !== "function" || typeof store.commit !== "function") {
    throw new InvalidOptionError("state.store", "must be a StateStore (restore and commit)");
  }
  return {
    store,
    checkpointEvery: positiveInt(
      "state.checkpointEvery",
      state.checkpointEvery ?? STATE_DEFAULTS.checkpointEvery,
    ),
    checkpointIntervalMs: positiveInt(
      "state.checkpointIntervalMs",
      state.checkpointIntervalMs ?? STATE_DEFAULTS.checkpointIntervalMs,
    ),
    checkpointSliceMs: positiveNumber(
      "state.checkpointSliceMs",
      state.checkpointSliceMs ?? STATE_DEFAULTS.checkpointSliceMs,
    ),
    checkpointDeferMs: nonNegativeNumber(
      "state.checkpointDeferMs",
      state.checkpointDeferMs ?? STATE_DEFAULTS.checkpointDeferMs,
    ),
    expectRecord: flag("state.expectRecord", state.expectRecord ?? STATE_DEFAULTS.expectRecord),
  };
}

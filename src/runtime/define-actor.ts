/** What an actor module exports (as `default`): its state, its handler and its read-only queries. */
import type { Tables } from "./durable-table.ts";

/** Passed to `initialState`, once per worker start (so again after every restart). */
export interface InitContext<I = unknown> {
  readonly actor: string;
  readonly instance: number;
  /** The `init` value given to `spawn`, structured-cloned into the worker. */
  readonly init: I;
  /**
   * The instance's durable tables, already restored from its last checkpoint when the actor was spawned
   * with a state store (else kept in memory only). Declare them here and keep them in the state.
   */
  readonly tables: Tables;
}

/** Passed to `handle` with every message. Reused between calls: read it, do not keep it. */
export interface MessageContext {
  readonly actor: string;
  readonly instance: number;
  /** 1 on first delivery; higher when redelivered after a failure or a crash. */
  readonly deliveries: number;
  /**
   * Messages this worker has received that have not started yet: 0 when this is the last one for now.
   * A hint for work done once per burst rather than per message (a progress mark, a flush).
   */
  readonly queued: number;
  /**
   * Aborts when the runtime gives up on this message: at its `messageTimeoutMs`, or when its asker timed
   * out. Pass it to `fetch` and your own awaits; the message then fails with the signal's reason (a
   * TroupeError: ERR_HANDLER_TIMEOUT, redelivered; or ERR_CANCELLED, not redelivered). Read it only when
   * needed: with `concurrency` 1 and no `messageTimeoutMs` it is made on first read.
   */
  readonly signal: AbortSignal;
}

// biome-ignore lint/suspicious/noExplicitAny: query argument lists are user-defined and checked at their call site
export type QueryFn<S> = (state: S, ...args: any[]) => unknown;

export interface ActorDefinition<S = unknown, M = unknown, R = unknown, I = unknown> {
  /** Builds the state of a fresh instance (on start and after each restart). */
  initialState: (ctx: InitContext<I>) => S | Promise<S>;
  /**
   * Handles one message. Messages of one instance are handled one at a time, in order, unless it was
   * spawned with `concurrency` > 1: then up to that many are in progress at once (in order per order key).
   * The return value is the reply to `ask` (and the outputs a stream pump writes); throw to fail this
   * message only.
   */
  handle: (state: S, message: M, ctx: MessageContext) => R | Promise<R>;
  /** Read-only views of the state, callable from the main thread through the control plane. */
  queries?: Record<string, QueryFn<S>>;
  /** What `snapshot()` returns; defaults to the state itself (it must be structured-cloneable). */
  snapshot?: (state: S) => unknown;
}

/**
 * Declares an actor. Put it as the default export of its own module; the runtime loads that module in
 * each of the actor's worker threads.
 *
 * @example
 * ```ts
 * // counter.actor.ts
 * import { defineActor } from "troupe";
 * export default defineActor({
 *   initialState: () => ({ count: 0 }),
 *   handle: (state, msg: { add: number }) => (state.count += msg.add),
 *   queries: { count: (state) => state.count },
 * });
 * ```
 */
export function defineActor<S, M, R = void, I = unknown>(
  definition: ActorDefinition<S, M, R, I>,
): ActorDefinition<S, M, R, I> {
  return definition;
}

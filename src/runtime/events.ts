/**
 * Lifecycle events of an actor system, typed, named as past-tense facts. Subscribe with
 * `system.events.on("crashed", (e) => ...)`; the payload is always one object naming the actor.
 */
import { createNanoEvents, type Emitter, type Unsubscribe } from "nanoevents";
import type { SerializedError } from "../errors.ts";

export type CrashReason =
  | "uncaught"
  | "exit"
  | "deadline"
  | "unhandledRejection"
  | "handlerError"
  | "initError"
  | "stateLost"
  | "checkpointFailed";

export interface ActorEvents {
  /** An actor was spawned with this many instances (each its own worker). */
  spawned(event: { actor: string; instances: number }): void;
  /** An instance's worker loaded the actor module and is taking messages. */
  started(event: { actor: string; instance: number }): void;
  /** An instance's worker failed; `inFlight` messages will be redelivered (or dead-lettered). */
  crashed(event: {
    actor: string;
    instance: number;
    reason: CrashReason;
    error: SerializedError;
    exitCode: number | null;
    inFlight: number;
  }): void;
  /** The supervisor will restart the instance after `delayMs`. */
  restarting(event: {
    actor: string;
    instance: number;
    attempt: number;
    delayMs: number;
    reason: string;
  }): void;
  /** The instance is running again; its in-flight messages were sent to it first. */
  restarted(event: { actor: string; instance: number; attempt: number; downtimeMs: number }): void;
  /**
   * A planned restart (the `recycle` option) is done: the worker passed a limit after `handled` messages
   * (its heap then `heapBytes`, 0 when not read), finished what it held, and a new one is up.
   */
  recycled(event: {
    actor: string;
    instance: number;
    reason: "messages" | "heap";
    handled: number;
    heapBytes: number;
  }): void;
  /** Restart intensity exceeded (or restart type forbids a restart): the actor is failed, not restarted. */
  failed(event: { actor: string; reason: string; error: SerializedError | null; restarts: number }): void;
  /** A message was given up on and handed to the dead-letter handler. */
  deadLettered(event: {
    actor: string;
    instance: number;
    deliveries: number;
    reason: string;
    error: SerializedError;
  }): void;
  /** Senders started waiting for credit on this instance (the mailbox is full). */
  backpressure(event: { actor: string; instance: number; waiting: number }): void;
  /** A worker had an unhandled promise rejection and, under the `log` policy, lives on. */
  rejectionLogged(event: { actor: string; instance: number; error: SerializedError }): void;
  /**
   * A commit of an instance's durable state was refused because a newer incarnation (another process)
   * took the state over: the instance stopped for good, leaving what it held unsettled for the new owner.
   */
  fenced(event: { actor: string; instance: number; epoch: number; error: SerializedError }): void;
  /**
   * An instance's store held no record of the state its incarnation `lostEpoch` had checkpointed (a Redis
   * restarted without persistence, its keys evicted or deleted): the instance restarted from what the store
   * holds, as incarnation `epoch`.
   */
  stateLost(event: { actor: string; instance: number; lostEpoch: number; epoch: number }): void;
  /** An actor was stopped; `undelivered` counts messages it could not finish. */
  stopped(event: { actor: string; drained: boolean; undelivered: number }): void;
}

export type ActorEventName = keyof ActorEvents;
export type ActorEmitter = Emitter<ActorEvents>;

/**
 * The system's emitter. A listener that throws must not disturb the runtime that emits (a throw from a
 * `crashed` listener used to leave the actor unrestarted and `stop()` hanging): each listener runs on its
 * own, and its error is thrown again on a microtask, an uncaught exception the process handles as it
 * handles any (by default it exits, naming it), as Node's EventTarget does.
 */
export function createActorEvents(): ActorEmitter {
  const emitter = createNanoEvents<ActorEvents>();
  emitter.emit = function emit(this: ActorEmitter, event, ...args) {
    const listeners = this.events[event] ?? [];
    for (let i = 0; i < listeners.length; i++)
      isolated(() => (listeners[i] as (...a: unknown[]) => void)(...args));
  };
  return emitter;
}

/** Runs a user callback (a listener, `onDeadLetter`) so that what it throws leaves the caller's work whole. */
export function isolated(call: () => void): void {
  try {
    call();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** The subscribe-only view of the events that a system exposes. */
export interface ActorEventSource {
  on<E extends ActorEventName>(event: E, listener: ActorEvents[E]): Unsubscribe;
}

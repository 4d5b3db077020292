/**
 * An actor system: spawns actors (each instance its own worker), supervises them, watches deadlines,
 * routes dead letters, reports health, and stops gracefully.
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  InvalidOptionError,
  optionNames,
  refuseUnknownOptions,
  type SerializedError,
  serializeError,
  TroupeError,
} from "../errors.ts";
import { type Clock, systemClock, unreferenced } from "../time/clock.ts";
import { Actor, type ActorOwner } from "./actor.ts";
import { ActorRef, type ActorStats, engineOf, type StopOptions } from "./actor-ref.ts";
import type { Envelope } from "./envelope.ts";
import { type ActorEmitter, type ActorEventSource, createActorEvents, isolated } from "./events.ts";
import { type ResolvedSpawnOptions, resolveSpawnOptions, type SpawnOptions } from "./spawn-options.ts";
import { resolveSupervisorOptions, Supervisor, type SupervisorOptions } from "./supervisor.ts";

/** A message told to an actor that the runtime gave up on. */
export interface ActorDeadLetter {
  actor: string;
  instance: number;
  message: unknown;
  deliveries: number;
  /** The error code: ERR_MAX_DELIVERIES, ERR_MESSAGE_REJECTED, ERR_MESSAGE_ENCODE, ERR_ACTOR_FAILED, ERR_ACTOR_STOPPED… */
  reason: string;
  error: SerializedError;
}

export interface SystemOptions {
  /** Supervision of every actor of this system. */
  supervisor?: SupervisorOptions;
  /** Receives every message sent with `tell` that the runtime gave up on. @defaultValue none (events only) */
  onDeadLetter?: (deadLetter: ActorDeadLetter) => void;
  /** Time source for deadlines, backoff and rates (tests inject one). @defaultValue the system clock */
  clock?: Clock;
  /** Randomness for backoff jitter. @defaultValue Math.random */
  random?: () => number;
}

const SYSTEM_OPTION_NAMES = optionNames<SystemOptions>({
  supervisor: true,
  onDeadLetter: true,
  clock: true,
  random: true,
});

export type HealthStatus = "ok" | "degraded" | "stopping";

export interface SystemHealth {
  status: HealthStatus;
  failedActors: string[];
}

export interface StopResult {
  drained: boolean;
  undelivered: number;
}

/** Reasons that mean the message itself was rejected (the others mean the actor ended under it). */
const DEAD_LETTER_CODES = new Set(["ERR_MAX_DELIVERIES", "ERR_MESSAGE_ENCODE", "ERR_MESSAGE_REJECTED"]);
const MIN_WATCH_MS = 10;
const MAX_WATCH_MS = 250;

export class ActorSystem {
  readonly #clock: Clock;
  readonly #emitter: ActorEmitter = createActorEvents();
  readonly #supervisor: Supervisor;
  readonly #actors = new Map<string, ActorRef>();
  readonly #stops = new WeakMap<Actor, Promise<StopResult>>();
  readonly #onDeadLetter: ((deadLetter: ActorDeadLetter) => void) | undefined;
  readonly #owner: ActorOwner;
  #watchTimer: ReturnType<Clock["setTimeout"]> | null = null;
  #watchEveryMs = MAX_WATCH_MS;
  #stopping = false;
  #stopped: Promise<StopResult> | null = null;

  constructor(options: SystemOptions = {}) {
    refuseUnknownOptions(options, SYSTEM_OPTION_NAMES, "", "a system option");
    for (const name of ["onDeadLetter", "random"] as const)
      if (options[name] !== undefined && typeof options[name] !== "function")
        throw new InvalidOptionError(name, `must be a function, got ${typeof options[name]}`);
    this.#clock = unreferenced(options.clock ?? systemClock);
    this.#onDeadLetter = options.onDeadLetter;
    this.#supervisor = new Supervisor(resolveSupervisorOptions(options.supervisor), {
      clock: this.#clock,
      events: this.#emitter,
      random: options.random ?? Math.random,
      stopSystem: () => void this.stop(),
    });
    this.#owner = {
      clock: this.#clock,
      crashed: (instance, reason, error, exitCode) =>
        this.#supervisor.childFailed(instance, reason, error, exitCode),
      recycled: (instance, reason, handled, heapBytes) =>
        this.#emitter.emit("recycled", {
          actor: instance.actor,
          instance: instance.index,
          reason,
          handled,
          heapBytes,
        }),
      deadLetter: (instance, envelope, error) =>
        this.#deadLetter(instance.actor, instance.index, envelope, error),
      backpressure: (instance, waiting) =>
        this.#emitter.emit("backpressure", { actor: instance.actor, instance: instance.index, waiting }),
      unhandledRejection: (instance, error) =>
        this.#emitter.emit("rejectionLogged", { actor: instance.actor, instance: instance.index, error }),
      fenced: (instance, epoch, error) =>
        this.#emitter.emit("fenced", {
          actor: instance.actor,
          instance: instance.index,
          epoch,
          error: serializeError(error),
        }),
      stateLost: (instance, lostEpoch, epoch) =>
        this.#emitter.emit("stateLost", {
          actor: instance.actor,
          instance: instance.index,
          lostEpoch,
          epoch,
        }),
    };
  }

  /** Typed lifecycle events: `system.events.on("crashed", (e) => …)`. */
  readonly events: ActorEventSource = { on: (event, listener) => this.#emitter.on(event, listener) };

  /**
   * Spawns an actor module as `instances` workers and resolves once every worker is ready.
   *
   * @example
   * ```ts
   * const counter = await system.spawn<{ add: number }, number>(new URL("./counter.actor.ts", import.meta.url), {
   *   instances: 2,
   *   route: (msg) => msg.add,
   * });
   * ```
   */
  async spawn<M = unknown, R = unknown>(
    module: URL | string,
    options: SpawnOptions<M> = {},
  ): Promise<ActorRef<M, R>> {
    if (this.#stopping) throw new TroupeError("ERR_SYSTEM_STOPPED", "the actor system is stopping");
    const url = resolveModule(module);
    const resolved = resolveSpawnOptions(options, defaultName(url), this.#supervisor.options);
    if (this.#actors.has(resolved.name)) {
      throw new TroupeError("ERR_DUPLICATE_ACTOR", `an actor named ${resolved.name} already exists`, {
        actor: resolved.name,
      });
    }
    // Routing is typed by M at the call site; the engine handles messages as unknown.
    const actor = new Actor(url.href, resolved as ResolvedSpawnOptions, this.#owner);
    const ref = new ActorRef<M, R>(actor, (options) => this.#stopOnce(actor, options));
    this.#actors.set(actor.name, ref as ActorRef);
    const started = await Promise.allSettled(actor.instances.map((instance) => instance.start()));
    const failure = started.find((result) => result.status === "rejected");
    if (failure) {
      this.#actors.delete(actor.name);
      actor.retire("stopped", new TroupeError("ERR_ACTOR_STOPPED", `actor ${actor.name} failed to start`));
      throw failure.reason;
    }
    this.#supervisor.adopt(actor);
    this.#emitter.emit("spawned", { actor: actor.name, instances: actor.instances.length });
    for (const instance of actor.instances)
      this.#emitter.emit("started", { actor: actor.name, instance: instance.index });
    this.#watchEveryMs = Math.min(
      this.#watchEveryMs,
      Math.max(MIN_WATCH_MS, Math.floor(resolved.deadlineMs / 4)),
    );
    this.#armWatchdog();
    return ref;
  }

  actor<M = unknown, R = unknown>(name: string): ActorRef<M, R> | undefined {
    return this.#actors.get(name) as ActorRef<M, R> | undefined;
  }

  get actors(): ActorRef[] {
    return [...this.#actors.values()];
  }

  stats(): ActorStats[] {
    return this.actors.map((ref) => ref.stats());
  }

  /** ok; degraded when an actor is failed (restart intensity exceeded); stopping during `stop()`. */
  health(): SystemHealth {
    const failedActors = this.actors.filter((ref) => ref.status === "failed").map((ref) => ref.name);
    const status: HealthStatus = this.#stopping ? "stopping" : failedActors.length > 0 ? "degraded" : "ok";
    return { status, failedActors };
  }

  /** Restarts every instance of an actor through the supervisor; in-flight messages are redelivered. */
  restart(name: string): void {
    this.#supervisor.restartActor(this.#engine(name));
  }

  /**
   * Pauses an actor: its workers finish what they hold and get nothing new; senders and pumps see no credit.
   * `hold` names who pauses (an operator by default): the actor runs again once every hold is resumed.
   */
  pause(name: string, hold?: string): void {
    this.#engine(name).pause(checkHold(hold));
  }

  /** Releases the pause `hold` (an operator's by default) put on the actor. */
  resume(name: string, hold?: string): void {
    this.#engine(name).resume(checkHold(hold));
  }

  #engine(name: string): Actor {
    const ref = this.#actors.get(name);
    if (!ref) throw new TroupeError("ERR_ACTOR_NOT_FOUND", `no actor named ${name}`, { actor: name });
    return engineOf(ref);
  }

  /**
   * Stops every actor: stop accepting, drain in-flight work within `deadlineMs`, terminate the workers. A
   * stop is done once: a second call, or one after a `stop-system` escalation, gets the first one's result.
   */
  stop(options: Pick<StopOptions, "deadlineMs"> = {}): Promise<StopResult> {
    this.#stopped ??= this.#stopAll(options);
    return this.#stopped;
  }

  async #stopAll(options: Pick<StopOptions, "deadlineMs">): Promise<StopResult> {
    this.#stopping = true;
    const results = await Promise.all(this.actors.map((ref) => ref.stop(options)));
    if (this.#watchTimer) this.#clock.clearTimeout(this.#watchTimer);
    this.#watchTimer = null;
    return {
      drained: results.every((r) => r.drained),
      undelivered: results.reduce((sum, r) => sum + r.undelivered, 0),
    };
  }

  /** A stop already under way (or done) answers every later call, so the actor stops and reports once. */
  #stopOnce(actor: Actor, options: Required<StopOptions>): Promise<StopResult> {
    let stopping = this.#stops.get(actor);
    if (stopping === undefined) {
      stopping = this.#stopActor(actor, options);
      this.#stops.set(actor, stopping);
    }
    return stopping;
  }

  async #stopActor(actor: Actor, { deadlineMs, handBack }: Required<StopOptions>): Promise<StopResult> {
    if (actor.status === "stopped" || actor.status === "failed") return { drained: true, undelivered: 0 };
    actor.status = "stopping";
    if (handBack) for (const instance of actor.instances) instance.handBack();
    // A paused actor would hold what it accepted until the deadline: it goes to the worker, whatever holds
    // it paused, which handles it (a drain) or, told to hand back first, gives back what it has not started.
    actor.releaseHolds();
    for (const instance of actor.instances) instance.drain();
    let timer: ReturnType<Clock["setTimeout"]> | undefined;
    const drained = await Promise.race([
      Promise.all(actor.instances.map((instance) => instance.mailbox.drained())).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = this.#clock.setTimeout(() => resolve(false), deadlineMs);
      }),
    ]);
    if (timer) this.#clock.clearTimeout(timer);
    const undelivered = actor.instances.reduce(
      (sum, instance) => sum + instance.mailbox.held + instance.mailbox.uncovered + instance.mailbox.waiting,
      0,
    );
    actor.retire(
      "stopped",
      new TroupeError("ERR_ACTOR_STOPPED", `actor ${actor.name} stopped`, { actor: actor.name }),
    );
    this.#supervisor.forget(actor);
    this.#actors.delete(actor.name);
    this.#emitter.emit("stopped", { actor: actor.name, drained, undelivered });
    return { drained, undelivered };
  }

  #deadLetter(actor: string, instance: number, envelope: Envelope, error: TroupeError): void {
    const deadLetter: ActorDeadLetter = {
      actor,
      instance,
      message: envelope.message,
      deliveries: envelope.deliveries,
      reason: error.code,
      error: serializeError(error.cause instanceof Error ? error.cause : error),
    };
    if (!envelope.reply || DEAD_LETTER_CODES.has(error.code)) {
      this.#emitter.emit("deadLettered", {
        actor,
        instance,
        deliveries: envelope.deliveries,
        reason: error.code,
        error: deadLetter.error,
      });
    }
    if (envelope.reply) envelope.reply(error);
    else if (this.#onDeadLetter) {
      const onDeadLetter = this.#onDeadLetter;
      isolated(() => onDeadLetter(deadLetter));
    }
  }

  #armWatchdog(): void {
    if (this.#watchTimer) this.#clock.clearTimeout(this.#watchTimer);
    this.#watchTimer = this.#clock.setTimeout(() => {
      const now = this.#clock.now();
      for (const ref of this.#actors.values())
        for (const instance of engineOf(ref).instances) instance.checkDeadline(now);
      this.#armWatchdog();
    }, this.#watchEveryMs);
  }
}

/** Creates an actor system. */
export function createSystem(options: SystemOptions = {}): ActorSystem {
  return new ActorSystem(options);
}

function resolveModule(module: URL | string): URL {
  const url =
    module instanceof URL
      ? module
      : module.startsWith("file:")
        ? new URL(module)
        : pathToFileURL(module.startsWith("/") ? module : `${process.cwd()}/${module}`);
  if (url.protocol !== "file:" || !existsSync(fileURLToPath(url))) {
    throw new TroupeError("ERR_ACTOR_MODULE_NOT_FOUND", `actor module not found: ${url.href}`);
  }
  return url;
}

function defaultName(url: URL): string {
  return basename(fileURLToPath(url)).replace(/(\.actor)?\.(ts|js|mts|mjs)$/, "");
}

function checkHold(hold: string | undefined): string | undefined {
  if (hold !== undefined && (typeof hold !== "string" || hold.length === 0))
    throw new InvalidOptionError("hold", `must be a non-empty string, got ${JSON.stringify(hold)}`);
  return hold;
}

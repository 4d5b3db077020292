/**
 * The supervisor: it learns of every failure of its children (instances, in spawn order) and decides,
 * OTP-style, what to restart (strategy), whether to restart at all (restart type), how soon (exponential
 * backoff with jitter) and when to give up (restart intensity: more than `maxRestarts` failures of an actor
 * within `periodMs` fail it, and `onEscalation` says what that does to the system).
 *
 * one_for_one restarts each failed instance on its own timer. The group strategies (one_for_all,
 * rest_for_one) handle one failure at a time, in the order they came, as an OTP supervisor handles one exit
 * signal at a time: the children it affects stop in reverse start order, then start one at a time in start
 * order, each start finished before the next begins, so a child can rely on its older siblings being up.
 */
import {
  InvalidOptionError,
  optionNames,
  refuseUnknownOptions,
  serializeError,
  TroupeError,
} from "../errors.ts";
import { BACKOFF_DEFAULTS, type BackoffOptions, backoffDelay, resolveBackoff } from "../time/backoff.ts";
import type { Clock } from "../time/clock.ts";
import type { Actor } from "./actor.ts";
import type { ActorEmitter, CrashReason } from "./events.ts";
import type { ActorInstance } from "./instance.ts";
import { checkMaxRestarts } from "./spawn-options.ts";
import type { InstanceState } from "./stats.ts";

export type SupervisorStrategy = "one_for_one" | "one_for_all" | "rest_for_one";

/** What an actor exceeding its restart intensity does to its system (see `SupervisorOptions.onEscalation`). */
export type EscalationAction = "degrade" | "stop-system";

export interface SupervisorOptions {
  /** Which children restart when one fails. @defaultValue "one_for_one" */
  strategy?: SupervisorStrategy;
  /**
   * Restarts of one actor allowed within `periodMs` (Elixir's default); 0 allows none, so the first failure
   * escalates. @defaultValue 3
   */
  maxRestarts?: number;
  /** Window of the restart intensity; a failure exactly `periodMs` before another is inside it. @defaultValue 5000 */
  periodMs?: number;
  /** Delay between restarts. @defaultValue { minMs: 50, maxMs: 5000, factor: 2, jitter: 0.25 } */
  backoff?: BackoffOptions;
  /**
   * What an actor exceeding its restart intensity does to the system. `"degrade"`: the actor is failed and
   * the rest runs on (health `degraded`). `"stop-system"`: the actor is failed, then the whole system stops
   * as `system.stop()` does, as an OTP application stops when its top supervisor gives up.
   * @defaultValue "degrade"
   */
  onEscalation?: EscalationAction;
}

export interface ResolvedSupervisorOptions {
  strategy: SupervisorStrategy;
  maxRestarts: number;
  periodMs: number;
  backoff: Required<BackoffOptions>;
  onEscalation: EscalationAction;
}

export const SUPERVISOR_DEFAULTS = {
  strategy: "one_for_one",
  maxRestarts: 3,
  periodMs: 5000,
  backoff: BACKOFF_DEFAULTS,
  onEscalation: "degrade",
} satisfies ResolvedSupervisorOptions;

const SUPERVISOR_OPTION_NAMES = optionNames<SupervisorOptions>({
  strategy: true,
  maxRestarts: true,
  periodMs: true,
  backoff: true,
  onEscalation: true,
});

export function resolveSupervisorOptions(options: SupervisorOptions = {}): ResolvedSupervisorOptions {
  refuseUnknownOptions(options, SUPERVISOR_OPTION_NAMES, "supervisor.", "a supervisor option");
  const strategy = options.strategy ?? SUPERVISOR_DEFAULTS.strategy;
  if (!["one_for_one", "one_for_all", "rest_for_one"].includes(strategy)) {
    throw new InvalidOptionError(
      "supervisor.strategy",
      `must be one_for_one, one_for_all or rest_for_one, got ${strategy}`,
    );
  }
  const periodMs = options.periodMs ?? SUPERVISOR_DEFAULTS.periodMs;
  if (!Number.isInteger(periodMs) || periodMs <= 0) {
    throw new InvalidOptionError("supervisor.periodMs", `must be a positive integer, got ${periodMs}`);
  }
  const onEscalation = options.onEscalation ?? SUPERVISOR_DEFAULTS.onEscalation;
  if (onEscalation !== "degrade" && onEscalation !== "stop-system") {
    throw new InvalidOptionError(
      "supervisor.onEscalation",
      `must be degrade or stop-system, got ${String(onEscalation)}`,
    );
  }
  return {
    strategy,
    maxRestarts: checkMaxRestarts(
      "supervisor.maxRestarts",
      options.maxRestarts ?? SUPERVISOR_DEFAULTS.maxRestarts,
    ),
    periodMs,
    backoff: resolveBackoff("supervisor.backoff", options.backoff),
    onEscalation,
  };
}

/** What the supervisor needs from the system it serves. */
export interface SupervisorOwner {
  readonly clock: Clock;
  readonly events: ActorEmitter;
  /** Randomness for backoff jitter. */
  readonly random: () => number;
  /** The `stop-system` escalation. */
  stopSystem(): void;
}

/** The next restart of a failed instance, once its actor's restart intensity allows one. */
interface Restart {
  attempt: number;
  delayMs: number;
}

export class Supervisor {
  readonly #options: ResolvedSupervisorOptions;
  readonly #owner: SupervisorOwner;
  readonly #children: ActorInstance[] = [];
  readonly #actorOf = new Map<ActorInstance, Actor>();
  readonly #failureTimes = new Map<Actor, number[]>();
  /**
   * Resolved when an actor is forgotten (stopped). A stop retires the instances, and a start it overtakes
   * never settles: a group restart races each start against this, so that it does not wait forever.
   */
  readonly #forgotten = new Map<Actor, PromiseWithResolvers<void>>();
  /** The tail of the group restarts, which run one at a time in failure order. */
  #groupRestarts: Promise<void> = Promise.resolve();

  constructor(options: ResolvedSupervisorOptions, owner: SupervisorOwner) {
    this.#options = options;
    this.#owner = owner;
  }

  get options(): ResolvedSupervisorOptions {
    return this.#options;
  }

  adopt(actor: Actor): void {
    this.#failureTimes.set(actor, []);
    this.#forgotten.set(actor, Promise.withResolvers<void>());
    for (const instance of actor.instances) {
      this.#children.push(instance);
      this.#actorOf.set(instance, actor);
    }
  }

  forget(actor: Actor): void {
    const forgotten = this.#forgotten.get(actor);
    if (!forgotten) return;
    for (const instance of actor.instances) {
      this.#actorOf.delete(instance);
      this.#children.splice(this.#children.indexOf(instance), 1);
    }
    this.#failureTimes.delete(actor);
    this.#forgotten.delete(actor);
    forgotten.resolve();
  }

  /** A child failed: report it, then restart it (and the strategy's siblings) or give up on the actor. */
  childFailed(
    instance: ActorInstance,
    reason: CrashReason,
    error: TroupeError,
    exitCode: number | null,
  ): void {
    const actor = this.#actorOf.get(instance);
    // A fenced instance was taken over elsewhere: restarting it would take its state back.
    if (!actor || instance.state === "fenced") return;
    this.#owner.events.emit("crashed", {
      actor: actor.name,
      instance: instance.index,
      reason,
      error: serializeError(error),
      exitCode,
      inFlight: instance.mailbox.held,
    });
    if (!supervised(actor)) return;
    const { restart } = actor.options;
    const normal = reason === "exit" && exitCode === 0;
    if (restart === "temporary" || (restart === "transient" && normal)) {
      this.#end(instance, actor, restart);
      return;
    }
    if (this.#options.strategy === "one_for_one") {
      const next = this.#admit(actor, instance, error);
      if (next) this.#restartLater(instance, actor, next, reason);
      return;
    }
    const run = () => this.#restartGroup(instance, error, reason);
    // Also after a run that threw (a listener did): one broken run must not stop supervision.
    this.#groupRestarts = this.#groupRestarts.then(run, run);
  }

  /** Restarts every instance of an actor now (an operator's request); in-flight work is redelivered. */
  restartActor(actor: Actor): void {
    for (const instance of actor.instances) {
      if (instance.state !== "running") continue;
      instance.halt();
      this.#restartLater(instance, actor, { attempt: 0, delayMs: 0 }, "manual");
    }
  }

  /**
   * Counts a failure against the actor's restart intensity: the next restart, or null once the intensity is
   * exceeded (the actor is then failed and the failure escalated).
   */
  #admit(actor: Actor, instance: ActorInstance, error: TroupeError): Restart | null {
    const now = this.#owner.clock.now();
    const { maxRestarts, periodMs, backoff } = actor.options;
    // As OTP's, the window is closed at its far end: a failure exactly periodMs ago still counts.
    const times = (this.#failureTimes.get(actor) ?? []).filter((t) => now - t <= periodMs);
    times.push(now);
    this.#failureTimes.set(actor, times);
    if (times.length > maxRestarts) {
      this.#escalate(actor, error, times.length);
      return null;
    }
    if (now - instance.startedAt >= periodMs) instance.consecutiveFailures = 0;
    const attempt = instance.consecutiveFailures++;
    return { attempt, delayMs: backoffDelay(attempt, backoff, this.#owner.random) };
  }

  /** The actor failed more often than its intensity allows: it is failed, and the system degraded or stopped. */
  #escalate(actor: Actor, error: TroupeError, failures: number): void {
    const why = `restart intensity exceeded: ${failures} failures within ${actor.options.periodMs} ms`;
    actor.retire(
      "failed",
      new TroupeError("ERR_ACTOR_FAILED", `actor ${actor.name} failed: ${why}`, {
        actor: actor.name,
        cause: error,
      }),
    );
    this.#owner.events.emit("failed", {
      actor: actor.name,
      reason: why,
      error: serializeError(error),
      restarts: failures - 1,
    });
    if (this.#options.onEscalation === "stop-system") this.#owner.stopSystem();
  }

  /** Ends an instance for good (its restart type allows no restart); the actor stops with its last instance. */
  #end(instance: ActorInstance, actor: Actor, why: string): void {
    instance.retire(
      "stopped",
      new TroupeError("ERR_ACTOR_STOPPED", `${actor.name}#${instance.index} ended (${why})`, {
        actor: actor.name,
      }),
    );
    if (actor.instances.every((i) => i.state === "stopped")) {
      actor.status = "stopped";
      this.#owner.events.emit("stopped", { actor: actor.name, drained: false, undelivered: 0 });
    }
  }

  /** one_for_one (and an operator's restart): the instance restarts on its own timer. */
  #restartLater(instance: ActorInstance, actor: Actor, next: Restart, reason: string): void {
    const downSince = this.#owner.clock.now();
    instance.state = "restarting";
    this.#emitRestarting(instance, actor, next, reason);
    this.#owner.clock.setTimeout(() => {
      void this.#startAgain(instance, next.attempt, downSince);
    }, next.delayMs);
  }

  /**
   * One failure under a group strategy: stop the children it affects in reverse start order (a temporary one
   * ends for good), wait the backoff, then start them one at a time in start order.
   */
  async #restartGroup(failed: ActorInstance, error: TroupeError, reason: string): Promise<void> {
    const actor = this.#actorOf.get(failed);
    // Up again already: a group restart handled before this one took it along, as OTP's termination of a
    // child consumes that child's pending exit signal.
    if (!actor || !supervised(actor) || failed.state !== "restarting") return;
    const next = this.#admit(actor, failed, error);
    if (!next) return;
    const downSince = this.#owner.clock.now();
    const sibling = `sibling ${actor.name}#${failed.index} failed`;
    const down: ActorInstance[] = [];
    for (const target of this.#targets(failed).reverse()) {
      const owner = this.#actorOf.get(target) as Actor;
      if (target !== failed && owner.options.restart === "temporary") {
        if (target.state === "running" || target.state === "restarting") {
          this.#end(target, owner, `temporary, ${sibling}`);
        }
        continue;
      }
      if (target.state === "running") target.halt();
      // Stopped, failed, or coming up on an operator's restart: not this run's to start.
      if (target.state !== "restarting") continue;
      down.unshift(target);
      this.#emitRestarting(target, owner, next, target === failed ? reason : sibling);
    }
    await new Promise<void>((resolve) => this.#owner.clock.setTimeout(resolve, next.delayMs));
    for (const target of down) {
      // A start that failed is a failure of its own, queued behind this run; it takes the rest along.
      if (!(await this.#startAgain(target, next.attempt, downSince))) return;
    }
  }

  /** Brings a down instance up again; false only when its start failed (handled as a new failure). */
  async #startAgain(instance: ActorInstance, attempt: number, downSince: number): Promise<boolean> {
    const actor = this.#actorOf.get(instance);
    const forgotten = actor && this.#forgotten.get(actor);
    if (!actor || !forgotten || !supervised(actor) || instance.state !== "restarting") return true;
    try {
      const up = await Promise.race([instance.start().then(() => true), forgotten.promise.then(() => false)]);
      if (!up) return true;
    } catch (error) {
      // Stopped or fenced while starting: not a failure of the start. (start() moved the state on.)
      if ((instance.state as InstanceState) !== "starting") return true;
      instance.state = "restarting";
      this.childFailed(instance, "initError", error as TroupeError, null);
      return false;
    }
    instance.restarts++;
    this.#owner.events.emit("started", { actor: actor.name, instance: instance.index });
    this.#owner.events.emit("restarted", {
      actor: actor.name,
      instance: instance.index,
      attempt,
      downtimeMs: this.#owner.clock.now() - downSince,
    });
    return true;
  }

  #emitRestarting(instance: ActorInstance, actor: Actor, next: Restart, reason: string): void {
    this.#owner.events.emit("restarting", {
      actor: actor.name,
      instance: instance.index,
      attempt: next.attempt,
      delayMs: next.delayMs,
      reason,
    });
  }

  /** The children a failure affects, in start order. */
  #targets(failed: ActorInstance): ActorInstance[] {
    switch (this.#options.strategy) {
      case "one_for_one":
        return [failed];
      case "one_for_all":
        return [...this.#children];
      case "rest_for_one":
        return this.#children.slice(this.#children.indexOf(failed));
    }
  }
}

/** Running, or draining on its way to a stop: failures are still handled. */
function supervised(actor: Actor): boolean {
  return actor.status === "running" || actor.status === "stopping";
}

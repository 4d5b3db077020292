/**
 * The supervisor actor: it learns of every failure of its children (instances, in spawn order) and
 * decides, OTP-style, what to restart (strategy), whether to restart at all (restart type), how soon
 * (exponential backoff with jitter) and when to give up (restart intensity: more than `maxRestarts`
 * within `periodMs` marks the actor failed instead of restarting it forever).
 */
import { InvalidOptionError, serializeError, TroupeError } from "../errors.ts";
import { type BackoffOptions, backoffDelay } from "../time/backoff.ts";
import type { Clock } from "../time/clock.ts";
import type { Actor } from "./actor.ts";
import type { ActorEmitter, CrashReason } from "./events.ts";
import type { ActorInstance } from "./instance.ts";
import { resolveBackoff } from "./spawn-options.ts";

export type SupervisorStrategy = "one_for_one" | "one_for_all" | "rest_for_one";

export interface SupervisorOptions {
  /** Which children restart when one fails. @defaultValue "one_for_one" */
  strategy?: SupervisorStrategy;
  /** Restarts of one actor allowed within `periodMs` (Elixir's default). @defaultValue 3 */
  maxRestarts?: number;
  /** Window of the restart intensity. @defaultValue 5000 */
  periodMs?: number;
  /** Delay between restarts. @defaultValue { minMs: 50, maxMs: 5000, factor: 2, jitter: 0.25 } */
  backoff?: BackoffOptions;
}

export interface ResolvedSupervisorOptions {
  strategy: SupervisorStrategy;
  maxRestarts: number;
  periodMs: number;
  backoff: Required<BackoffOptions>;
}

export function resolveSupervisorOptions(options: SupervisorOptions = {}): ResolvedSupervisorOptions {
  const strategy = options.strategy ?? "one_for_one";
  if (!["one_for_one", "one_for_all", "rest_for_one"].includes(strategy)) {
    throw new InvalidOptionError(
      "supervisor.strategy",
      `must be one_for_one, one_for_all or rest_for_one, got ${strategy}`,
    );
  }
  const maxRestarts = options.maxRestarts ?? 3;
  if (!Number.isInteger(maxRestarts) || maxRestarts < 0) {
    throw new InvalidOptionError("supervisor.maxRestarts", `must be an integer ≥ 0, got ${maxRestarts}`);
  }
  const periodMs = options.periodMs ?? 5000;
  if (!Number.isInteger(periodMs) || periodMs <= 0) {
    throw new InvalidOptionError("supervisor.periodMs", `must be a positive integer, got ${periodMs}`);
  }
  return { strategy, maxRestarts, periodMs, backoff: resolveBackoff("supervisor.backoff", options.backoff) };
}

export class Supervisor {
  readonly #options: ResolvedSupervisorOptions;
  readonly #clock: Clock;
  readonly #events: ActorEmitter;
  readonly #random: () => number;
  readonly #children: ActorInstance[] = [];
  readonly #actorOf = new Map<ActorInstance, Actor>();
  readonly #restartTimes = new Map<Actor, number[]>();

  constructor(
    options: ResolvedSupervisorOptions,
    clock: Clock,
    events: ActorEmitter,
    random: () => number = Math.random,
  ) {
    this.#options = options;
    this.#clock = clock;
    this.#events = events;
    this.#random = random;
  }

  get options(): ResolvedSupervisorOptions {
    return this.#options;
  }

  adopt(actor: Actor): void {
    this.#restartTimes.set(actor, []);
    for (const instance of actor.instances) {
      this.#children.push(instance);
      this.#actorOf.set(instance, actor);
    }
  }

  forget(actor: Actor): void {
    for (const instance of actor.instances) {
      this.#actorOf.delete(instance);
      this.#children.splice(this.#children.indexOf(instance), 1);
    }
    this.#restartTimes.delete(actor);
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
    this.#events.emit("crashed", {
      actor: actor.name,
      instance: instance.index,
      reason,
      error: serializeError(error),
      exitCode,
      inFlight: instance.mailbox.held,
    });
    if (actor.status !== "running" && actor.status !== "stopping") return;
    const { restart } = actor.options;
    const normal = reason === "exit" && exitCode === 0;
    if (restart === "temporary" || (restart === "transient" && normal)) {
      instance.retire(
        "stopped",
        new TroupeError("ERR_ACTOR_STOPPED", `${actor.name}#${instance.index} ended (${restart})`, {
          actor: actor.name,
        }),
      );
      if (actor.instances.every((i) => i.state === "stopped")) {
        actor.status = "stopped";
        this.#events.emit("stopped", { actor: actor.name, drained: false, undelivered: 0 });
      }
      return;
    }
    const now = this.#clock.now();
    const times = (this.#restartTimes.get(actor) ?? []).filter((t) => now - t < actor.options.periodMs);
    times.push(now);
    this.#restartTimes.set(actor, times);
    if (times.length > actor.options.maxRestarts) {
      const why = `restart intensity exceeded: ${times.length} failures within ${actor.options.periodMs} ms`;
      actor.retire(
        "failed",
        new TroupeError("ERR_ACTOR_FAILED", `actor ${actor.name} failed: ${why}`, {
          actor: actor.name,
          cause: error,
        }),
      );
      this.#events.emit("failed", {
        actor: actor.name,
        reason: why,
        error: serializeError(error),
        restarts: times.length - 1,
      });
      return;
    }
    if (now - instance.startedAt >= actor.options.periodMs) instance.consecutiveFailures = 0;
    const attempt = instance.consecutiveFailures++;
    const delayMs = backoffDelay(attempt, actor.options.backoff, this.#random);
    for (const target of this.#targets(instance)) {
      if (target !== instance) {
        if (target.state !== "running") continue;
        target.halt();
      }
      this.#scheduleRestart(
        target,
        attempt,
        delayMs,
        target === instance ? reason : `sibling ${actor.name}#${instance.index} failed`,
      );
    }
  }

  /** Restarts every instance of an actor now (an operator's request); in-flight work is redelivered. */
  restartActor(actor: Actor): void {
    for (const instance of actor.instances) {
      if (instance.state !== "running") continue;
      instance.halt();
      this.#scheduleRestart(instance, 0, 0, "manual");
    }
  }

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

  #scheduleRestart(instance: ActorInstance, attempt: number, delayMs: number, reason: string): void {
    const actor = this.#actorOf.get(instance);
    if (!actor) return;
    const downSince = this.#clock.now();
    instance.state = "restarting";
    this.#events.emit("restarting", {
      actor: actor.name,
      instance: instance.index,
      attempt,
      delayMs,
      reason,
    });
    this.#clock.setTimeout(() => {
      if ((actor.status !== "running" && actor.status !== "stopping") || instance.state !== "restarting")
        return;
      instance.start().then(
        () => {
          instance.restarts++;
          this.#events.emit("started", { actor: actor.name, instance: instance.index });
          this.#events.emit("restarted", {
            actor: actor.name,
            instance: instance.index,
            attempt,
            downtimeMs: this.#clock.now() - downSince,
          });
        },
        (error: TroupeError) => {
          this.childFailed(instance, "initError", error, null);
        },
      );
    }, delayMs);
  }
}

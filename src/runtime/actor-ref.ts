/**
 * The public handle on a spawned actor: send messages (respecting credits), ask, inspect, stop.
 * A thin facade over the Actor engine, which stays private.
 */
import { InvalidOptionError, TroupeError } from "../errors.ts";
import type { Actor, ActorStatus, Settled } from "./actor.ts";
import type { InstanceStats } from "./stats.ts";

export interface AskOptions {
  /** Reject with ERR_ASK_TIMEOUT after this long (waiting for credit included). @defaultValue 5000 */
  timeoutMs?: number;
}

export interface AskManyOptions {
  /** Give up on every message still without a reply this long after the call. @defaultValue 30000 */
  timeoutMs?: number;
  /** Give up on a message without a reply this long after it got a credit. @defaultValue 5000 */
  messageTimeoutMs?: number;
}

export interface ControlOptions {
  /** Which instance to ask. @defaultValue 0 */
  instance?: number;
  /** Reject with ERR_CONTROL_TIMEOUT after this long. @defaultValue 2000 */
  timeoutMs?: number;
}

export interface ActorStats {
  name: string;
  status: ActorStatus;
  /** Paused by `system.pause(name)`: the workers finish what they hold and get nothing new. */
  paused: boolean;
  /** The holds keeping it paused (`system.pause(name, hold)`; "operator" by default), oldest first. */
  pausedBy: string[];
  instances: InstanceStats[];
}

/**
 * @internal The engine behind a ref, for the system that spawned it and for tests. Not exported from the
 * package: the public surface of an actor is the ref alone.
 */
export let engineOf: (ref: ActorRef) => Actor;

export interface StopOptions {
  /** How long in-flight work may take before the workers are terminated. @defaultValue 10000 */
  deadlineMs?: number;
  /**
   * Hand back what the workers have not started instead of handling it first: each such message finishes
   * with ERR_CANCELLED (a stream pump leaves its entry pending, for this consumer's next start or the
   * next owner of the stream), and a durable actor checkpoints what it did handle. For an actor that moves
   * to another process, whose new owner handles the rest after restoring that checkpoint. Messages run
   * one at a time only (`concurrency` 1, no `messageTimeoutMs`); otherwise in-flight work is handled as without it.
   * @defaultValue false
   */
  handBack?: boolean;
}

const STOP_DEFAULTS: Required<StopOptions> = { deadlineMs: 10_000, handBack: false };

const ASK_TIMEOUT_MS = 5000;
const ASK_MANY_TIMEOUT_MS = 30_000;
const CONTROL_TIMEOUT_MS = 2000;

export class ActorRef<M = unknown, R = unknown> {
  static {
    engineOf = (ref) => ref.#actor;
  }

  readonly #actor: Actor;
  readonly #stop: (options: Required<StopOptions>) => Promise<{ drained: boolean; undelivered: number }>;

  /** @internal Created by `ActorSystem.spawn`. */
  constructor(
    actor: Actor,
    stop: (options: Required<StopOptions>) => Promise<{ drained: boolean; undelivered: number }>,
  ) {
    this.#actor = actor;
    this.#stop = stop;
  }

  get name(): string {
    return this.#actor.name;
  }

  get status(): ActorStatus {
    return this.#actor.status;
  }

  get instances(): number {
    return this.#actor.instances.length;
  }

  /** Sends a message; resolves once it holds a credit (immediately when one is free). */
  tell(message: M): Promise<void> {
    return this.#actor.tell(message);
  }

  /** Sends a message only if a credit is free now; `false` means "no credit", nothing was sent. */
  tryTell(message: M): boolean {
    return this.#actor.tryTell(message);
  }

  /** Sends many messages in order, waiting for credit as needed. */
  tellMany(messages: Iterable<M>): Promise<void> {
    return this.#actor.tellMany(messages);
  }

  /** Sends a message and resolves with the handler's return value. */
  ask(message: M, options: AskOptions = {}): Promise<R> {
    return this.#actor.ask(message, options.timeoutMs ?? ASK_TIMEOUT_MS) as Promise<R>;
  }

  /**
   * Asks every message of a batch (spread over the instances and their concurrency) and resolves with one
   * outcome per message, in order: `{ ok: true, value }` or `{ ok: false, error }` with a typed error
   * (ERR_ASK_TIMEOUT, ERR_MESSAGE_REJECTED, ERR_MAX_DELIVERIES with the last failure as its cause…). It
   * never rejects as a whole. A message given up on is cancelled in its worker (`ctx.signal` aborts).
   */
  askMany(messages: Iterable<M>, options: AskManyOptions = {}): Promise<Settled<R>[]> {
    const timeoutMs = options.timeoutMs ?? ASK_MANY_TIMEOUT_MS;
    const messageTimeoutMs = options.messageTimeoutMs ?? ASK_TIMEOUT_MS;
    for (const [name, value] of [
      ["timeoutMs", timeoutMs],
      ["messageTimeoutMs", messageTimeoutMs],
    ] as const) {
      if (!(Number.isFinite(value) && value > 0)) {
        throw new InvalidOptionError(
          `askMany.${name}`,
          `must be a positive number of ms, got ${String(value)}`,
        );
      }
    }
    return this.#actor.askMany(messages, timeoutMs, messageTimeoutMs) as Promise<Settled<R>[]>;
  }

  /** The state snapshot of one instance, through the control plane. */
  snapshot(options: ControlOptions = {}): Promise<unknown> {
    try {
      return this.#instance(options.instance).snapshot(options.timeoutMs ?? CONTROL_TIMEOUT_MS);
    } catch (error) {
      // A stopped actor, a missing instance: a rejection, as from ask, not a throw.
      return Promise.reject(error);
    }
  }

  /** Calls one of the actor's `queries` on one instance. */
  query<T = unknown>(name: string, args: unknown[] = [], options: ControlOptions = {}): Promise<T> {
    try {
      return this.#instance(options.instance).query(
        name,
        args,
        options.timeoutMs ?? CONTROL_TIMEOUT_MS,
      ) as Promise<T>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  stats(): ActorStats {
    return {
      name: this.name,
      status: this.status,
      paused: this.#actor.paused,
      pausedBy: this.#actor.pausedBy,
      instances: this.#actor.instances.map((i) => i.stats()),
    };
  }

  /**
   * Stops accepting, waits for in-flight work up to `deadlineMs` (with `handBack`, only for the message each
   * worker is in), then terminates the workers. A paused actor is resumed for it.
   */
  stop(options: StopOptions = {}): Promise<{ drained: boolean; undelivered: number }> {
    return this.#stop({ ...STOP_DEFAULTS, ...options });
  }

  /**
   * Stream-pump interface (`PumpTarget`): free credits across instances, a delivery that never waits
   * (`false` = that key's instance has no credit), and a subscription to returned credits. For a durable
   * actor, `tag` is what the checkpoint covering the message settles, and `done` gets the epoch.
   */
  freeCredits(): number {
    return this.#actor.freeCredits();
  }

  deliver(
    message: M,
    done: (error: TroupeError | null, result?: R, epoch?: number) => void,
    deliveries = 0,
    tag?: unknown,
  ): boolean {
    return this.#actor.deliver(
      message,
      done as (error: TroupeError | null, result?: unknown, epoch?: number) => void,
      deliveries,
      tag,
    );
  }

  /** Spawned with a state store (`state` option): messages are settled by durable checkpoints. */
  get durable(): boolean {
    return this.#actor.durable;
  }

  onCredit(listener: () => void): () => void {
    return this.#actor.onCredit(listener);
  }

  #instance(index = 0) {
    const instance = this.#actor.instances[index];
    if (!instance) {
      throw new TroupeError("ERR_ACTOR_NOT_FOUND", `actor ${this.name} has no instance ${index}`, {
        actor: this.name,
      });
    }
    return instance;
  }
}

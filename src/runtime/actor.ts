/**
 * The engine behind an ActorRef: an actor's instances, routing, credit-respecting sends, asks, and the
 * PumpTarget interface stream pumps deliver through. The public face is actor-ref.ts.
 */
import { TroupeError } from "../errors.ts";
import type { Clock } from "../time/clock.ts";
import type { ReplyFn } from "./envelope.ts";
import { ActorInstance, type InstanceOwner } from "./instance.ts";
import { instanceForKey } from "./router.ts";
import type { ResolvedSpawnOptions } from "./spawn-options.ts";

/** `stopping`: draining, accepting nothing new, still supervised. */
export type ActorStatus = "running" | "stopping" | "failed" | "stopped";

/** What an actor needs from the system that owns it. */
export interface ActorOwner {
  readonly clock: Clock;
  crashed: InstanceOwner["crashed"];
  deadLetter: InstanceOwner["deadLetter"];
  backpressure: InstanceOwner["backpressure"];
  unhandledRejection: InstanceOwner["unhandledRejection"];
  fenced: InstanceOwner["fenced"];
}

const RESOLVED: Promise<void> = Promise.resolve();

export class Actor {
  readonly name: string;
  readonly options: ResolvedSpawnOptions;
  readonly instances: readonly ActorInstance[];
  status: ActorStatus = "running";
  readonly #clock: Clock;
  readonly #creditListeners = new Set<() => void>();
  #next = 0;

  constructor(moduleUrl: string, options: ResolvedSpawnOptions, owner: ActorOwner) {
    this.name = options.name;
    this.options = options;
    this.#clock = owner.clock;
    const instanceOwner: InstanceOwner = {
      clock: owner.clock,
      crashed: owner.crashed,
      deadLetter: owner.deadLetter,
      backpressure: owner.backpressure,
      unhandledRejection: owner.unhandledRejection,
      fenced: owner.fenced,
      credit: () => {
        for (const listener of this.#creditListeners) listener();
      },
    };
    this.instances = Array.from(
      { length: options.instances },
      (_, index) => new ActorInstance(options.name, index, moduleUrl, options, instanceOwner),
    );
  }

  tell(message: unknown): Promise<void> {
    return this.#accept(message, null, 0);
  }

  tryTell(message: unknown): boolean {
    this.#assertOpen();
    return this.#route(message).mailbox.tryAccept(message, null);
  }

  async tellMany(messages: Iterable<unknown>): Promise<void> {
    for (const message of messages) {
      if (!this.tryTell(message)) await this.tell(message);
    }
  }

  ask(message: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = this.#clock.setTimeout(() => {
        settled = true;
        reject(
          new TroupeError("ERR_ASK_TIMEOUT", `ask to ${this.name} got no reply within ${timeoutMs} ms`, {
            actor: this.name,
          }),
        );
      }, timeoutMs);
      const reply: ReplyFn = (error, result) => {
        if (settled) return;
        settled = true;
        this.#clock.clearTimeout(timer);
        if (error) reject(error);
        else resolve(result);
      };
      this.#accept(message, reply, 0).catch((error: TroupeError) => reply(error));
    });
  }

  /** PumpTarget: hands over a message only if its instance has a credit now. */
  deliver(message: unknown, done: ReplyFn, deliveries = 0, tag?: unknown): boolean {
    this.#assertOpen();
    return this.#route(message).mailbox.tryAccept(message, done, deliveries, tag);
  }

  /** Spawned with a state store: handled messages are settled by checkpoints, replies carry the epoch. */
  get durable(): boolean {
    return this.options.state !== null;
  }

  /** Stops feeding the workers (in-flight work finishes); a pump sees no credit and stops reading. */
  pause(): void {
    for (const instance of this.instances) instance.mailbox.pause();
  }

  resume(): void {
    for (const instance of this.instances) instance.mailbox.resume();
  }

  get paused(): boolean {
    return this.instances.every((instance) => instance.mailbox.paused);
  }

  freeCredits(): number {
    if (this.paused) return 0;
    let credits = 0;
    for (const instance of this.instances) {
      if (instance.state !== "stopped" && instance.state !== "failed" && instance.state !== "fenced")
        credits += Math.max(0, instance.mailbox.credits);
    }
    return credits;
  }

  onCredit(listener: () => void): () => void {
    this.#creditListeners.add(listener);
    return () => this.#creditListeners.delete(listener);
  }

  /** Ends the actor: every message it holds is finished with `error` (callers with a reply get it). */
  retire(status: "failed" | "stopped", error: TroupeError): void {
    this.status = status;
    for (const instance of this.instances) instance.retire(status, error);
  }

  #accept(message: unknown, reply: ReplyFn | null, deliveries: number): Promise<void> {
    try {
      this.#assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    const instance = this.#route(message);
    if (instance.mailbox.tryAccept(message, reply, deliveries)) return RESOLVED;
    return instance.mailbox.accept(message, reply, deliveries);
  }

  /** Key routing is fixed; round-robin prefers the next running instance with a free credit. */
  #route(message: unknown): ActorInstance {
    if (this.options.route !== "round-robin") return this.#byKey(message);
    const count = this.instances.length;
    for (let i = 0; i < count; i++) {
      const index = (this.#next + i) % count;
      const instance = this.instances[index] as ActorInstance;
      if (instance.state === "running" && instance.mailbox.credits > 0) {
        this.#next = (index + 1) % count;
        return instance;
      }
    }
    const instance = this.instances[this.#next] as ActorInstance;
    this.#next = (this.#next + 1) % count;
    return instance;
  }

  #byKey(message: unknown): ActorInstance {
    const route = this.options.route as (message: unknown) => string | number;
    return this.instances[instanceForKey(route(message), this.instances.length)] as ActorInstance;
  }

  #assertOpen(): void {
    if (this.status === "running") return;
    const code = this.status === "failed" ? "ERR_ACTOR_FAILED" : "ERR_ACTOR_STOPPED";
    throw new TroupeError(code, `actor ${this.name} is ${this.status}`, { actor: this.name });
  }
}

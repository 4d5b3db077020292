/**
 * The engine behind an ActorRef: an actor's instances, routing, credit-respecting sends, asks, and the
 * PumpTarget interface stream pumps deliver through. The public face is actor-ref.ts.
 */
import { InvalidOptionError, messageOf, TroupeError } from "../errors.ts";
import type { Clock } from "../time/clock.ts";
import type { ReplyFn } from "./envelope.ts";
import { ActorInstance, type InstanceOwner } from "./instance.ts";
import { instanceForKey, orderKeyHash } from "./router.ts";
import type { ResolvedSpawnOptions, RouteKey } from "./spawn-options.ts";

/** One message's outcome in `askMany`: its reply, or the typed error the runtime gave up with. */
export type Settled<R = unknown> = { ok: true; value: R } | { ok: false; error: TroupeError };

/** `stopping`: draining, accepting nothing new, still supervised. */
export type ActorStatus = "running" | "stopping" | "failed" | "stopped";

/** What an actor needs from the system that owns it. */
export interface ActorOwner {
  readonly clock: Clock;
  crashed: InstanceOwner["crashed"];
  recycled: InstanceOwner["recycled"];
  deadLetter: InstanceOwner["deadLetter"];
  backpressure: InstanceOwner["backpressure"];
  unhandledRejection: InstanceOwner["unhandledRejection"];
  fenced: InstanceOwner["fenced"];
  stateLost: InstanceOwner["stateLost"];
}

const RESOLVED: Promise<void> = Promise.resolve();

/** The hold of a pause that names none: an operator's, or the embedding code's own. */
const OPERATOR_HOLD = "operator";

export class Actor {
  readonly name: string;
  readonly options: ResolvedSpawnOptions;
  readonly instances: readonly ActorInstance[];
  status: ActorStatus = "running";
  readonly #clock: Clock;
  readonly #creditListeners = new Set<() => void>();
  /** The order key function when it matters (concurrency > 1), else null. */
  readonly #orderKey: ((message: unknown) => RouteKey) | null;
  #next = 0;
  /** Who paused the actor and has not resumed it yet: see {@link pause}. */
  readonly #holds = new Set<string>();

  constructor(moduleUrl: string, options: ResolvedSpawnOptions, owner: ActorOwner) {
    this.name = options.name;
    this.options = options;
    this.#clock = owner.clock;
    this.#orderKey = options.concurrency > 1 ? options.orderKey : null;
    const instanceOwner: InstanceOwner = {
      clock: owner.clock,
      crashed: owner.crashed,
      recycled: owner.recycled,
      deadLetter: owner.deadLetter,
      backpressure: owner.backpressure,
      unhandledRejection: owner.unhandledRejection,
      fenced: owner.fenced,
      stateLost: owner.stateLost,
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
    try {
      return this.#submit(message, null).accepted;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  tryTell(message: unknown): boolean {
    this.#assertOpen();
    return this.#route(message).mailbox.tryAccept(message, null, 0, undefined, this.#keyOf(message));
  }

  async tellMany(messages: Iterable<unknown>): Promise<void> {
    for (const message of messages) {
      if (!this.tryTell(message)) await this.tell(message);
    }
  }

  /** Its timeout (waiting for credit included) gives up on the message: a worker cancels it (`ctx.signal`). */
  ask(message: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#request(
        message,
        timeoutMs,
        false,
        `ask to ${this.name} got no reply within ${timeoutMs} ms`,
        (settled) => (settled.ok ? resolve(settled.value) : reject(settled.error)),
      );
    });
  }

  /**
   * Asks every message, spread over the instances like `tell`, and resolves once each has an outcome, in
   * order; never rejects. A message with no reply `messageTimeoutMs` after it got a credit, or still without
   * one `timeoutMs` after the call, is given up on (ERR_ASK_TIMEOUT) and cancelled in its worker.
   */
  askMany(messages: Iterable<unknown>, timeoutMs: number, messageTimeoutMs: number): Promise<Settled[]> {
    const list = Array.from(messages);
    const outcomes: Settled[] = new Array(list.length);
    if (list.length === 0) return Promise.resolve(outcomes);
    return new Promise((resolve) => {
      let left = list.length;
      const cancels: Array<((error: TroupeError) => void) | null> = new Array(list.length).fill(null);
      const settle = (index: number, settled: Settled) => {
        if (outcomes[index] !== undefined) return;
        outcomes[index] = settled;
        cancels[index] = null;
        if (--left > 0) return;
        this.#clock.clearTimeout(overall);
        resolve(outcomes);
      };
      const overall = this.#clock.setTimeout(() => {
        const error = new TroupeError(
          "ERR_ASK_TIMEOUT",
          `askMany to ${this.name}: no reply within the batch's ${timeoutMs} ms`,
          { actor: this.name },
        );
        for (let i = 0; i < list.length; i++) cancels[i]?.(error);
      }, timeoutMs);
      for (let i = 0; i < list.length; i++) {
        const why = `askMany to ${this.name}: message ${i} got no reply within ${messageTimeoutMs} ms`;
        const cancel = this.#request(list[i], messageTimeoutMs, true, why, (settled) => settle(i, settled));
        if (outcomes[i] === undefined) cancels[i] = cancel;
      }
    });
  }

  /**
   * Submits one message whose outcome `settle` gets exactly once. Its timer runs from now, or from when it
   * holds a credit (`fromCredit`); at the timer, or when the returned function is called, the runtime gives
   * up on it: `settle` gets the error and the mailbox cancels the message.
   */
  #request(
    message: unknown,
    timeoutMs: number,
    fromCredit: boolean,
    timeoutMessage: string,
    settle: (settled: Settled) => void,
  ): (error: TroupeError) => void {
    let done = false;
    let timer: ReturnType<Clock["setTimeout"]> | null = null;
    let instance: ActorInstance | null = null;
    const reply: ReplyFn = (error, result) => {
      if (done) return;
      done = true;
      if (timer) this.#clock.clearTimeout(timer);
      settle(error ? { ok: false, error } : { ok: true, value: result });
    };
    const giveUp = (error: TroupeError) => {
      if (done) return;
      reply(error);
      instance?.mailbox.cancel(reply, error);
    };
    const arm = () => {
      if (done) return;
      timer = this.#clock.setTimeout(
        () => giveUp(new TroupeError("ERR_ASK_TIMEOUT", timeoutMessage, { actor: this.name })),
        timeoutMs,
      );
    };
    if (!fromCredit) arm();
    try {
      const submitted = this.#submit(message, reply);
      instance = submitted.instance;
      submitted.accepted.then(fromCredit ? arm : undefined, (error: TroupeError) => reply(error));
    } catch (error) {
      reply(error as TroupeError);
    }
    return giveUp;
  }

  /** PumpTarget: hands over a message only if its instance has a credit now. */
  deliver(message: unknown, done: ReplyFn, deliveries = 0, tag?: unknown): boolean {
    this.#assertOpen();
    return this.#route(message).mailbox.tryAccept(message, done, deliveries, tag, this.#keyOf(message));
  }

  /** Spawned with a state store: handled messages are settled by checkpoints, replies carry the epoch. */
  get durable(): boolean {
    return this.options.state !== null;
  }

  /**
   * Stops feeding the workers (in-flight work finishes); a pump sees no credit and stops reading. `hold`
   * names who paused: the actor stays paused until every hold is released, so a lapsed lease and an
   * operator pausing the same actor do not undo each other.
   */
  pause(hold: string = OPERATOR_HOLD): void {
    this.#holds.add(hold);
    for (const instance of this.instances) instance.mailbox.pause();
  }

  /** Releases `hold`; the workers are fed again once no hold is left. */
  resume(hold: string = OPERATOR_HOLD): void {
    this.#holds.delete(hold);
    if (this.#holds.size > 0) return;
    for (const instance of this.instances) instance.mailbox.resume();
  }

  /** Drops every hold and feeds the workers again: a stop drains (or hands back) what the actor accepted. */
  releaseHolds(): void {
    this.#holds.clear();
    for (const instance of this.instances) instance.mailbox.resume();
  }

  /** Who holds the actor paused, in the order they paused it. */
  get pausedBy(): string[] {
    return [...this.#holds];
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

  /** Routes and accepts a message; `accepted` resolves once it holds a credit. Throws when not open. */
  #submit(message: unknown, reply: ReplyFn | null): { instance: ActorInstance; accepted: Promise<void> } {
    this.#assertOpen();
    const instance = this.#route(message);
    const key = this.#keyOf(message);
    if (instance.mailbox.tryAccept(message, reply, 0, undefined, key))
      return { instance, accepted: RESOLVED };
    return { instance, accepted: instance.mailbox.accept(message, reply, 0, key) };
  }

  #keyOf(message: unknown): number {
    return this.#orderKey ? orderKeyHash(this.#orderKey(message)) : 0;
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
    let key: unknown;
    try {
      key = route(message);
    } catch (error) {
      throw new InvalidOptionError("route", `threw for a message: ${messageOf(error)}`);
    }
    // Anything else would route by its text ("[object Object]"): every message to one instance.
    if (typeof key !== "string" && typeof key !== "number")
      throw new InvalidOptionError("route", `must return a string or a number, got ${typeof key}`);
    return this.instances[instanceForKey(key, this.instances.length)] as ActorInstance;
  }

  #assertOpen(): void {
    if (this.status === "running") return;
    const code = this.status === "failed" ? "ERR_ACTOR_FAILED" : "ERR_ACTOR_STOPPED";
    throw new TroupeError(code, `actor ${this.name} is ${this.status}`, { actor: this.name });
  }
}

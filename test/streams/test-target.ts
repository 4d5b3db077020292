/**
 * A small in-process PumpTarget for pump tests: instances with a credit window each, messages routed by
 * key, a real async handler that can throw, in-process retries up to `maxAttempts` (then
 * ERR_MAX_DELIVERIES, as the runtime does) and a `crash()` that fails every in-flight message of an
 * instance with ERR_ACTOR_STOPPED and ignores the late results of the crashed generation.
 */
import { TroupeError } from "../../src/errors.ts";
import type { PumpTarget } from "../../src/streams/pump-target.ts";

export interface TestTargetOptions<M, R> {
  instances: number;
  window: number;
  key(message: M): string;
  handler(message: M, info: { instance: number; attempt: number }): Promise<R>;
  /** Handler attempts per delivery, counting `deliveries` made elsewhere. @defaultValue 3 */
  maxAttempts?: number;
}

interface InFlight<R> {
  done: (error: TroupeError | null, result?: R) => void;
}

interface Instance<R> {
  generation: number;
  inFlight: Set<InFlight<R>>;
}

export class TestTarget<M, R> implements PumpTarget<M, R> {
  readonly name = "test-target";
  readonly #options: TestTargetOptions<M, R>;
  readonly #instances: Instance<R>[];
  readonly #listeners = new Set<() => void>();
  /** Highest number of messages in the target at once. */
  maxInFlight = 0;
  delivered = 0;

  constructor(options: TestTargetOptions<M, R>) {
    this.#options = options;
    this.#instances = Array.from({ length: options.instances }, () => ({
      generation: 0,
      inFlight: new Set(),
    }));
  }

  get capacity(): number {
    return this.#options.instances * this.#options.window;
  }

  get inFlight(): number {
    return this.#instances.reduce((n, i) => n + i.inFlight.size, 0);
  }

  /** How many listeners wait for credits now. */
  get creditListeners(): number {
    return this.#listeners.size;
  }

  freeCredits(): number {
    return this.capacity - this.inFlight;
  }

  deliver(message: M, done: (error: TroupeError | null, result?: R) => void, deliveries = 0): boolean {
    const index = hash(this.#options.key(message)) % this.#instances.length;
    const instance = this.#instances[index]!;
    if (instance.inFlight.size >= this.#options.window) return false;
    const flight: InFlight<R> = { done };
    instance.inFlight.add(flight);
    this.delivered++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    void this.#run(message, instance, index, flight, deliveries);
    return true;
  }

  onCredit(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Fails all in-flight messages of an instance, as a runtime that gave up on a crashed instance would. */
  crash(index: number): void {
    const instance = this.#instances[index % this.#instances.length]!;
    instance.generation++;
    const flights = [...instance.inFlight];
    instance.inFlight.clear();
    for (const f of flights) f.done(new TroupeError("ERR_ACTOR_STOPPED", "instance crashed"));
    this.#credit();
  }

  async #run(message: M, instance: Instance<R>, index: number, flight: InFlight<R>, deliveries: number) {
    const generation = instance.generation;
    const maxAttempts = this.#options.maxAttempts ?? 3;
    let attempt = deliveries;
    for (;;) {
      attempt++;
      try {
        const result = await this.#options.handler(message, { instance: index, attempt });
        if (instance.generation !== generation) return;
        this.#finish(instance, flight, null, result);
        return;
      } catch (error) {
        if (instance.generation !== generation) return;
        if (attempt >= maxAttempts) {
          const reason = new TroupeError("ERR_MAX_DELIVERIES", `handler failed ${attempt} times: ${error}`);
          this.#finish(instance, flight, reason);
          return;
        }
      }
    }
  }

  #finish(instance: Instance<R>, flight: InFlight<R>, error: TroupeError | null, result?: R): void {
    instance.inFlight.delete(flight);
    flight.done(error, result);
    this.#credit();
  }

  #credit(): void {
    for (const listener of this.#listeners) listener();
  }
}

function hash(key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Resolves when `predicate` holds, re-checked whenever `subscribe` signals (no polling, no sleeps). */
export function until(subscribe: (check: () => void) => () => void, predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (predicate()) return resolve();
    const unsubscribe = subscribe(() => {
      if (!predicate()) return;
      unsubscribe();
      resolve();
    });
  });
}

/**
 * Units (a placed analyzer, a partition of a `PartitionedConsumer`) whose lease this process lost, kept
 * paused until it knows whether anyone else held the lease since. A lease lapses on this side when its renewals go unanswered (Redis away for more
 * than its deadline, or this process frozen); stopping the unit then, as any other loss, threw away state
 * that nobody else had touched: a single process on a Redis that stalled for seconds restored every
 * analyzer from its checkpoint, or without durable state started them from nothing. Kafka Streams keeps a
 * revoked task's state store when the task comes back to the same instance for the same reason.
 *
 * The lease's generation tells: every acquisition gets the next one (leases.ts), so taken again under the
 * one after the generation it lapsed at, nobody held it between, and
 * the unit goes on where it paused: its actor, mailbox and state as they were, its epoch still the newest.
 * Anything else (a higher generation, or a round begun after the loss that did not take it back) means
 * another process may have run it: the kept unit is stopped, handing back what it had not started, and a new one
 * restores what that process checkpointed.
 */
export interface KeptUnit {
  /** The lease lapsed: handle nothing more until it is taken again or stopped. */
  pause(): void;
  /** Taken again under the next generation: go on. */
  resume(): void;
  /** Gives it up for good (`moved`: it may run elsewhere from now). */
  stop(moved: boolean): Promise<void>;
}

export class LapsedUnits<U extends KeptUnit> {
  readonly #kept = new Map<number, { unit: U; generation: number; rounds: number }>();
  /** Kept units being stopped: a new start of the same unit waits for its actor's name to be free. */
  readonly #stopping = new Map<number, Promise<void>>();
  /** Why a kept unit's stop failed, for a new start of it (its `assigned` then fails, and is retried). */
  readonly #failures = new Map<number, unknown>();
  readonly #stopped: (index: number) => void;

  /** `stopped`: a kept unit was stopped (not taken again in time), for the moves' log. */
  constructor(stopped: (index: number) => void) {
    this.#stopped = stopped;
  }

  /** Unit `index`, running under lease `generation`, lost its lease: paused and kept. */
  keep(index: number, generation: number, unit: U): void {
    unit.pause();
    this.#kept.set(index, { unit, generation, rounds: 0 });
  }

  /**
   * Unit `index` was taken again under `generation`: the kept unit if nobody held the lease between (resumed),
   * else null once any kept one is stopped.
   */
  async takeAgain(index: number, generation: number): Promise<U | null> {
    const kept = this.#kept.get(index);
    this.#kept.delete(index);
    if (kept && generation === kept.generation + 1) {
      kept.unit.resume();
      return kept.unit;
    }
    if (kept) this.#stop(index, kept.unit);
    await this.#stopping.get(index);
    this.#throwFailure(index);
    return null;
  }

  /**
   * A round ended with `owned` this process's: the kept units that a round begun after they were kept did
   * not take again are stopped. The round that ends first may have begun before (its renewal hung while
   * Redis stalled, and the lease lapsed meanwhile): it did not try to take them, so it tells nothing.
   */
  settle(owned: readonly number[]): void {
    for (const [index, kept] of this.#kept) {
      if (owned.includes(index) || ++kept.rounds < 2) continue;
      this.#kept.delete(index);
      this.#stop(index, kept.unit);
    }
  }

  /**
   * Stops every kept unit (the process stops). A stop that fails is not rethrown, as a failing `revoked` of
   * an ownership's own stop is not: the rest of the shutdown goes on.
   */
  async stopAll(): Promise<void> {
    for (const [index, { unit }] of this.#kept) this.#stop(index, unit);
    this.#kept.clear();
    await Promise.all(this.#stopping.values());
    this.#failures.clear();
  }

  #stop(index: number, unit: U): void {
    const stopping = unit.stop(true).then(
      () => {
        this.#stopped(index);
        if (this.#stopping.get(index) === stopping) this.#stopping.delete(index);
      },
      (error: unknown) => {
        this.#failures.set(index, error);
        if (this.#stopping.get(index) === stopping) this.#stopping.delete(index);
      },
    );
    this.#stopping.set(index, stopping);
  }

  #throwFailure(index: number): void {
    if (!this.#failures.has(index)) return;
    const error = this.#failures.get(index);
    this.#failures.delete(index);
    throw error;
  }
}

/**
 * Waiting without polling: a wake-up signal that a loop parks on until something changes (credits
 * returned, a commit finished, stop) or a timeout passes on its clock.
 */
import type { Clock, TimerHandle } from "../time/clock.ts";

export class Wakeup {
  readonly #clock: Clock;
  #waiters: (() => void)[] = [];

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Resolves on the next `notify()`, or after `timeoutMs` when given. */
  wait(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined;
      const done = () => {
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        resolve();
      };
      if (timeoutMs !== undefined) {
        timer = this.#clock.setTimeout(
          () => {
            this.#waiters = this.#waiters.filter((w) => w !== done);
            resolve();
          },
          Math.max(0, timeoutMs),
        );
      }
      this.#waiters.push(done);
    });
  }

  notify(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Waiting without polling: a wake-up signal that a loop parks on until something changes (credits
 * returned, a commit finished, stop) or a timeout passes, and capped exponential backoff with jitter
 * for retries.
 */

export class Wakeup {
  #waiters: (() => void)[] = [];

  /** Resolves on the next `notify()`, or after `timeoutMs` when given. */
  wait(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(
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

/** Delay before retry number `attempt` (1-based): min·2^(attempt-1), capped at max, with ±20% jitter. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

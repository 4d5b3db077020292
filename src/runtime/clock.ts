/**
 * Time as a seam. The supervisor's backoff, the deadline watchdog and the rate windows all read time
 * through a Clock so tests drive them deterministically on the main thread (bun:test fake timers reach
 * `setTimeout` and `Date.now`, but never worker threads: no deadline is ever measured inside a worker).
 */
export type TimerHandle = ReturnType<typeof setTimeout>;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    // Supervision timers must never be what keeps a finished program alive.
    (handle as { unref?: () => void }).unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle),
};

/**
 * Time as a seam, on the lowest floor so every layer takes the same one. The supervisor's backoff, the
 * deadline watchdog, ask timeouts and rate windows read time through a Clock so tests drive them
 * deterministically on the main thread (bun:test fake timers reach `setTimeout` and `Date.now`, but
 * never worker threads: no deadline is ever measured inside a worker).
 */
import { InvalidOptionError } from "../errors.ts";

export type TimerHandle = ReturnType<typeof setTimeout>;

export interface TimerOptions {
  /** Whether the pending timer keeps the process alive, as the platform's timers do. @defaultValue true */
  ref?: boolean;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms, options) => {
    const handle = setTimeout(fn, ms);
    if (options?.ref === false) handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle),
};

/**
 * `clock` with every timer set `{ ref: false }`. The runtime's timers (supervision, deadlines, timeouts)
 * must never be what keeps a finished program alive: a pending restart backoff would hold it for seconds.
 */
export function unreferenced(clock: Clock): Clock {
  return {
    now: () => clock.now(),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms, { ref: false }),
    clearTimeout: (handle) => clock.clearTimeout(handle),
  };
}

const CLOCK_METHODS = ["now", "setTimeout", "clearTimeout"] as const;

/** The clock an option names, or an `InvalidOptionError` naming the first method it lacks. */
export function checkClock(option: string, value: unknown): Clock {
  for (const method of CLOCK_METHODS) {
    if (typeof (value as Partial<Clock> | undefined)?.[method] !== "function")
      throw new InvalidOptionError(option, `must have a ${method}() method`);
  }
  return value as Clock;
}

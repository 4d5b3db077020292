/** Waiting and repeating on a {@link Clock}, so whoever injects the clock also drives these. */
import type { Clock, TimerHandle } from "./clock.ts";

/** Resolves `ms` from now on `clock`; with a `signal`, rejects with its reason as soon as it aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((resolve) => clock.setTimeout(resolve, ms));
  return new Promise((resolve, reject) => {
    const abort = () => {
      clock.clearTimeout(handle);
      reject(signal.reason);
    };
    const handle = clock.setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, ms);
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
  });
}

/** Calls `fn` every `ms` on `clock` until the returned function is called. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: TimerHandle;
  const tick = () => {
    // Re-armed first, as an interval is: a throwing `fn` does not end the repetition.
    handle = clock.setTimeout(tick, ms);
    fn();
  };
  handle = clock.setTimeout(tick, ms);
  return () => clock.clearTimeout(handle);
}

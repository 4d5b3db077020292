/** Waiting and repeating on a {@link Clock}, so whoever injects the clock also drives these. */
import type { Clock, TimerHandle } from "./clock.ts";

/** Resolves `ms` from now on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
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

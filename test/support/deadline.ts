/**
 * `promise`, or a rejection naming what was awaited once `ms` passed: a wait on an event that fails the test
 * with a reason instead of running into the test's timeout. `what` may be a function, read only on a timeout
 * (a description of the state then).
 */
export function withDeadline<T>(promise: Promise<T>, what: string | (() => string), ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const label = typeof what === "function" ? what() : what;
      reject(new Error(`timed out after ${Math.round(ms)} ms waiting for ${label}`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

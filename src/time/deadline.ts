/**
 * A deadline on anything awaited from Redis. ioredis queues commands while Redis is down (its offline
 * queue) and answers them only after a reconnect, so without one `/health` and the dashboard would hang
 * exactly when an operator needs them, and a check or a close would wait on a server that never answers.
 */
import { TroupeError } from "../errors.ts";

/** Rejects with `ERR_STREAM_BACKEND` ("<what> did not answer within N ms") once `ms` have passed. */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TroupeError("ERR_STREAM_BACKEND", `${what} did not answer within ${ms} ms`)),
      ms,
    );
  });
  // The loser must not become an unhandled rejection.
  work.catch(() => {});
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * Checks REDIS_URL once before the scanner starts on it. The backend's own connection retries forever
 * (right for a running scanner: Redis may come back), so an unreachable server used to show only as
 * "Command timed out" ten seconds later, naming neither the server nor the cause. Here: one connection,
 * no retry, a short deadline, and an error that says which host and port and why.
 */
import Redis from "ioredis";
import { parseSeedNode } from "../streams/redis-target.ts";
import { withDeadline } from "../time/deadline.ts";
import { ScannerError } from "./errors.ts";

/** How long the check waits for a connection and a PONG. */
export const REDIS_CHECK_TIMEOUT_MS = 2000;

/** `setting` names where the URL came from in the error. */
export async function checkRedisReachable(
  url: string,
  timeoutMs = REDIS_CHECK_TIMEOUT_MS,
  setting = "REDIS_URL",
): Promise<void> {
  const address = redisAddress(url);
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    protocol: 2,
  });
  // The socket's error (ECONNREFUSED...) comes as an event; connect() then only rejects with
  // "Connection is closed".
  let socketError: unknown = null;
  redis.on("error", (error) => {
    socketError ??= error;
  });
  try {
    // One deadline for the connection and the PONG together: each has its own timeout in ioredis, and a
    // server that accepts connections but never answers took both, twice the promise.
    await withDeadline(
      (async () => {
        await redis.connect();
        await redis.ping();
      })(),
      timeoutMs,
      "redis",
    );
  } catch (error) {
    const cause = socketError ?? error;
    throw new ScannerError(
      "ERR_REDIS_UNREACHABLE",
      `redis at ${address} (${setting}): ${why(cause, timeoutMs)}`,
      {
        cause,
      },
    );
  } finally {
    redis.disconnect();
  }
}

/**
 * A cluster is reachable when one of its seed nodes answers (the client learns the others from it). The
 * seeds are asked together, so silent ones cost one deadline, not one each; when none answers, the first
 * seed's reason is given.
 */
export async function checkClusterReachable(seeds: readonly string[], timeoutMs = REDIS_CHECK_TIMEOUT_MS) {
  const checks = seeds.map((seed) => {
    const { host, port } = parseSeedNode(seed, "REDIS_CLUSTER_NODES");
    return checkRedisReachable(`redis://${host}:${port}`, timeoutMs, "REDIS_CLUSTER_NODES");
  });
  try {
    await Promise.any(checks);
  } catch (error) {
    throw (error as AggregateError).errors[0];
  }
}

/** `host:port` of a redis URL, without its credentials. */
export function redisAddress(url: string): string {
  const { hostname, port } = new URL(url);
  return `${hostname || "localhost"}:${port || "6379"}`;
}

function why(error: unknown, timeoutMs: number): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ECONNREFUSED") return "connection refused (is redis-server running on that port?)";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "no such host";
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return "host unreachable";
  if (code === "ETIMEDOUT" || /timed? ?out|did not answer/i.test(message))
    return `no answer within ${timeoutMs} ms`;
  if (/NOAUTH|WRONGPASS|invalid password/i.test(message)) return `authentication failed (${message})`;
  return message;
}

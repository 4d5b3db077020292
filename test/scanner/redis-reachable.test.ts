/**
 * The Redis check before start: a server that accepts the connection and never answers is named within
 * one deadline, not one for the connection and another for the PING; silent cluster seeds cost one
 * deadline together, not one each (spec tests: 4 s and 8 s against a promise of 2).
 */
import { afterEach, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { checkClusterReachable, checkRedisReachable } from "../../src/scanner/redis-reachable.ts";

const listeners: TCPSocketListener[] = [];
afterEach(() => {
  for (const listener of listeners.splice(0)) listener.stop(true);
});

/** A port that accepts connections and never says a word. */
function silentPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {}, open() {} } });
  listeners.push(listener);
  return listener.port;
}

async function timed(work: Promise<unknown>): Promise<{ ms: number; message: string }> {
  const started = performance.now();
  const error = await work.then(
    () => new Error("answered"),
    (e: Error) => e,
  );
  return { ms: performance.now() - started, message: error.message };
}

test("a server that never answers: one deadline for connect and PING, naming host, port and why", async () => {
  const port = silentPort();
  const { ms, message } = await timed(checkRedisReachable(`redis://127.0.0.1:${port}`, 600));
  expect(message).toBe(`redis at 127.0.0.1:${port} (REDIS_URL): no answer within 600 ms`);
  expect(ms).toBeGreaterThanOrEqual(590);
  expect(ms).toBeLessThan(1_100);
});

test("silent cluster seeds are asked together: one deadline, the first seed named", async () => {
  const [a, b, c] = [silentPort(), silentPort(), silentPort()];
  const { ms, message } = await timed(
    checkClusterReachable([`127.0.0.1:${a}`, `127.0.0.1:${b}`, `127.0.0.1:${c}`], 600),
  );
  expect(message).toBe(`redis at 127.0.0.1:${a} (REDIS_CLUSTER_NODES): no answer within 600 ms`);
  expect(ms).toBeLessThan(1_100);
});

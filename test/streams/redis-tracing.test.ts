/**
 * ioredis traces a command unless `TracingChannel#hasSubscribers` is false; Bun 1.4.5 has no such getter,
 * so without ours ioredis stringified every argument of every command (a checkpoint's segment included).
 */
import { expect, test } from "bun:test";
import diagnosticsChannel from "node:diagnostics_channel";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { redisAvailable } from "../support/redis-server.ts";

test.skipIf(!redisAvailable())(
  "a Redis backend's commands are traced only while someone listens",
  async () => {
    const backend = new RedisStreamBackend("redis://127.0.0.1:6379");
    const channel = diagnosticsChannel.tracingChannel("ioredis:command");
    expect(channel.hasSubscribers).toBe(false);
    const seen: unknown[] = [];
    const listener = {
      start: (context: unknown) => seen.push(context),
      end() {},
      asyncStart() {},
      asyncEnd() {},
      error() {},
    };
    try {
      await backend.length("troupe-test:tracing:none");
      expect(seen).toHaveLength(0);
      channel.subscribe(listener);
      expect(channel.hasSubscribers).toBe(true);
      await backend.length("troupe-test:tracing:none");
      expect(seen.length).toBeGreaterThan(0);
    } finally {
      channel.unsubscribe(listener);
      await backend.close();
    }
    expect(channel.hasSubscribers).toBe(false);
  },
);

/**
 * The tx writer's appends through a Redis that stalls mid-pipeline (SIGSTOP past the command timeout):
 * ioredis fails appends that Redis then writes once it runs again, and the writer sends them again. Each
 * event must be in the stream once, in order.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { ChainEvent } from "../../src/detection/schema.ts";
import { generate } from "../../src/ingest/generator.ts";
import { TxStreamWriter } from "../../src/ingest/stream-writer.ts";
import { topology } from "../../src/scanner/topology.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { systemClock } from "../../src/time/clock.ts";
import { sleep } from "../../src/time/timers.ts";
import { testPrefix } from "../streams/harness.ts";
import { RedisServer, redisServerInstalled } from "../support/redis-server.ts";

setDefaultTimeout(30_000);

describe.skipIf(!redisServerInstalled())("tx writer on a stalled Redis (private server)", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  test("appends that time out while Redis is stopped, and are written once it runs again, are in the stream once, in order", async () => {
    const backend = new RedisStreamBackend(server.url, { commandTimeoutMs: 200 });
    const streams = topology(`${testPrefix()}:`);
    // No pressure reads between batches: the stall must catch the appends themselves.
    const writer = new TxStreamWriter(backend, streams, { checkIntervalMs: 3_600_000 });
    const events = [...generate({ seed: 5, durationMs: 20 * 60_000 }).events()].slice(0, 3000);
    expect(events.length).toBe(3000);
    try {
      await writer.send(events.slice(0, 1000));
      await server.kill("SIGSTOP");
      const stalled = writer.send(events.slice(1000, 2000));
      // The fault's length, not a wait for an event: several timeouts and resends happen inside it.
      await sleep(systemClock, 1000);
      await server.kill("SIGCONT");
      await stalled;
      await writer.send(events.slice(2000));
      const entries = await backend.range(streams.tx, { start: "-", end: "+", count: 10_000 });
      const written = entries.map((e) => (JSON.parse(String(e.fields?.json)) as ChainEvent).signature);
      expect(written.length).toBe(events.length);
      expect(written).toEqual(events.map((e) => e.signature));
      expect(writer.stats.retries).toBeGreaterThan(0);
    } finally {
      await server.kill("SIGCONT");
      await backend.close();
    }
  });
});

/**
 * A producer that writes only while it may (`mayWrite`: the ingest lease, scanner/ingest-lease.ts) asks
 * before every write, resends included: a resend waiting out its backoff when the lease lapsed (a freeze)
 * writes nothing once it wakes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import type { AppendRetry } from "../../src/streams/idempotent-append.ts";
import { Producer } from "../../src/streams/producer.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { redisAvailable, startTestRedis, type TestRedis } from "../support/redis-server.ts";
import { testPrefix } from "./harness.ts";

describe.skipIf(!redisAvailable())("a producer's mayWrite on Redis", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  test("an idempotent producer stops resending once it may not write: ERR_FENCED, nothing written", async () => {
    const backend = new RedisStreamBackend(redis.url);
    const admin = new Redis(redis.url);
    const stream = `${testPrefix()}:fenced`;
    try {
      let may = true;
      const producer = new Producer(backend, {
        stream,
        idempotent: true,
        retry: { minMs: 20, maxMs: 40 },
        mayWrite: () => may,
        checkIntervalMs: 3_600_000,
      });
      const { promise: resendFailed, resolve } = Promise.withResolvers<void>();
      producer.on("retrying", (retry: AppendRetry) => {
        // The first resend failed too: the producer waits out a backoff before the next.
        if (retry.attempt === 2) resolve();
      });
      await producer.sendBatch([{ n: 0 }]);
      // No longer a stream: every append fails (WRONGTYPE) and is sent again after a backoff.
      await admin.del(stream);
      await admin.set(stream, "not a stream");
      const sending = producer.sendBatch([{ n: 1 }]);
      await resendFailed;
      may = false;
      // The stream could be written now: a resend would land.
      await admin.del(stream);
      await expect(sending).rejects.toMatchObject({ code: "ERR_FENCED" });
      expect(await admin.exists(stream)).toBe(0);
      // A batch asked for after: refused before anything is sent.
      await expect(producer.sendBatch([{ n: 2 }])).rejects.toMatchObject({ code: "ERR_FENCED" });
      expect(await admin.exists(stream)).toBe(0);
    } finally {
      await admin.del(stream);
      admin.disconnect();
      await backend.close();
    }
  });
});

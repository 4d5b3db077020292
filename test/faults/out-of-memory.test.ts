/**
 * Redis out of memory (RELIABILITY.md scenario 10). With `maxmemory` reached and `noeviction`, Redis
 * refuses XADD but still accepts XREADGROUP and XACK, so a pipelined "XADD output; XACK" would ack an
 * entry whose output was never written. The pump checks every reply and acks only entries whose outputs
 * were all written: refused ones stay pending and are retried, and processing resumes once memory frees.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import type { TaggedEntry } from "../fixtures/faults/tagged.actor.ts";
import { TaggedProducer } from "../fixtures/faults/tagged-producer.ts";
import { readOutputs } from "../fixtures/faults/total-queue.ts";
import {
  canBreakRedis,
  type FaultRedis,
  type InProcessConsumer,
  inProcessConsumer,
  names,
  startFaultRedis,
  verdict,
  whenPump,
} from "./support.ts";

const ENTRIES = 220;
const WARM_UP = 20;
const PAD_BYTES = 4_000;
/** Room for about a dozen padded outputs past the ballast: the first commit round is cut in the middle. */
const HEADROOM_BYTES = 48 * 1024;

describe.skipIf(!canBreakRedis())("redis out of memory", () => {
  let redis: FaultRedis | undefined;
  let local: InProcessConsumer | undefined;
  let producer: TaggedProducer | undefined;
  afterEach(async () => {
    await local?.stop();
    await producer?.close();
    await redis?.close();
    local = producer = redis = undefined;
  });

  test("no entry is acked without its output; processing resumes once memory frees", async () => {
    redis = await startFaultRedis();
    const n = names();
    producer = new TaggedProducer(redis.url, n.stream);
    local = await inProcessConsumer(redis, n, {
      consumer: "a",
      padBytes: PAD_BYTES,
      capacity: 16,
      // Keep retrying through the whole episode: this test is about acks, not about giving up.
      pump: { sweepIntervalMs: 0, retryMaxMs: 100, maxCommitAttempts: 1_000 },
    });
    const { pump } = local;
    // A warm-up, so every connection and script is in place before memory is measured.
    await producer.sendAll(WARM_UP);
    await whenPump(pump, "acked", () => pump.stats.acked >= WARM_UP);
    await pump.pause();
    await producer.sendAll(ENTRIES - WARM_UP, 100);
    const tagOf = new Map(
      (await redis.backend.range(n.stream, { count: ENTRIES })).map((e) => [
        e.id,
        (defaultCodec.decode(e.fields!) as TaggedEntry).tag,
      ]),
    );
    // A ballast key to free later (SETRANGE: no 4 MB query buffer to inflate the figure), then a
    // limit just above what is used now.
    const ballast = `${n.prefix}:ballast`;
    await redis.admin.setrange(ballast, 4 * 1024 * 1024 - 1, "x");
    const used = Number(/used_memory:(\d+)/.exec(await redis.admin.info("memory"))?.[1]);
    await redis.admin.config("SET", "maxmemory", String(used + HEADROOM_BYTES));
    pump.resume();
    let refusals = 0;
    pump.on("outputFailed", (e) => {
      if (/OOM/.test(e.error.message)) refusals++;
    });
    await whenPump(pump, "outputFailed", () => refusals >= 5);

    // Some outputs fit, the rest were refused: exactly the entries with an output were acked.
    const written = new Set((await readOutputs(redis.backend, n.outputs)).map((o) => o.tag));
    const acked = local.acked.map((id) => tagOf.get(id));
    expect(acked.length).toBeGreaterThan(WARM_UP);
    expect(acked.length).toBeLessThan(ENTRIES);
    expect(acked.filter((tag) => tag === undefined || !written.has(tag))).toEqual([]);
    expect(written.size).toBe(acked.length);
    const pending = await redis.backend.pending(n.stream, n.group, { count: ENTRIES });
    expect(pending.length).toBeGreaterThan(0);
    // A producer's refused write is a definite failure, not an unknown outcome.
    expect(await producer.send(3)).toEqual({ acknowledged: 0, failed: 3, unknown: 0 });

    await redis.admin.del(ballast);
    await whenPump(pump, "acked", () => pump.stats.acked >= ENTRIES);
    const result = await verdict(redis, n, producer.history);
    expect(result).toMatchObject({
      acknowledged: ENTRIES,
      failed: 3,
      processed: ENTRIES,
      lost: 0,
      unexpected: 0,
      duplicated: 0,
      deadLettered: 0,
    });
    expect(await redis.backend.pending(n.stream, n.group, { count: 10 })).toEqual([]);
  }, 30_000);
});

/**
 * Throughput variants: entries/s from a pre-filled stream through pump → no-op actor → ack, and the raw
 * read + ack loop of the in-memory backend (its ceiling; the Redis one is bench/ceilings/redis-raw.ts).
 * Each times a second run after a warm-up run of a tenth of the count, on a fresh stream each time.
 */
import { createSystem } from "../../src/index.ts";
import { rawPayloadCodec } from "../../src/streams/entry-codec.ts";
import { Pump } from "../../src/streams/pump.ts";
import { stopwatch, throughput, warmThenTime } from "../lib/measure.ts";
import type { Measurement } from "../lib/report.ts";
import {
  ackedAll,
  type BackendKind,
  BENCH,
  fill,
  NOOP_ACTOR,
  type Tuning,
  tuningLabel,
  withBackend,
} from "./harness.ts";

export const METRICS = {
  pump: (kind: BackendKind, tuning: Tuning) => `${kind} pump → no-op actor (${tuningLabel(tuning)})`,
  memoryReadAck: "memory read+ack",
} as const;

/** Pump → no-op actor entries/s over `count` pre-filled entries; the clock starts at `pump.start()`. */
export async function pumpThroughput(
  kind: BackendKind,
  tuning: Tuning,
  count = 100_000,
): Promise<Measurement> {
  return withBackend(kind, async (backend, prefix, append) => {
    const system = createSystem();
    try {
      const ref = await system.spawn(NOOP_ACTOR, { instances: tuning.instances, capacity: tuning.capacity });
      let runs = 0;
      const elapsed = await warmThenTime(count, async (n) => {
        const stream = `${prefix}:e2e:${runs++}`;
        await fill(append, stream, n);
        const pump = new Pump(backend, ref, {
          stream,
          group: "g",
          consumer: "bench",
          maxBatch: tuning.maxBatch,
          ...(tuning.payload === "raw" && { codec: rawPayloadCodec }),
        });
        const done = ackedAll(pump, n);
        const time = stopwatch();
        await pump.start();
        await done;
        const ms = time();
        await pump.stop();
        return ms;
      });
      return throughput(BENCH, METRICS.pump(kind, tuning), count, elapsed, "entries/s");
    } finally {
      await system.stop();
    }
  });
}

/**
 * The in-memory backend's own limit: read COUNT `batch` then one ack per batch, with no pump and no actor,
 * the memory twin of the raw XREADGROUP + XACK loop (which does not decode either).
 */
export async function memoryReadAck(count = 100_000, batch = 512): Promise<Measurement> {
  return withBackend("memory", async (backend, prefix, append) => {
    let runs = 0;
    const elapsed = await warmThenTime(count, async (n) => {
      const stream = `${prefix}:e2e:${runs++}`;
      await fill(append, stream, n);
      await backend.ensureGroup(stream, "g");
      const time = stopwatch();
      for (let read = 0; read < n; ) {
        const entries = await backend.readNew(stream, "g", "c1", { count: batch });
        if (entries.length === 0) throw new Error(`stream ${stream} ran dry after ${read} of ${n} entries`);
        await backend.ack(
          stream,
          "g",
          entries.map((e) => e.id),
        );
        read += entries.length;
      }
      return time();
    });
    return throughput(BENCH, METRICS.memoryReadAck, count, elapsed, "entries/s");
  });
}

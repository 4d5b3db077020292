/**
 * Latency variants: a producer appends entries at a steady rate (default 5,000/s, in the same process, on
 * its own Redis connection) and each entry carries its append time; the latency is from that append to
 * the ack: the pump's `acked` event, or the XACK reply of a raw produce → read → ack loop with no runtime.
 * The first second is a warm-up and is not recorded.
 */
import { build } from "hdr-histogram-js";
import { createSystem } from "../../src/index.ts";
import type { EntryFields, StreamBackend } from "../../src/streams/backend.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { Pump } from "../../src/streams/pump.ts";
import { trade } from "../lib/payload.ts";
import { connect } from "../lib/redis.ts";
import type { Measurement } from "../lib/report.ts";
import { type Appender, type BackendKind, BENCH, NOOP_ACTOR, type Tuning, withBackend } from "./harness.ts";

export const METRICS = {
  pump: (kind: BackendKind, rate: number) => `${kind} pump produce→ack at ${rate}/s`,
  raw: (kind: BackendKind, rate: number) => `${kind} raw produce→read→ack at ${rate}/s`,
} as const;

const WARMUP_MS = 1000;
/** Entries per raw read, as in the raw throughput loop; at 5,000/s a read rarely finds more than a few. */
const RAW_BATCH = 512;
const BLOCK_MS = 1000;

/** A bench entry stamped with its append time (`performance.now()` of this process). */
interface Stamped {
  id: number;
  t: number;
}

/** Append → ack times in ns, up to a minute, at 3 significant digits. */
class Latencies {
  readonly #histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60e9,
    numberOfSignificantValueDigits: 3,
  });
  readonly #skip: number;
  recorded = 0;

  /** Entries with an `id` below `skip` are the warm-up. */
  constructor(skip: number) {
    this.#skip = skip;
  }

  add(entry: Stamped, ackedAt: number): void {
    this.recorded++;
    if (entry.id >= this.#skip) this.#histogram.recordValue(Math.round((ackedAt - entry.t) * 1e6));
  }

  measurements(metric: string): Measurement[] {
    return [50, 99].map((p) => ({
      bench: BENCH,
      metric: `${metric} p${p}`,
      value: this.#histogram.getValueAtPercentile(p) / 1e6,
      unit: "ms",
    }));
  }
}

/**
 * Appends `rate` entries per second for `seconds`, stamping each, on a 1 ms timer: each tick appends what is
 * due since the start (in one pipeline), so timer jitter changes the batching, never the rate.
 */
async function produce(append: Appender, stream: string, rate: number, seconds: number): Promise<void> {
  const total = rate * seconds;
  const start = performance.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000));
    if (due > sent) {
      const t = performance.now();
      const batch: unknown[] = [];
      for (; sent < due; sent++) batch.push({ ...trade(sent), t });
      await append(stream, batch);
    }
    await Bun.sleep(1);
  }
}

/** Fails a run that stalls instead of hanging until the child's timeout. */
function deadline<T>(promise: Promise<T>, seconds: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not all entries acked after ${seconds + 30} s`)),
      (seconds + 30) * 1000,
    );
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Produce → pump → no-op actor → ack latency, p50 and p99 in ms. */
export async function pumpLatency(
  kind: BackendKind,
  tuning: Tuning,
  rate = 5000,
  seconds = 5,
): Promise<Measurement[]> {
  return withBackend(kind, async (backend, prefix, append) => {
    const stream = `${prefix}:e2e:latency`;
    const system = createSystem();
    try {
      const ref = await system.spawn(NOOP_ACTOR, {
        instances: tuning.instances,
        capacity: tuning.capacity,
      });
      const latencies = new Latencies((rate * WARMUP_MS) / 1000);
      const inFlight = new Map<string, Stamped>();
      const done = Promise.withResolvers<void>();
      const pump = new Pump<Stamped, unknown>(backend, ref, {
        stream,
        group: "g",
        consumer: "bench",
        maxBatch: tuning.maxBatch,
        toMessage: (entry) => {
          const stamped = entry.payload as Stamped;
          inFlight.set(entry.id, stamped);
          return stamped;
        },
      });
      pump.on("acked", ({ ids }) => {
        const ackedAt = performance.now();
        for (const id of ids) {
          latencies.add(inFlight.get(id)!, ackedAt);
          inFlight.delete(id);
        }
        if (latencies.recorded === rate * seconds) done.resolve();
      });
      await pump.start();
      await deadline(Promise.all([produce(append, stream, rate, seconds), done.promise]), seconds);
      await pump.stop();
      return latencies.measurements(METRICS.pump(kind, rate));
    } finally {
      await system.stop();
    }
  });
}

/** One raw read (up to RAW_BATCH entries, blocking) then one ack of what it got; closes its connection. */
interface RawConsumer {
  readAndAck(): Promise<EntryFields[]>;
  close(): void;
}

/** On Redis a bare ioredis connection (blocking reads hold it, so not the producer's); in memory the backend. */
function rawConsumer(kind: BackendKind, backend: StreamBackend, stream: string): RawConsumer {
  if (kind === "memory") {
    return {
      async readAndAck() {
        const entries = await backend.readNew(stream, "g", "c1", { count: RAW_BATCH, blockMs: BLOCK_MS });
        if (entries.length > 0)
          await backend.ack(
            stream,
            "g",
            entries.map((e) => e.id),
          );
        // Never null here: only a claim of an entry deleted while pending has no fields.
        return entries.map((e) => e.fields ?? {});
      },
      close() {},
    };
  }
  const redis = connect();
  return {
    async readAndAck() {
      const reply = await redis.xreadgroupBuffer(
        "GROUP",
        "g",
        "c1",
        "COUNT",
        RAW_BATCH,
        "BLOCK",
        BLOCK_MS,
        "STREAMS",
        stream,
        ">",
      );
      // RESP2: [[key, [[id, [field, value, ...]], ...]]]; the bench writes one field, `d`.
      const entries = (reply as [Buffer, [Buffer, Buffer[]][]][] | null)?.[0]?.[1] ?? [];
      if (entries.length > 0) await redis.xack(stream, "g", ...entries.map(([id]) => id));
      return entries.map(([, fields]) => ({ [String(fields[0])]: fields[1]! }));
    },
    close: () => redis.disconnect(),
  };
}

/**
 * The same produce → read → ack path with no runtime: on Redis a bare ioredis loop (XREADGROUP BLOCK, then
 * XACK), in memory the backend's blocking readNew and ack. The stamp is decoded from each entry after its ack.
 */
export async function rawLatency(kind: BackendKind, rate = 5000, seconds = 5): Promise<Measurement[]> {
  return withBackend(kind, async (backend, prefix, append) => {
    const stream = `${prefix}:e2e:raw-latency`;
    const total = rate * seconds;
    const latencies = new Latencies((rate * WARMUP_MS) / 1000);
    await backend.ensureGroup(stream, "g");
    const consumer = rawConsumer(kind, backend, stream);
    const consume = async () => {
      while (latencies.recorded < total) {
        const entries = await consumer.readAndAck();
        const ackedAt = performance.now();
        for (const fields of entries) latencies.add(defaultCodec.decode(fields) as Stamped, ackedAt);
      }
    };
    try {
      await deadline(Promise.all([produce(append, stream, rate, seconds), consume()]), seconds);
    } finally {
      consumer.close();
    }
    return latencies.measurements(METRICS.raw(kind, rate));
  });
}

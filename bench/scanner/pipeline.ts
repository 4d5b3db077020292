/**
 * Variants of bench/scanner.ts, each run in a fresh process: the whole scanner (validated ingest → tx
 * stream → three analyzer actors → alerts stream) on the in-memory backend or on Redis.
 */
import { build, type Histogram } from "hdr-histogram-js";
import type { Alert } from "../../src/detection/alert.ts";
import type { ChainEvent } from "../../src/detection/schema.ts";
import { startBatchScanner } from "../../src/eval/batch-run.ts";
import { generate } from "../../src/ingest/generator.ts";
import type { TxStreamWriter } from "../../src/ingest/stream-writer.ts";
import { type Topology, topology } from "../../src/scanner/topology.ts";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { cpuSeconds, stopwatch, throughput } from "../lib/measure.ts";
import { connect, deleteByPrefix, redisUrl } from "../lib/redis.ts";
import type { Measurement } from "../lib/report.ts";

export const BENCH = "scanner";
/**
 * Where the streams live: in memory, on the one Redis of `REDIS_URL`, or on a Redis Cluster (its seed nodes:
 * bench/partitions.ts starts a private one).
 */
type Backend = "memory" | "redis" | { cluster: string[] };

/** How a metric names the backend. */
function backendName(kind: Backend): string {
  return typeof kind === "string" ? kind : "redis cluster";
}

/** The servers whose CPU counts in a run's cost. */
function serversOf(kind: Backend): string[] {
  if (kind === "memory") return [];
  return kind === "redis" ? [redisUrl()] : kind.cluster.map((node) => `redis://${node}`);
}

interface Scanner {
  backend: StreamBackend;
  ingest: TxStreamWriter;
  names: Topology;
  drained: () => Promise<void>;
}

/** "1 partition", "8 partitions": how the keyed layout's metrics name it. */
function partitionCount(partitions: number, noun = "partition"): string {
  return `${partitions} ${noun}${partitions === 1 ? "" : "s"}`;
}

/** `durable`: the analyzers checkpoint their state (the default of `bun run start`); `volatile`: they do not. */
export type StateMode = "durable" | "volatile";

async function withScanner<T>(
  kind: Backend,
  use: (scanner: Scanner) => Promise<T>,
  state: StateMode = "durable",
  partitions: number | null = null,
  partitionThreads?: number,
): Promise<T> {
  // On a cluster the streams share one hash tag: a sybil checkpoint acks tx and findings entries in one script.
  const id = `troupe-bench:${crypto.randomUUID()}`;
  const prefix = typeof kind === "string" ? `${id}:` : `{${id}}:`;
  const backend: StreamBackend =
    kind === "memory"
      ? new MemoryStreamBackend()
      : new RedisStreamBackend(kind === "redis" ? redisUrl() : { cluster: kind.cluster });
  const names = topology(prefix, { keyed: partitions !== null });
  const scanner = await startBatchScanner(
    backend,
    names,
    { lagCapacity: 500_000, pendingCapacity: 100_000 },
    state === "durable" ? undefined : null,
    partitions,
    partitionThreads,
  );
  try {
    return await use({ backend, ingest: scanner.ingest, names, drained: scanner.drained });
  } finally {
    await scanner.stop();
    await backend.close();
    // A cluster's keys go with the private cluster the bench stops.
    if (kind === "redis") {
      const redis = connect();
      await deleteByPrefix(redis, prefix);
      redis.disconnect();
    }
  }
}

/** Event time the workloads are planned over: the generator plans it all before the first event. */
const WORKLOAD_HOURS = 48;

/**
 * `count` events of a generated workload after its start, and the history prefix before it (aged wallets
 * are given events dated days earlier, so that "aged" is observable): the prefix comes first in the stream.
 */
function workload(
  count: number,
  scenarioRate = 6,
  hours = WORKLOAD_HOURS,
): { prefix: ChainEvent[]; events: ChainEvent[] } {
  const prefix: ChainEvent[] = [];
  const events: ChainEvent[] = [];
  (() => {
    const w = generate({ seed: 7, durationMs: hours * 3_600_000, scenarioRate });
    for (const event of w.events()) {
      if (event.ts < w.t0) prefix.push(event);
      else if (events.push(event) === count) break;
    }
  })();
  // The generator's world (~7 GB of heap at scenario rate 120) is garbage now: collected here, not by the
  // main thread in the middle of the measurement (it was, and a minute of produce→alert samples carried it).
  Bun.gc(true);
  return { prefix, events };
}

/** Events as one buffer of JSON texts, each followed by a comma: off the heap the collector marks. */
class PackedEvents {
  readonly #bytes: Uint8Array;
  /** Where event i starts; event i ends where i + 1 starts. */
  readonly #offsets: Uint32Array;
  readonly #decoder = new TextDecoder();

  private constructor(bytes: Uint8Array, offsets: Uint32Array) {
    this.#bytes = bytes;
    this.#offsets = offsets;
  }

  static from(events: readonly ChainEvent[]): PackedEvents {
    const encoder = new TextEncoder();
    const texts = events.map((event) => encoder.encode(`${JSON.stringify(event)},`));
    const offsets = new Uint32Array(texts.length + 1);
    for (let i = 0; i < texts.length; i++)
      offsets[i + 1] = (offsets[i] as number) + (texts[i] as Uint8Array).length;
    const bytes = new Uint8Array(offsets[texts.length] as number);
    for (let i = 0; i < texts.length; i++) bytes.set(texts[i] as Uint8Array, offsets[i]);
    return new PackedEvents(bytes, offsets);
  }

  get count(): number {
    return this.#offsets.length - 1;
  }

  slice(from: number, to: number): ChainEvent[] {
    const end = Math.min(to, this.count);
    if (end <= from) return [];
    // Up to the last event's comma, excluded.
    const text = this.#decoder.decode(
      this.#bytes.subarray(this.#offsets[from], (this.#offsets[end] as number) - 1),
    );
    return JSON.parse(`[${text}]`) as ChainEvent[];
  }
}

/** Events sent and no longer needed: their heap is collected before the measurement, not during it. */
function forget(events: ChainEvent[]): void {
  events.length = 0;
  Bun.gc(true);
}

async function sendAll(ingest: TxStreamWriter, events: readonly ChainEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) await ingest.send(events.slice(i, i + 1000));
}

/**
 * Events/s of the whole scanner (validated ingest included) over a pre-generated workload: generation is
 * not timed, and neither is a warm-up of the history prefix and the first `warmup` events, sent and
 * drained first, so the figure is the steady state and not the JIT compiling four threads' code.
 */
/**
 * `partitions`: the mint-keyed detectors in the mint analyzer, in that many partitions (TROUPE_PARTITIONS),
 * and P4 / P6 in the wallet stage (no pattern analyzer); `partitionThreads`: the threads they share
 * (TROUPE_PARTITION_THREADS; null: its default, named in the metric only when given). Also reports the
 * process's max RSS.
 */
export async function scannerThroughput(
  kind: Backend,
  state: StateMode = "durable",
  count = 300_000,
  warmup = 100_000,
  partitions: number | null = null,
  partitionThreads: number | null = null,
): Promise<Measurement[]> {
  const { prefix, events } = workload(warmup + count);
  const servers = serversOf(kind);
  return withScanner(
    kind,
    async ({ ingest, drained }) => {
      await sendAll(ingest, [...prefix, ...events.slice(0, warmup)]);
      await drained();
      forget(prefix);
      const timed = events.slice(warmup);
      const cpuBefore = await cpuSeconds(servers);
      const time = stopwatch();
      await sendAll(ingest, timed);
      await drained();
      const elapsed = time();
      const cpu = (await cpuSeconds(servers)) - cpuBefore;
      // Keyed: the wallet stage (P4 and P6 in it) and the sybil analyzer, no pattern analyzer.
      const layout =
        partitions === null
          ? "three analyzers"
          : `wallet stage + sybil + mint analyzer, ${partitionCount(partitions)}`;
      const threads = partitionThreads === null ? "" : ` on ${partitionCount(partitionThreads, "thread")}`;
      const metric = `${layout}${threads}, ${backendName(kind)}, ${state}`;
      return [
        throughput(BENCH, metric, timed.length, elapsed, "events/s"),
        // The cost, which a loaded box distorts less than the wall time: every thread of this process, and
        // the Redis server (shared: other clients' work shows in it too).
        {
          bench: BENCH,
          metric: `${metric}, per CPU-second`,
          value: timed.length / cpu,
          unit: "events/CPU-s",
        },
        // Linux reports it in KiB.
        {
          bench: BENCH,
          metric: `${metric}, max RSS`,
          value: process.resourceUsage().maxRSS / 1024,
          unit: "MB",
        },
      ];
    },
    state,
    partitions,
    partitionThreads ?? undefined,
  );
}

function latencyHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** A main-thread turn longer than this counts as a stall (a 5 ms timer that fired this late). */
const STALL_MS = 15;

/**
 * The main thread's stalls while traffic flows: the time its 5 ms timer came late by more than
 * {@link STALL_MS}, summed. The pumps, the mailboxes and the bench's own reader share that thread, so a stall
 * there delays every alert at once; a late alert without one waited in a worker (or for another's mark).
 */
function loopStalls(): { stop(): { ms: number; count: number } } {
  let last = performance.now();
  let ms = 0;
  let count = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - last - 5;
    if (late > STALL_MS) {
      ms += late;
      count++;
    }
    last = now;
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return { ms, count };
    },
  };
}

/**
 * Produce → alert latency at a steady `rate`: from the moment an event was appended to the moment the
 * alert it raised on arrival can be read from the alerts stream (alerts that waited for a window or flush
 * in event time are left out: that is detection delay). Scenarios are planted 20× as often as by default;
 * a minute of traffic yields ~1,500 samples, so the p99 is not just the five worst (20 s gave ~500, and the
 * same code's p99 then swung between 30 and 180 ms from one run to the next). `partitions`: the keyed layout
 * (as {@link scannerThroughput}).
 */
export async function produceToAlert(
  kind: Backend,
  state: StateMode = "durable",
  rate = 5000,
  seconds = 60,
  partitions: number | null = null,
): Promise<Measurement[]> {
  // Rounded: a fractional count (bench/scanner.ts's --count / rate seconds) would never stop the generator.
  const count = Math.round(rate * seconds);
  // Planned over event time in proportion below a minute at 5,000/s (48 h, ~7 GB of world at this scenario
  // rate, minutes to plan): a --count smoke run's few thousand events need a fraction of an hour (1 h plans
  // ~176,000 events).
  const hours = WORKLOAD_HOURS * Math.min(1, count / 300_000);
  const { prefix, events } = workload(count, 120, hours);
  return withScanner(
    kind,
    async ({ backend, ingest, names, drained }) => {
      // The aged wallets' history first, untimed: latency is measured on the live traffic after it.
      await sendAll(ingest, prefix);
      await drained();
      forget(prefix);
      // The timed events as bytes, parsed a tick at a time, and per event two numbers: holding 300,000
      // event objects (~3M heap cells) and a record per event made every full collection of this thread,
      // which also runs the scanner's pumps, mark them all: the stalls then measured the bench's heap.
      const timed = PackedEvents.from(events);
      forget(events);
      const ordinal = new Map<string, number>();
      const sentAt = new Float64Array(timed.count);
      const sentTs = new Float64Array(timed.count);
      const histogram = latencyHistogram();
      // Per analyzer too: the sybil analyzer's alerts wait for the other two's progress marks when state is
      // durable (aligned findings), so its tail and theirs have different causes.
      const byAnalyzer = new Map<string, Histogram>();
      await backend.ensureGroup(names.alerts, "bench", "$");
      let reading = true;
      const reader = (async () => {
        while (reading) {
          for (const entry of await backend.readNew(names.alerts, "bench", "c", {
            count: 512,
            blockMs: 50,
          })) {
            const alert = defaultCodec.decode(entry.fields!) as Alert;
            // Only alerts raised on the arrival of their trigger (detectedAt = its event time): the others
            // waited for a window or a flush in event time, which is detection delay, not pipeline latency.
            const trigger = ordinal.get(alert.triggerId);
            if (trigger !== undefined && alert.detectedAt === sentTs[trigger]) {
              const micros = Math.max(
                1,
                Math.round((performance.now() - (sentAt[trigger] as number)) * 1000),
              );
              histogram.recordValue(micros);
              let own = byAnalyzer.get(alert.analyzer);
              if (!own) {
                own = latencyHistogram();
                byAnalyzer.set(alert.analyzer, own);
              }
              own.recordValue(micros);
            }
          }
        }
      })();
      const stalls = loopStalls();
      const tickMs = 20;
      const perTick = (rate * tickMs) / 1000;
      const started = performance.now();
      for (let i = 0; i < timed.count; i += perTick) {
        const batch = timed.slice(i, i + perTick);
        const now = performance.now();
        for (let j = 0; j < batch.length; j++) {
          const event = batch[j] as ChainEvent;
          ordinal.set(event.id, i + j);
          sentAt[i + j] = now;
          sentTs[i + j] = event.ts;
        }
        await ingest.send(batch);
        const wait = started + ((i + perTick) / rate) * 1000 - performance.now();
        if (wait > 0) await Bun.sleep(wait);
      }
      await drained();
      const stalled = stalls.stop();
      reading = false;
      await reader;
      const keyed = partitions === null ? "" : `, ${partitionCount(partitions, "mint partition")}`;
      const metric = `produce→alert at ${rate}/s, ${backendName(kind)}${state === "volatile" ? ", volatile" : ""}${keyed}`;
      const percentile = (name: string, h: Histogram, p: number) => ({
        bench: BENCH,
        metric: `${name} p${p}`,
        value: h.getValueAtPercentile(p) / 1000,
        unit: "ms",
        samples: h.totalCount,
      });
      return [
        percentile(metric, histogram, 50),
        percentile(metric, histogram, 99),
        ...[...byAnalyzer]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, h]) => percentile(`${metric}, ${name}`, h, 99)),
        {
          bench: BENCH,
          metric: `${metric}, main thread stalled > ${STALL_MS} ms`,
          value: stalled.ms,
          unit: "ms",
          samples: stalled.count,
        },
      ];
    },
    state,
    partitions,
  );
}

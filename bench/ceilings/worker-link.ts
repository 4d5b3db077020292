/**
 * Worker-link ceilings: how fast objects cross from the main thread to one Bun worker with no runtime, the
 * limits a mailbox is judged against (shared/CEILINGS.md). Every variant sends the same small trade object,
 * counts it as done only once the worker has decoded it (the receiver is the limit), and bounds what is in
 * flight with a credit window so no queue grows without bound.
 *
 *   (a) postMessage per object   one structured-cloned object per postMessage; credits every 1024, window 4096
 *   (b) batched frames           arrays of 512 objects packed with msgpackr, the ArrayBuffer transferred;
 *                                a credit per frame, window 4096
 *   (c) shared ring              one msgpackr record per object (sequential structures) in a
 *                                SharedArrayBuffer SPSC ring (ring.ts), the worker parked on Atomics.waitAsync;
 *                                window 4096
 *   ping-pong p50 / p99          postMessage round trip to an idle worker (1 ms between pings)
 *
 * Run: `bun bench/ceilings/worker-link.ts [--json] [--rounds 3] [--count N]` (each variant in a fresh
 * process, median of the rounds). A runtime bench reuses `workerLinkVariants()` and `workerLinkFigures()`,
 * or calls the exported measuring functions with its own counts.
 */
import { Packr } from "msgpackr";
import { sampleLatency, stopwatch, throughput, warmThenTime } from "../lib/measure.ts";
import { trade } from "../lib/payload.ts";
import { type Figure, figure, type Measurement, parseBenchArgs, printReport } from "../lib/report.ts";
import { type Results, runIsolated, type Variant, variant } from "../lib/run-isolated.ts";
import { createRing, RING_RECORDS, RingProducer } from "./ring.ts";

export const BENCH = "worker-link";
export const METRICS = {
  perObject: "postMessage per object",
  frames: "batched frames",
  ring: "shared ring",
  pingPong: "ping-pong",
} as const;

/** Messages that may be sent but not yet processed, in every variant: the mailbox capacity's stand-in. */
const WINDOW = 4096;

/** Starts a worker and stops it after `use`, whatever happens. */
async function withWorker<T>(url: URL, use: (worker: Worker) => Promise<T>): Promise<T> {
  const worker = new Worker(url);
  try {
    return await use(worker);
  } finally {
    worker.terminate();
  }
}

/**
 * The main side of a postMessage credit protocol: the worker posts its cumulative processed count, and
 * `until` resolves once that count reaches a target.
 */
function credits(worker: Worker) {
  let processed = 0;
  let wake: (() => void) | undefined;
  worker.onmessage = (event: MessageEvent<number>) => {
    processed = event.data;
    wake?.();
  };
  return {
    processed: () => processed,
    async until(target: number): Promise<void> {
      while (processed < target) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

/** (a) Received msg/s with one postMessage per object. */
export async function postMessagePerObject(count = 1_000_000): Promise<Measurement> {
  const elapsed = await withWorker(
    new URL("./workers/per-object.worker.ts", import.meta.url),
    async (worker) => {
      const link = credits(worker);
      let total = 0;
      return warmThenTime(count, async (n) => {
        const time = stopwatch();
        const end = total + n;
        while (total < end) {
          if (total - link.processed() >= WINDOW) await link.until(total - WINDOW + 1);
          worker.postMessage(trade(total++));
        }
        worker.postMessage(null);
        await link.until(end);
        return time();
      });
    },
  );
  return throughput(BENCH, METRICS.perObject, count, elapsed);
}

/** (b) Received msg/s with `frameSize` objects per msgpackr frame, each frame's buffer transferred. */
export async function batchedFrames(count = 3_000_000, frameSize = 512): Promise<Measurement> {
  const packr = new Packr();
  const elapsed = await withWorker(new URL("./workers/frames.worker.ts", import.meta.url), async (worker) => {
    const link = credits(worker);
    let total = 0;
    return warmThenTime(count, async (n) => {
      const time = stopwatch();
      const end = total + n;
      while (total < end) {
        const size = Math.min(frameSize, end - total);
        if (total + size - link.processed() > WINDOW) await link.until(total + size - WINDOW);
        const frame = new Array(size);
        for (let i = 0; i < size; i++) frame[i] = trade(total + i);
        // pack() returns a view on the Packr's reused buffer: copy it into a buffer of our own to transfer.
        const bytes = new Uint8Array(packr.pack(frame));
        worker.postMessage(bytes.buffer, [bytes.buffer]);
        total += size;
      }
      await link.until(end);
      return time();
    });
  });
  return throughput(BENCH, METRICS.frames, count, elapsed);
}

/** (c) Received msg/s through the shared ring, one msgpackr record per object. */
export async function sharedRing(count = 3_000_000, capacity = 1 << 20): Promise<Measurement> {
  const packr = new Packr(RING_RECORDS);
  const ring = createRing(capacity);
  const producer = new RingProducer(ring, WINDOW);
  const elapsed = await withWorker(new URL("./workers/ring.worker.ts", import.meta.url), async (worker) => {
    worker.postMessage(ring);
    let total = 0;
    return warmThenTime(count, async (n) => {
      const time = stopwatch();
      const end = total + n;
      while (total < end) {
        // The record is copied into the ring at once, so pack()'s shared buffer needs no copy here.
        const record = packr.pack(trade(total++));
        if (!producer.tryWrite(record)) await producer.write(record);
      }
      await producer.drained();
      return time();
    });
  });
  const lost = producer.lostWakeups();
  if (lost > 0) console.error(`shared ring: ${lost} waits timed out with news (lost notifies, see ring.ts)`);
  return throughput(BENCH, METRICS.ring, count, elapsed);
}

/** Idle postMessage round trip: p50 and p99 in µs over `samples` pings, `gapMs` apart. */
export async function pingPong(samples = 1000, gapMs = 1): Promise<Measurement[]> {
  return withWorker(new URL("./workers/echo.worker.ts", import.meta.url), async (worker) => {
    let pong: (() => void) | undefined;
    worker.onmessage = () => pong?.();
    return sampleLatency({ bench: BENCH, metric: METRICS.pingPong, samples, gapMs }, () => {
      const reply = new Promise<void>((resolve) => (pong = resolve));
      worker.postMessage(0);
      return reply;
    });
  });
}

/** The four variants, each with its default count unless `count` overrides the message counts. */
export function workerLinkVariants(count?: number): Variant[] {
  const n = count === undefined ? [] : [count];
  return [
    variant(import.meta.url, "postMessagePerObject", ...n),
    variant(import.meta.url, "batchedFrames", ...n),
    variant(import.meta.url, "sharedRing", ...n),
    variant(import.meta.url, "pingPong"),
  ];
}

/** (a) alone, (b) against (a), (c) against (b), then the round trip. */
export function workerLinkFigures(results: Results): Figure[] {
  const perObject = results.get(BENCH, METRICS.perObject);
  const frames = results.get(BENCH, METRICS.frames);
  return [
    figure(perObject),
    figure(frames, perObject),
    figure(results.get(BENCH, METRICS.ring), frames),
    figure(results.get(BENCH, `${METRICS.pingPong} p50`)),
    figure(results.get(BENCH, `${METRICS.pingPong} p99`)),
  ];
}

if (import.meta.main) {
  const args = parseBenchArgs("usage: bun bench/ceilings/worker-link.ts [--json] [--rounds 3] [--count N]");
  printReport(workerLinkFigures(await runIsolated(workerLinkVariants(args.count), args)), args);
}

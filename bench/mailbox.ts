/**
 * Mailbox throughput and latency: no-op actor tell → handle through the full runtime (credits, frames,
 * supervision), with 1 and 2 instances, and an idle `ask` round trip; next to the raw worker-link ceilings
 * measured in the same run (bench/ceilings/worker-link.ts): (a) one postMessage per object, (b) batched
 * msgpackr frames with transferred buffers, (c) a SharedArrayBuffer ring, and a raw postMessage ping-pong.
 * Every variant runs in a fresh process; the median of `--rounds` is reported.
 *
 *   bun bench/mailbox.ts [--json] [--rounds 3] [--count N]
 */
import { createSystem } from "../src/index.ts";
import { engineOf } from "../src/runtime/actor-ref.ts";
import { METRICS as CEILING, BENCH as LINK, workerLinkVariants } from "./ceilings/worker-link.ts";
import { sampleLatency, stopwatch, throughput, warmThenTime } from "./lib/measure.ts";
import { trade } from "./lib/payload.ts";
import { figure, type Measurement, parseBenchArgs, printReport } from "./lib/report.ts";
import { runIsolated, variant } from "./lib/run-isolated.ts";

const BENCH = "mailbox";
const NOOP = new URL("./fixtures/noop.actor.ts", import.meta.url);

/**
 * tell → handle msg/s of a no-op actor with `instances` workers; done when every mailbox drained. As many
 * messages as the batched-frames and ring ceilings send (3M after a tenth as warm-up): with 1M the timed
 * window was ~0.4 s, short enough for JIT tier-up to weigh on the runtime and not on the ceilings.
 */
export async function tellThroughput(instances: number, count = 3_000_000): Promise<Measurement> {
  const system = createSystem();
  const ref = await system.spawn(NOOP, { instances, capacity: 4096 });
  let id = 0;
  const elapsed = await warmThenTime(count, async (n) => {
    const time = stopwatch();
    const end = id + n;
    while (id < end) {
      const message = trade(id++);
      if (!ref.tryTell(message)) await ref.tell(message);
    }
    await Promise.all(engineOf(ref).instances.map((instance) => instance.mailbox.drained()));
    return time();
  });
  await system.stop();
  return throughput(BENCH, `tell ${instances} instance${instances > 1 ? "s" : ""}`, count, elapsed);
}

/** Idle ask round trip (1 ms apart, so each finds the worker parked), p50 and p99 in µs. */
export async function askLatency(samples = 2000): Promise<Measurement[]> {
  const system = createSystem();
  const ref = await system.spawn(NOOP);
  const result = await sampleLatency({ bench: BENCH, metric: "ask", samples, gapMs: 1 }, () =>
    ref.ask(trade(0)),
  );
  await system.stop();
  return result;
}

if (import.meta.main) {
  const args = parseBenchArgs();
  const n = args.count === undefined ? [] : [args.count];
  const results = await runIsolated(
    [
      ...workerLinkVariants(args.count),
      variant(import.meta.url, "tellThroughput", 1, ...n),
      variant(import.meta.url, "tellThroughput", 2, ...n),
      variant(import.meta.url, "askLatency"),
    ],
    args,
  );
  const perObject = results.get(LINK, CEILING.perObject);
  const frames = results.get(LINK, CEILING.frames);
  const ring = results.get(LINK, CEILING.ring);
  const one = results.get(BENCH, "tell 1 instance");
  const two = results.get(BENCH, "tell 2 instances");
  printReport(
    [
      figure(perObject),
      figure(frames, perObject),
      figure(ring, frames),
      figure(one, frames),
      figure(one, perObject),
      figure(one, ring),
      figure(two, frames),
      figure(results.get(BENCH, "ask p50"), results.get(LINK, `${CEILING.pingPong} p50`)),
      figure(results.get(BENCH, "ask p99"), results.get(LINK, `${CEILING.pingPong} p99`)),
    ],
    args,
  );
}

/**
 * Mailbox throughput and latency: no-op actor tell → handle through the full runtime (credits, frames,
 * supervision), with 1 and 2 instances, and an idle `ask` round trip; next to the raw worker-link ceilings
 * measured in the same run (bench/ceilings/worker-link.ts): (a) one postMessage per object, (b) batched
 * msgpackr frames with transferred buffers, (c) a SharedArrayBuffer ring, and a raw postMessage ping-pong.
 * Every variant runs in a fresh process; the median of `--rounds` is reported.
 *
 * Peers for CPU work (issue 15): piscina and tinypool, worker-thread pools, on the same number of threads
 * (2) as Troupe's instances, each running 100,000 tasks (a no-op, and 20 µs of CPU) submitted at once and
 * awaited for their results. Troupe runs the same task as an actor two ways: `tell` (no reply, its usual
 * way to feed work) and `askMany` (a result per task, as the pools give).
 *
 *   bun bench/mailbox.ts [--json] [--rounds 3] [--count N]
 */
import Piscina from "piscina";
import Tinypool from "tinypool";
import { createSystem } from "../src/index.ts";
import { engineOf } from "../src/runtime/actor-ref.ts";
import { METRICS as CEILING, BENCH as LINK, workerLinkVariants } from "./ceilings/worker-link.ts";
import { sampleLatency, stopwatch, throughput, warmThenTime } from "./lib/measure.ts";
import { trade } from "./lib/payload.ts";
import { figure, type Measurement, parseBenchArgs, printReport } from "./lib/report.ts";
import { runIsolated, variant } from "./lib/run-isolated.ts";

const BENCH = "mailbox";
const USAGE = "usage: bun bench/mailbox.ts [--json] [--rounds 3] [--count N]";
const NOOP = new URL("./fixtures/noop.actor.ts", import.meta.url);
const TASK_ACTOR = new URL("./fixtures/task.actor.ts", import.meta.url);
const POOL_TASK = new URL("./fixtures/pool-task.ts", import.meta.url);
const PEER_THREADS = 2;
const PEER_TASKS = 100_000;
/** The CPU-bound task's work in µs (0 is the no-op). */
const TASKS = { noop: 0, "cpu 20µs": 20 } as const;
type TaskName = keyof typeof TASKS;

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

/** Troupe: `count` tasks to an actor with PEER_THREADS instances, told (no reply) or asked (`askMany`). */
export async function troupeTasks(
  task: TaskName,
  mode: "tell" | "askMany",
  count = PEER_TASKS,
): Promise<Measurement> {
  const system = createSystem();
  const ref = await system.spawn<{ id: number; spinUs: number }>(TASK_ACTOR, {
    instances: PEER_THREADS,
    capacity: 4096,
  });
  const spinUs = TASKS[task];
  const elapsed = await warmThenTime(count, async (n) => {
    const time = stopwatch();
    if (mode === "tell") {
      for (let id = 0; id < n; id++) {
        const message = { id, spinUs };
        if (!ref.tryTell(message)) await ref.tell(message);
      }
      await Promise.all(engineOf(ref).instances.map((instance) => instance.mailbox.drained()));
    } else {
      const settled = await ref.askMany(
        Array.from({ length: n }, (_, id) => ({ id, spinUs })),
        { timeoutMs: 600_000, messageTimeoutMs: 600_000 },
      );
      if (!settled.every((s) => s.ok)) throw new Error("a task failed");
    }
    return time();
  });
  await system.stop();
  return throughput(BENCH, `troupe ${task} ${mode}`, count, elapsed, "tasks/s");
}

/** piscina or tinypool with PEER_THREADS threads: `count` tasks submitted at once, awaited for their results. */
export async function peerTasks(
  peer: "piscina" | "tinypool",
  task: TaskName,
  count = PEER_TASKS,
): Promise<Measurement> {
  const options = { filename: POOL_TASK.href, minThreads: PEER_THREADS, maxThreads: PEER_THREADS };
  const pool = peer === "piscina" ? new Piscina(options) : new Tinypool(options);
  const spinUs = TASKS[task];
  const elapsed = await warmThenTime(count, async (n) => {
    const time = stopwatch();
    const runs: Promise<unknown>[] = new Array(n);
    for (let id = 0; id < n; id++) runs[id] = pool.run({ id, spinUs });
    await Promise.all(runs);
    return time();
  });
  await pool.destroy();
  return throughput(BENCH, `${peer} ${task}`, count, elapsed, "tasks/s");
}

if (import.meta.main) {
  const args = parseBenchArgs(USAGE);
  const n = args.count === undefined ? [] : [args.count];
  const results = await runIsolated(
    [
      ...workerLinkVariants(args.count),
      variant(import.meta.url, "tellThroughput", 1, ...n),
      variant(import.meta.url, "tellThroughput", 2, ...n),
      variant(import.meta.url, "askLatency"),
      ...Object.keys(TASKS).flatMap((task) => [
        variant(import.meta.url, "troupeTasks", task, "tell", ...n),
        variant(import.meta.url, "troupeTasks", task, "askMany", ...n),
        variant(import.meta.url, "peerTasks", "piscina", task, ...n),
        variant(import.meta.url, "peerTasks", "tinypool", task, ...n),
      ]),
    ],
    args,
  );
  const peerFigures = Object.keys(TASKS).flatMap((task) => {
    const piscina = results.get(BENCH, `piscina ${task}`);
    const tinypool = results.get(BENCH, `tinypool ${task}`);
    return (["tell", "askMany"] as const).flatMap((mode) => {
      const troupe = results.get(BENCH, `troupe ${task} ${mode}`);
      return [figure(troupe, piscina), figure(troupe, tinypool)];
    });
  });
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
      ...peerFigures,
    ],
    args,
  );
}

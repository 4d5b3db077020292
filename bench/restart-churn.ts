/**
 * Restart churn soak: restarts one actor 2,000 times (default) while a producer keeps it busy, and reports
 * RSS and heap at the start and the end and their slope per restart (least squares over samples every 100
 * restarts), plus whether every message was handled. After each restart it waits for an ask that queues
 * behind the producer's messages, so every incarnation works through real load. Bun workers have leaked under spawn/terminate churn in
 * past releases, and restarts are our recovery path: a positive slope that does not flatten is a leak.
 *
 *   bun bench/restart-churn.ts [--count 2000] [--json]
 */
import { parseCommandLine } from "../src/command-line.ts";
import { createSystem } from "../src/index.ts";
import type { ScriptedMessage } from "../test/fixtures/scripted.actor.ts";
import { type Figure, figure, integer, printReport } from "./lib/report.ts";

const USAGE = "usage: bun bench/restart-churn.ts [--count 2000] [--json]";
// Not parseBenchArgs: one run, its slope over all the restarts, no --rounds.
const args = parseCommandLine(USAGE, {
  count: { type: "string", default: "2000" },
  json: { type: "boolean", default: false },
});
const restarts = integer(USAGE, "--count", args.count);
const MB = 1024 * 1024;
/** Restarts before the baseline sample, past the first allocations of the worker machinery. */
const WARM_UP = 20;

const system = createSystem();
const restarted: number[] = [];
let waiter: (() => void) | null = null;
system.events.on("restarted", () => {
  restarted.push(1);
  waiter?.();
});
const ref = await system.spawn<ScriptedMessage>(
  new URL("../test/fixtures/scripted.actor.ts", import.meta.url),
  {
    capacity: 256,
  },
);

let sent = 0;
let producing = true;
const producer = (async () => {
  while (producing) await ref.tell({ id: sent++ });
})();

const samples: Array<{ n: number; rss: number; heap: number }> = [];
const sample = (n: number) => {
  Bun.gc(true);
  const { rss, heapUsed } = process.memoryUsage();
  samples.push({ n, rss, heap: heapUsed });
};
for (let i = 0; i < WARM_UP; i++) await restartOnce();
sample(0);
const started = performance.now();
for (let i = 1; i <= restarts; i++) {
  await restartOnce();
  if (i % 100 === 0) {
    sample(i);
    process.stderr.write(`${i} restarts, rss ${(samples.at(-1)!.rss / MB).toFixed(1)} MB\n`);
  }
}
const seconds = (performance.now() - started) / 1000;
producing = false;
await producer;
// What the producer sent may still be queued: an ask drains it. The asks (one per restart, the warm-up's and
// this one) are handled messages too, not sent ones.
await ref.ask({ id: -1 });
const asks = WARM_UP + restarts + 1;
const handledBeforeStop = (ref.stats().instances[0]?.processed ?? 0) - asks;
await system.stop({ deadlineMs: 10_000 });

const first = samples[0]!;
const last = samples.at(-1)!;
const bench = "restart-churn";
const figures: Figure[] = [
  figure({ bench, metric: "restarts/s", value: restarts / seconds, unit: "restarts/s" }),
  figure({ bench, metric: "rss start", value: first.rss / MB, unit: "MB" }),
  figure(
    { bench, metric: "rss end", value: last.rss / MB, unit: "MB" },
    { bench, metric: "rss start", value: first.rss / MB, unit: "MB" },
  ),
  figure({ bench, metric: "heap start", value: first.heap / MB, unit: "MB" }),
  figure(
    { bench, metric: "heap end", value: last.heap / MB, unit: "MB" },
    { bench, metric: "heap start", value: first.heap / MB, unit: "MB" },
  ),
  figure({
    bench,
    metric: "rss slope",
    value: slope(samples.map((s) => [s.n, s.rss])),
    unit: "bytes/restart",
  }),
  figure({
    bench,
    metric: "heap slope",
    value: slope(samples.map((s) => [s.n, s.heap])),
    unit: "bytes/restart",
  }),
  figure(
    { bench, metric: "messages handled", value: handledBeforeStop, unit: "msgs" },
    { bench, metric: "messages sent", value: sent, unit: "msgs" },
  ),
];
printReport(figures, args);

async function restartOnce(): Promise<void> {
  const target = restarted.length + 1;
  const done = new Promise<void>((resolve) => {
    waiter = () => {
      if (restarted.length >= target) resolve();
    };
  });
  system.restart(ref.name);
  await done;
  // An ask queues behind everything the producer sent, so each incarnation works through real load.
  await ref.ask({ id: -1 });
}

function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

/**
 * `bun run start` until the scanner lands: a small system that shows the runtime at work: two actors
 * under a steady load, one of which crashes every few seconds and is restarted by the supervisor with
 * its in-flight messages redelivered. A progress line a second on stdout, lifecycle events on stderr.
 */
import { createSystem } from "../index.ts";
import type { Order } from "./tally.actor.ts";

export interface DemoOptions {
  /** Stop after this many seconds (0 = run until SIGINT / SIGTERM). */
  seconds: number;
  /** Messages per second sent to each actor. */
  rate: number;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const system = createSystem({ supervisor: { maxRestarts: 5, periodMs: 10_000 } });
  for (const event of ["crashed", "restarting", "restarted", "failed", "deadLettered"] as const) {
    system.events.on(event, (payload: object) =>
      console.error(`[${event}]`, JSON.stringify(payload, errorless)),
    );
  }
  const tally = await system.spawn<Order>(new URL("./tally.actor.ts", import.meta.url), {
    instances: 2,
    route: (order) => order.customer,
  });
  const flaky = await system.spawn<number>(new URL("./flaky.actor.ts", import.meta.url), {
    init: { crashEvery: options.rate * 3 },
  });

  let stopping = false;
  const done = Promise.withResolvers<void>();
  const stop = () => {
    if (stopping) return;
    stopping = true;
    done.resolve();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  if (options.seconds > 0) setTimeout(stop, options.seconds * 1000);

  const tick = 50;
  const producer = (async () => {
    let n = 0;
    while (!stopping) {
      const started = performance.now();
      for (let i = 0; i < (options.rate * tick) / 1000; i++, n++) {
        await tally.tell({ customer: `c${n % 997}`, cents: 100 + (n % 50) });
        await flaky.tell(n);
      }
      await Bun.sleep(Math.max(0, tick - (performance.now() - started)));
    }
  })();
  const progress = setInterval(() => {
    const line = system.stats().map(({ name, instances }) => {
      const sum = (f: (i: (typeof instances)[number]) => number) => instances.reduce((s, i) => s + f(i), 0);
      return `${name}: ${sum((i) => i.processed)} done, ${Math.round(sum((i) => i.rate["1s"]))}/s, ${sum((i) => i.restarts)} restarts`;
    });
    console.log(`${new Date().toISOString()}  ${line.join("  |  ")}  health=${system.health().status}`);
  }, 1000);

  await done.promise;
  await producer;
  clearInterval(progress);
  const result = await system.stop({ deadlineMs: 5000 });
  console.error(`[stopped] drained=${result.drained} undelivered=${result.undelivered}`);
}

function errorless(key: string, value: unknown): unknown {
  return key === "stack" ? undefined : value;
}

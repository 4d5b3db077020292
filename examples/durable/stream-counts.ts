/**
 * Per-key counters fed from a Redis stream that survive `kill -9`: the counts live in a durable table whose
 * checkpoints are written next to the stream, in one script with the acks of the entries they cover. A
 * process killed at any point loses nothing and counts nothing twice: the next one restores the last
 * checkpoint and replays the entries it did not cover. Runs until SIGTERM or SIGINT (then drains).
 *
 *   REDIS_URL=redis://127.0.0.1:6379 bun examples/durable/stream-counts.ts events
 */
import { createSystem } from "troupe";
import { Pump, RedisStreamBackend } from "troupe/streams";
import type { CountMessage } from "./counts.actor.ts";

const stream = process.argv[2] ?? "events";
const backend = new RedisStreamBackend(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const store = backend.stateStore({ anchor: stream });
const system = createSystem();
const counts = await system.spawn<CountMessage, number>(new URL("./counts.actor.ts", import.meta.url), {
  name: "counts",
  state: { store },
});
// `stateStore`: an entry is acked by the checkpoint that covers its count, not when it was handled.
const pump = new Pump(backend, counts, { stream, group: "counts", consumer: "counter", stateStore: store });
await pump.start();
console.log(`counting ${stream}`);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, async () => {
    await pump.stop();
    await system.stop();
    await backend.close();
    process.exit(0);
  });
}

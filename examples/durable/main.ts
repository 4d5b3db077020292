/**
 * Counters that survive their worker: the actor's table is checkpointed to a state store and restored
 * before a restarted worker handles anything, and the messages no checkpoint covered yet are handled
 * again, so every message counts exactly once. The store here lives in this process (it survives worker
 * crashes and restarts); a store on Redis keeps the state across the death of the process too.
 *
 *   bun examples/durable/main.ts
 */
import { createSystem, MemoryStateStore, type StateStore } from "troupe";
import type { CountMessage } from "./counts.actor.ts";

const COUNTS = new URL("./counts.actor.ts", import.meta.url);

export async function countWithACrash(
  keys: string[],
  store: StateStore = new MemoryStateStore(),
): Promise<Record<string, number>> {
  const system = createSystem();
  const counter = await system.spawn<CountMessage, number>(COUNTS, { name: "counts", state: { store } });
  const half = Math.floor(keys.length / 2);
  for (const key of keys.slice(0, half)) await counter.tell({ key });
  await counter.tell({ crash: true });
  for (const key of keys.slice(half)) await counter.tell({ key });
  // Stopping drains: a last checkpoint covers everything handled.
  await system.stop();

  // Another system (another process, with a store on Redis) starts from that checkpoint.
  const again = createSystem();
  const restored = await again.spawn<CountMessage, number>(COUNTS, { name: "counts", state: { store } });
  const counts: Record<string, number> = {};
  for (const key of new Set(keys)) counts[key] = await restored.query<number>("count", [key]);
  await again.stop();
  return counts;
}

if (import.meta.main) console.log(await countWithACrash(["a", "b", "a", "c", "a", "b"]));

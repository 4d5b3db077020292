/**
 * Run as a plain `bun` process by callbacks.test.ts: a user callback that throws (an event listener named by
 * the first argument, or `onDeadLetter`) while an actor crashes, restarts and dead-letters. What the
 * callback throws reaches the process as an uncaught exception (counted here); the runtime must go on as
 * if the callback had returned. Prints one JSON line with what happened.
 */
import { createSystem } from "../../src/index.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { collect, SCRIPTED, trips } from "./runtime.ts";

const which = process.argv[2] as string;
const uncaught: string[] = [];
process.on("uncaughtException", (error) => uncaught.push(error.message));
const boom = () => {
  throw new Error(`${which} listener broke`);
};
const system = createSystem({
  supervisor: { backoff: { minMs: 1, maxMs: 5 } },
  ...(which === "onDeadLetter" && { onDeadLetter: boom }),
});
if (which !== "onDeadLetter") system.events.on(which as "crashed", boom);
const restarted = collect(system, "restarted");
const ref = await system.spawn<ScriptedMessage, number>(SCRIPTED, {
  maxDeliveries: 1,
  init: { trips: trips(1) },
});
// A crash and its restart, then a message that fails for good (dead-lettered), then one that works.
await ref.tell({ id: 1, op: "exit" });
await restarted.atLeast(1);
await ref.tell({ id: 2, op: "throw-always" });
const reply = await ref.ask({ id: 3 }, { timeoutMs: 3000 });
const stopped = await Promise.race([system.stop().then(() => "stopped"), Bun.sleep(5000).then(() => "hung")]);
console.log(JSON.stringify({ reply, stopped, uncaught: [...new Set(uncaught)] }));
// The race's sleep would keep the process up for its 5 s.
process.exit(0);

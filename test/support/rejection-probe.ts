/**
 * Run as a plain `bun` process by crashes.test.ts: bun:test reroutes a worker's unhandled rejections to
 * the Worker's `error` event (the worker's own `unhandledRejection` hook never runs there), so the
 * rejection policies are exercised outside the test runner. Prints one JSON line with what happened.
 */
import { createSystem } from "../../src/index.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { collect, SCRIPTED, trips } from "./runtime.ts";

const policy = process.argv[2] === "log" ? "log" : "crash";
const system = createSystem({ supervisor: { backoff: { minMs: 10, maxMs: 20 } } });
const crashed = collect(system, "crashed");
const restarted = collect(system, "restarted");
const logged = collect(system, "rejectionLogged");
const ref = await system.spawn<ScriptedMessage, number>(SCRIPTED, {
  unhandledRejection: policy,
  init: { trips: trips(1) },
});
await ref.tell({ id: 1, op: "reject" });
if (policy === "log") await logged.atLeast(1);
else await restarted.atLeast(1);
const reply = await ref.ask({ id: 2 });
console.log(
  JSON.stringify({
    crashes: crashed.seen.map((e) => ({ reason: e.reason, message: e.error.message, code: e.error.code })),
    logged: logged.seen.map((e) => e.error.message),
    reply,
    lastError: ref.stats().instances[0]?.lastError?.message,
  }),
);
await system.stop();

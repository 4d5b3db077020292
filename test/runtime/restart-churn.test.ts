import { afterEach, expect, test } from "bun:test";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { engineOf } from "../../src/runtime/actor-ref.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { collect, SCRIPTED, sharedLog } from "../support/runtime.ts";

let system: ActorSystem;
afterEach(async () => {
  await system?.stop({ deadlineMs: 2000 });
});

test("restarting one actor 200 times under load loses nothing", async () => {
  system = createSystem();
  const restarted = collect(system, "restarted");
  const total = 40_000;
  const log = sharedLog(total * 4);
  const ref = await system.spawn<ScriptedMessage>(SCRIPTED, { capacity: 128, init: { log: log.buffer } });
  let sent = 0;
  const producer = (async () => {
    while (sent < total) await ref.tell({ id: sent++ });
  })();
  for (let i = 1; i <= 200; i++) {
    system.restart("scripted");
    await restarted.atLeast(i);
  }
  await producer;
  await engineOf(ref).instances[0]?.mailbox.drained();
  const handled = new Set(log.ids());
  expect(handled.size).toBe(total);
  expect(ref.stats().instances[0]?.restarts).toBe(200);
  expect(ref.stats().instances[0]?.processed).toBeGreaterThanOrEqual(total);
}, 60_000);

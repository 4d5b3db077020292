/**
 * The pump feeding real worker actors (the runtime's ActorRef engine as PumpTarget), on both backends:
 * entries are acked only after their outputs are written, crashes lose nothing, outputs stay unique.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { untilDrained } from "../../src/streams/drained.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { Pump } from "../../src/streams/pump.ts";
import type { PumpTarget } from "../../src/streams/pump-target.ts";
import type { CounterMessage } from "../fixtures/counter.actor.ts";
import type { EffectMessage } from "../fixtures/stream-effects.actor.ts";
import type { ContractHarness } from "./contract.ts";
import { memoryHarness, redisSuite } from "./harness.ts";

const EFFECTS_ACTOR = new URL("../fixtures/stream-effects.actor.ts", import.meta.url);
const COUNTER_ACTOR = new URL("../fixtures/counter.actor.ts", import.meta.url);

let system: ActorSystem | undefined;
let pump: Pump<EffectMessage, unknown> | undefined;
let harness: ContractHarness | undefined;
afterEach(async () => {
  await pump?.stop();
  await system?.stop({ deadlineMs: 1000 });
  await harness?.cleanup();
  pump = undefined;
});

async function fill(backend: StreamBackend, stream: string, count: number, poison: Set<number>) {
  for (let start = 0; start < count; start += 1000) {
    const batch = [];
    for (let n = start; n < Math.min(count, start + 1000); n++) {
      batch.push(defaultCodec.encode(poison.has(n) ? { n, poison: true } : { n }));
    }
    await backend.appendBatch(stream, batch);
  }
}

async function zeroLossUnderCrashes(create: () => Promise<ContractHarness>) {
  harness = await create();
  const { backend, prefix } = harness;
  const stream = `${prefix}:tx`;
  const effects = `${prefix}:effects`;
  const total = 50_000;
  const poison = new Set([77, 12_345, 40_001]);
  await fill(backend, stream, total, poison);

  system = createSystem({
    supervisor: { maxRestarts: 1000, periodMs: 1000, backoff: { minMs: 1, maxMs: 10 } },
  });
  let crashes = 0;
  system.events.on("crashed", () => crashes++);
  const ref = await system.spawn<EffectMessage>(EFFECTS_ACTOR, {
    instances: 2,
    capacity: 512,
    route: (m) => m.n,
    maxDeliveries: 3,
    init: { crashEvery: 2000, effects },
  });
  const target: PumpTarget<EffectMessage, unknown> = ref;
  pump = new Pump(backend, target, {
    stream,
    group: "g",
    consumer: "c1",
    maxDeliveries: 5,
    sweepIntervalMs: 0,
  });
  // Done when the group has delivered everything and holds nothing pending, checked after every ack and
  // every dead letter (the last thing a pump does may be dead-lettering a poison entry).
  const drained = untilDrained(backend, [pump]);
  await pump.start();
  await drained;

  const written = await backend.range(effects, { count: total * 2 });
  const ns = written.map((entry) => (defaultCodec.decode(entry.fields!) as { n: number }).n);
  const letters = await pump.deadLetters.list({ stream }, { count: 100 });
  expect(ns.length).toBe(total - poison.size);
  expect(new Set(ns).size).toBe(total - poison.size);
  expect(ns.some((n) => poison.has(n))).toBe(false);
  expect((await backend.groupInfo(stream, "g"))?.pending).toBe(0);
  // Only the poison entries, each after failing maxDeliveries (3) times in the runtime: never a bystander
  // of the random crashes (regression: redeliveries after other messages' crashes used to count).
  expect(
    letters.letters.map((l) => (defaultCodec.decode(l.fields!) as { n: number }).n).sort((a, b) => a - b),
  ).toEqual([...poison]);
  for (const letter of letters.letters) {
    expect(letter.reason).toBe("handler-failed");
    expect(letter.error).toMatch(/^failed 3 deliveries; last error: poison \d+$/);
  }
  expect(crashes).toBeGreaterThan(5);
}

test("an output with a global dedup id is written once whichever entry produces it", async () => {
  harness = await memoryHarness();
  const { backend, prefix } = harness;
  const stream = `${prefix}:tx`;
  const effects = `${prefix}:effects`;
  const messages = [{ n: 1, global: "alert-a" }, { n: 2, global: "alert-a" }, { n: 3 }, { n: 3 }];
  await backend.appendBatch(
    stream,
    messages.map((m) => defaultCodec.encode(m)),
  );
  system = createSystem();
  const ref = await system.spawn<EffectMessage>(EFFECTS_ACTOR, { init: { crashEvery: 0, effects } });
  pump = new Pump(backend, ref, { stream, group: "g", consumer: "c1", sweepIntervalMs: 0 });
  const done = Promise.withResolvers<void>();
  let acked = 0;
  pump.on("acked", ({ ids }) => {
    acked += ids.length;
    if (acked === messages.length) done.resolve();
  });
  await pump.start();
  await done.promise;
  const written = await backend.range(effects, { count: 10 });
  // Two entries share the global id: one write. Two entries with entry-scoped ids: two writes.
  expect(written.map((e) => (defaultCodec.decode(e.fields!) as { n: number }).n)).toEqual([1, 3, 3]);
});

describe("memory backend", () => {
  test(
    "zero loss with real actors crashing about every 2,000 messages",
    () => zeroLossUnderCrashes(memoryHarness),
    60_000,
  );
});

describe("redis backend", () => {
  const { create } = redisSuite();
  test(
    "zero loss with real actors crashing about every 2,000 messages",
    () => zeroLossUnderCrashes(create),
    60_000,
  );
});

test("a durable actor fenced while its pump stops gives its entries back, and the stop ends then", async () => {
  harness = await memoryHarness();
  const { backend, prefix } = harness;
  const stream = `${prefix}:tx`;
  const keys = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 10}`, id: i + 1 }));
  await backend.appendBatch(
    stream,
    keys.map((message) => defaultCodec.encode(message)),
  );
  const store = backend.stateStore({ anchor: stream });
  system = createSystem();
  // No checkpoint before the stop's own: everything handled stays uncovered.
  const ref = await system.spawn<CounterMessage>(COUNTER_ACTOR, {
    name: "counter",
    state: { store, checkpointEvery: 1_000_000, checkpointIntervalMs: 600_000 },
  });
  const counter = new Pump<CounterMessage, unknown>(
    backend,
    ref as unknown as PumpTarget<CounterMessage, unknown>,
    {
      stream,
      group: "g",
      consumer: "me",
      blockMs: 50,
      sweepIntervalMs: 0,
      stopTimeoutMs: 600_000,
      stateStore: store,
    },
  );
  pump = counter as unknown as Pump<EffectMessage, unknown>;
  await counter.start();
  // Queued behind every entry: once answered, all of them are handled.
  await ref.ask({ key: "k0", id: 0, op: "get" });
  // Another incarnation takes the state over: the stop's checkpoint is refused and the instance fenced, with
  // every entry it handled uncovered; they go back to the pump, pending in the stream.
  await store.restore({ actor: "counter", instance: 0 });
  // Paused, the pump's stop goes straight to waiting for what it holds.
  await counter.pause();
  const stopped = counter.stop();
  await ref.stop({ deadlineMs: 600_000 });
  await stopped;
  expect(counter.stats.released).toBe(keys.length);
  expect(await backend.groupInfo(stream, "g")).toMatchObject({ pending: keys.length });
}, 10_000);

/**
 * Stream components on an injected clock: the claim sweep and the producer's pause run on the clock they
 * are given, so a test moves minutes of their time in microseconds. The defaults (a sweep every 10 s,
 * claims after 30 s idle, a paused producer re-reading the pressure after 60 s here) would outlast the
 * test timeout on real time.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import type { Output } from "../../src/streams/outputs.ts";
import { type Pressure, Producer } from "../../src/streams/producer.ts";
import { Pump } from "../../src/streams/pump.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { TestTarget, until } from "./test-target.ts";

interface Msg {
  n: number;
}

const stream = "clocked:tx";
let clock: ManualClock;
let backend: MemoryStreamBackend;

afterEach(async () => {
  await backend.close();
});

async function open(entries: number): Promise<void> {
  clock = new ManualClock();
  backend = new MemoryStreamBackend({ clock });
  await backend.ensureGroup(stream, "g");
  for (let n = 0; n < entries; n++) await backend.append(stream, defaultCodec.encode({ n }));
}

describe("a pump's claim sweep on an injected clock", () => {
  test("claims another consumer's entries at the first sweep after claimIdleMs, not before", async () => {
    await open(3);
    // A consumer that read the entries and died: they stay pending, owned by it.
    expect(await backend.readNew(stream, "g", "dead", { count: 10 })).toHaveLength(3);
    const handled: number[] = [];
    const target = new TestTarget<Msg, Output[]>({
      instances: 1,
      window: 8,
      key: () => "k",
      handler: async (m) => {
        handled.push(m.n);
        return [];
      },
    });
    // Default sweep: every 10 s, claiming entries idle for 30 s. The probe is off: one synchronous advance
    // of seconds would fire its stall timer before its answer, which needs a turn of the event loop.
    const pump = new Pump<Msg, Output[]>(backend, target, {
      stream,
      group: "g",
      consumer: "live",
      clock,
      healthCheckMs: 0,
    });
    const replayed = new Promise((resolve) => pump.on("replayed", resolve));
    await pump.start();
    await replayed;

    // Sweeps at 10 s and 20 s: the entries have not idled long enough.
    clock.advance(20_000);
    await pump.sweep(); // the sweep the clock started (one in progress is shared, not run twice)
    expect(pump.stats.claimed).toBe(0);

    // The sweep at 30 s claims them: nothing but the clock starts it.
    const claimed = new Promise<{ count: number }>((resolve) => pump.on("claimed", resolve));
    clock.advance(10_000);
    expect((await claimed).count).toBe(3);
    await until(
      (check) => pump.on("acked", check),
      () => pump.stats.acked === 3,
    );
    expect(handled.sort()).toEqual([0, 1, 2]);
    expect(await backend.pending(stream, "g", { count: 10 })).toEqual([]);

    // The read loop is parked in a blocking read that times out on the same clock.
    const stopped = pump.stop();
    clock.advance(pump.options.blockMs);
    await stopped;
  });
});

describe("a producer's pause on an injected clock", () => {
  test("a paused producer re-reads the pressure when its clock says, then resumes", async () => {
    await open(10);
    const producer = new Producer<Msg>(backend, {
      stream,
      groups: ["g"],
      lagCapacity: 10,
      pauseCheckMs: 60_000,
      clock,
    });
    const paused = new Promise<Pressure>((resolve) => producer.on("paused", resolve));
    const resumed = new Promise<Pressure>((resolve) => producer.on("resumed", resolve));
    const sent = producer.send({ n: 10 });
    expect((await paused).level).toBe("critical");

    // The consumers catch up; the producer only learns it at its next check, 60 s later on its clock.
    const entries = await backend.readNew(stream, "g", "c", { count: 10 });
    expect(
      await backend.ack(
        stream,
        "g",
        entries.map((e) => e.id),
      ),
    ).toBe(10);
    expect(producer.pressure.level).toBe("critical");

    clock.advance(60_000);
    expect((await resumed).level).toBe("normal");
    const id = await sent;
    expect((await backend.range(stream, { count: 100 })).at(-1)?.id).toBe(id);
  });
});

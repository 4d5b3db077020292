/**
 * `untilDrained` over a group another process consumes: no pump here wakes the wait, so it ends at the
 * next recheck after that process has acked everything (a `bun run start --replay` whose analyzers are
 * shared with another process, scanner/app.ts).
 */
import { expect, test } from "bun:test";
import { InvalidOptionError } from "../../src/errors.ts";
import { untilDrained } from "../../src/streams/drained.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { ManualClock } from "../support/manual-clock.ts";

test("a group consumed elsewhere: drained at the first recheck after its last ack, not before", async () => {
  const backend = new MemoryStreamBackend();
  const clock = new ManualClock();
  await backend.ensureGroup("s", "g", "0");
  await backend.appendBatch("s", [{ n: "1" }, { n: "2" }]);
  let done = false;
  const drained = untilDrained(backend, [{ options: { stream: "s", group: "g" } }], {
    recheckMs: 100,
    clock,
  }).then(() => {
    done = true;
  });
  // "Another process": reads, and acks one entry only.
  const entries = await backend.readNew("s", "g", "other", { count: 10 });
  await backend.ack("s", "g", [entries[0]!.id]);
  clock.advance(100);
  await Bun.sleep(0);
  expect(done).toBe(false);
  await backend.ack("s", "g", [entries[1]!.id]);
  expect(done).toBe(false);
  clock.advance(100);
  await drained;
  expect(done).toBe(true);
});

test("recheckMs must be a positive integer", () => {
  const backend = new MemoryStreamBackend();
  expect(() => untilDrained(backend, [], { recheckMs: 0 })).toThrow(InvalidOptionError);
  expect(() => untilDrained(backend, [], { recheckMs: 1.5 })).toThrow(
    /recheckMs: must be a positive integer/,
  );
});

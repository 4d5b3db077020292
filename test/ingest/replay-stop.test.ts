/**
 * A replay stops when asked, in every wait it can be in: the producer paused by backpressure (the
 * analyzers are down, so it would wait for as long as they are), or the recorded pace sleeping through a
 * long gap. What was appended stays, and the summary says up to which line.
 */
import { expect, test } from "bun:test";
import { generate } from "../../src/ingest/generator.ts";
import { TxStreamWriter } from "../../src/ingest/stream-writer.ts";
import { topology } from "../../src/scanner/topology.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";

const lines = (events: readonly unknown[]) =>
  new Blob([events.map((e) => JSON.stringify(e)).join("\n")]).stream();

test("paused by backpressure with no consumer: an abort ends the replay at once, keeping what was written", async () => {
  const backend = new MemoryStreamBackend();
  const names = topology("stop:");
  // The analyzers' groups exist and nobody reads them: their lag only grows.
  for (const { group } of names.analyzers) await backend.ensureGroup(names.tx, group);
  const writer = new TxStreamWriter(backend, names, { lagCapacity: 1000, checkIntervalMs: 0 });
  const paused = new Promise<void>((resolve) => writer.producer.on("paused", () => resolve()));
  const events = [...generate({ seed: 3, maxEvents: 5000 }).events()];
  const stop = new AbortController();
  const replay = writer.replay(lines(events), "big.jsonl", { signal: stop.signal });
  await paused;
  stop.abort();
  const summary = await replay;

  const written = await backend.length(names.tx);
  expect(written).toBeGreaterThanOrEqual(950);
  expect(written).toBeLessThan(events.length);
  expect(summary).toMatchObject({ stopped: true, events: written, rejected: 0, lastLineWritten: written });
  expect(summary.lines).toBeGreaterThanOrEqual(written);
  expect(summary.lastTs).toBe(events[written - 1]?.ts as number);
});

test("at the recorded pace, an abort ends the sleep through a long gap", async () => {
  const backend = new MemoryStreamBackend();
  const names = topology("pace:");
  const writer = new TxStreamWriter(backend, names);
  const [first, second] = [...generate({ seed: 3, maxEvents: 2 }).events()];
  // An hour of event time between the two: at speed 1, an hour's sleep before the second is written.
  const chunks = [
    `${JSON.stringify(first)}\n`,
    JSON.stringify({ ...second, ts: (first?.ts as number) + 3_600_000 }),
  ];
  let secondAsked: () => void = () => {};
  const askedForSecond = new Promise<void>((resolve) => {
    secondAsked = resolve;
  });
  // Read on demand: the second line is asked for once the first was written.
  const source = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (chunks.length === 1) secondAsked();
        const chunk = chunks.shift();
        if (chunk === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(chunk));
      },
    },
    { highWaterMark: 0 },
  );
  const stop = new AbortController();
  const replay = writer.replay(source, "gap.jsonl", { pace: "recorded", signal: stop.signal });
  await askedForSecond;
  stop.abort();
  expect(await replay).toMatchObject({ stopped: true, lines: 1, events: 1, lastLineWritten: 1 });
  expect(await backend.length(names.tx)).toBe(1);
});

test("a replay's closing tick is written but not counted as an event", async () => {
  const backend = new MemoryStreamBackend();
  const writer = new TxStreamWriter(backend, topology("tick:"));
  const events = [...generate({ seed: 3, maxEvents: 20 }).events()];
  const summary = await writer.replay(lines(events), "small.jsonl");
  await writer.tick((events.at(-1)?.ts as number) + 1);
  expect(summary.events).toBe(20);
  expect(await backend.length("tick:tx")).toBe(21);
  // What the progress line shows as "in".
  expect(writer.stats.sent).toBe(20);
});

test("asked to go on after a line past the source's end, a replay marks the end, so lines added later go in", async () => {
  const backend = new MemoryStreamBackend();
  const names = topology("past-end:");
  const writer = new TxStreamWriter(backend, names);
  const events = [...generate({ seed: 4, maxEvents: 200 }).events()];
  const first = await writer.replay(lines(events.slice(0, 100)), "grows.jsonl", {
    after: 150,
    mark: "grows",
  });
  expect(first).toMatchObject({ lines: 0, events: 0, lastLineWritten: 100 });
  expect(await writer.replayMark("grows")).toEqual({ line: 100, ts: null });
  // The file grew: the next run goes on after line 100, where the last one marked.
  const second = await writer.replay(lines(events), "grows.jsonl", { after: 100, mark: "grows" });
  expect(second).toMatchObject({ events: 100, lastLineWritten: 200 });
  expect(await backend.length(names.tx)).toBe(100);
});

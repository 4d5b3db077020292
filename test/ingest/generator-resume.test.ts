/**
 * The live generator is a deterministic source: started again on a tx stream an earlier generator of the
 * same seed wrote, it goes on after that one's mark instead of writing the seed's first hour again under the
 * same event ids (a restarted `--role ingest` on Redis wrote 25,400 ids twice in 9 s before the mark).
 */
import { expect, test } from "bun:test";
import { GENERATOR_DEFAULTS, generate } from "../../src/ingest/generator.ts";
import { TxStreamWriter } from "../../src/ingest/stream-writer.ts";
import { topology } from "../../src/scanner/topology.ts";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";

const SEED = 7;
const HOUR_MS = 3_600_000;
const RATE = 20_000;

/** The events of the seed's hour `hour`, as the live generator makes them. */
function hourOf(hour: number, count: number): string[] {
  const ids: string[] = [];
  const workload = generate({
    seed: SEED * 100_003 + hour,
    durationMs: HOUR_MS,
    t0: GENERATOR_DEFAULTS.t0 + hour * HOUR_MS,
  });
  for (const event of workload.events()) {
    if (ids.length === count) break;
    ids.push(event.id);
  }
  return ids;
}

async function idsIn(backend: StreamBackend, stream: string): Promise<string[]> {
  const entries = await backend.range(stream, { count: 10_000_000 });
  return entries.map((entry) => (JSON.parse(String(entry.fields?.json)) as { id: string }).id);
}

/** A generator run of a fresh writer (as a restarted process has), stopped once the stream holds `until`. */
async function generateUntil(backend: StreamBackend, until: number): Promise<void> {
  const names = topology("gen:");
  const writer = new TxStreamWriter(backend, names);
  const stop = new AbortController();
  const after = await writer.generatorMark(SEED);
  const running = writer.generate({ seed: SEED, rate: RATE, signal: stop.signal, after });
  // The generator writes for as long as it runs: watched through the stream it writes, as an operator would.
  while ((await backend.length(names.tx)) < until) await Bun.sleep(2);
  stop.abort();
  await running;
}

test("a generator started again goes on after the last one's mark: each event once, in the seed's order", async () => {
  const backend = new MemoryStreamBackend();
  const names = topology("gen:");
  await generateUntil(backend, 12_000);
  const first = await idsIn(backend, names.tx);
  expect(first.length).toBeGreaterThanOrEqual(12_000);
  await generateUntil(backend, first.length + 12_000);
  const ids = await idsIn(backend, names.tx);
  expect(ids.length).toBeGreaterThanOrEqual(first.length + 12_000);
  expect(ids).toEqual(hourOf(0, ids.length));
  const mark = await new TxStreamWriter(backend, names).generatorMark(SEED);
  expect(mark).toEqual({ hour: 0, events: ids.length });
});

test("a batch written but not marked (a kill between the two) is not written again", async () => {
  const backend = new MemoryStreamBackend();
  const names = topology("gen:");
  await generateUntil(backend, 8_000);
  const written = (await idsIn(backend, names.tx)).length;
  // Marked 5,000 events (five batches) behind what it wrote: the next run generates those again.
  await backend.writeMark(
    names.tx,
    `generator:${SEED}`,
    JSON.stringify({ hour: 0, events: written - 5_000 }),
  );
  await generateUntil(backend, written + 10_000);
  const ids = await idsIn(backend, names.tx);
  expect(ids).toEqual(hourOf(0, ids.length));
});

test("a mark in a later hour goes on in that hour's workload, which starts where the hour before ended", async () => {
  const backend = new MemoryStreamBackend();
  const names = topology("gen:");
  await backend.writeMark(names.tx, `generator:${SEED}`, JSON.stringify({ hour: 2, events: 100 }));
  await generateUntil(backend, 1_000);
  const ids = await idsIn(backend, names.tx);
  expect(ids).toEqual(hourOf(2, 100 + ids.length).slice(100));
  // The hours chain as they always did: hour 2 begins where a two-hour workload of hour 1's start ends.
  const hour1 = generate({ seed: 1, durationMs: HOUR_MS, t0: GENERATOR_DEFAULTS.t0 + HOUR_MS });
  expect(hour1.end).toBe(GENERATOR_DEFAULTS.t0 + 2 * HOUR_MS);
});

test("a mark that is not an hour and a count is refused, naming it", async () => {
  const backend = new MemoryStreamBackend();
  const names = topology("gen:");
  await backend.writeMark(names.tx, `generator:${SEED}`, JSON.stringify({ hour: -1, events: 3 }));
  await expect(new TxStreamWriter(backend, names).generatorMark(SEED)).rejects.toThrow(
    'the generator mark generator:7 in gen:tx:marks holds {"hour":-1,"events":3}, not an hour and a count',
  );
});

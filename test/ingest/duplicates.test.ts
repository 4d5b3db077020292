/**
 * An event delivered twice (the same id) goes into the tx stream once: the detectors count what they see,
 * and a bundle's buys seen twice read as twice the bundle (a spec test found a 6% bundle alerting as 12%).
 */
import { expect, test } from "bun:test";
import { generate } from "../../src/ingest/generator.ts";
import { RecentIds } from "../../src/ingest/recent-ids.ts";
import { TxStreamWriter } from "../../src/ingest/stream-writer.ts";
import { replaySummary } from "../../src/scanner/replay-summary.ts";
import { topology } from "../../src/scanner/topology.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";

const lines = (events: readonly unknown[]) =>
  new Blob([events.map((e) => JSON.stringify(e)).join("\n")]).stream();

test("a recording with every line twice writes each event once, in order, and says how many it skipped", async () => {
  const events = [...generate({ seed: 5, maxEvents: 300 }).events()];
  const doubled = events.flatMap((e) => [e, e]);
  const backend = new MemoryStreamBackend();
  const names = topology("dup:");
  const writer = new TxStreamWriter(backend, names);
  const summary = await writer.replay(lines(doubled), "doubled.jsonl");
  expect(summary).toMatchObject({ lines: 600, events: 300, duplicates: 300, rejected: 0 });
  const written = await backend.range(names.tx, { count: 1_000 });
  expect(written.map((entry) => (JSON.parse(String(entry.fields?.json)) as { id: string }).id)).toEqual(
    events.map((e) => e.id),
  );
  expect(writer.stats).toMatchObject({ sent: 300, duplicates: 300 });
  const line = replaySummary("doubled.jsonl", summary, {
    topology: names,
    alerts: null,
    analyzerDeadLetters: 0,
  });
  expect(line).toContain("300 events in, 0 rejected, 300 duplicates skipped (an id written already)");
});

test("ids are remembered for a window of event time behind the newest event, and up to a count", () => {
  const recent = new RecentIds({ windowMs: 1_000, maxIds: 3 });
  expect(recent.admit("a", 0)).toBe(true);
  expect(recent.admit("a", 10)).toBe(false);
  expect(recent.admit("b", 1_000)).toBe(true);
  // "a" (ts 0) is now 1,001 ms behind the newest event: forgotten.
  expect(recent.admit("c", 1_001)).toBe(true);
  expect(recent.admit("a", 1_002)).toBe(true);
  expect(recent.admit("b", 1_003)).toBe(false);
  // A fourth id within the window: the oldest ("b") goes.
  expect(recent.admit("d", 1_004)).toBe(true);
  expect(recent.admit("b", 1_005)).toBe(true);
  expect(recent.admit("d", 1_006)).toBe(false);
});

test("a line valid but without an event (a PumpPortal migrate) is counted, so the summary adds up", async () => {
  const backend = new MemoryStreamBackend();
  const names = topology("empty:");
  const writer = new TxStreamWriter(backend, names);
  const lines = [
    { signature: "s1", mint: "m", txType: "migrate", pool: "pump" },
    { signature: "s2", mint: "m", txType: "BUY" },
  ];
  const summary = await writer.replay(
    new Blob([lines.map((l) => JSON.stringify(l)).join("\n")]).stream(),
    "pp.jsonl",
  );
  expect(summary).toMatchObject({ lines: 2, events: 0, empty: 1, rejected: 1 });
  const line = replaySummary("pp.jsonl", summary, { topology: names, alerts: null, analyzerDeadLetters: 0 });
  expect(line).toContain("1 line without an event (a migrate, a transaction with none)");
});

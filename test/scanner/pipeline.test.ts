/**
 * The scanner end to end on the in-memory backend: ingest → tx stream → three analyzer actors (real
 * workers) → alerts stream, with malformed input dead-lettered and redeliveries writing no second alert.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import type { Alert } from "../../src/detection/alert.ts";
import { ingestCodec, VALIDATED_FIELD } from "../../src/detection/tx-entry.ts";
import { InvalidOptionError } from "../../src/errors.ts";
import { createSystem } from "../../src/index.ts";
import { replayJsonl } from "../../src/ingest/jsonl.ts";
import { TxStreamWriter } from "../../src/ingest/stream-writer.ts";
import { type RunningAnalyzers, startAnalyzers } from "../../src/scanner/analyzers.ts";
import { type Topology, topology } from "../../src/scanner/topology.ts";
import { DeadLetters } from "../../src/streams/dead-letters.ts";
import { untilDrained } from "../../src/streams/drained.ts";
import { defaultCodec, jsonCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";

// Each test runs the three analyzers in real workers: ~2.5 s here, too near bun's 5 s on a loaded box.
setDefaultTimeout(30_000);

const FIXTURE = new URL("../fixtures/pumpportal/sample.jsonl", import.meta.url);

const backend = new MemoryStreamBackend();
let system = createSystem();
let running: RunningAnalyzers | undefined;
afterEach(async () => {
  await running?.stop();
  await system.stop();
  system = createSystem();
});

async function start(names: Topology) {
  running = await startAnalyzers({
    system,
    backend,
    topology: names,
    consumer: "test",
    claimIdleMs: 30_000,
    maxDeliveries: 5,
    pump: { sweepIntervalMs: 0, blockMs: 50 },
  });
  return running;
}

function drained(analyzers: RunningAnalyzers) {
  return untilDrained(backend, analyzers.pumps.values());
}

async function alertsIn(names: Topology): Promise<Alert[]> {
  const entries = await backend.range(names.alerts, { count: 1000 });
  return entries.map((entry) => defaultCodec.decode(entry.fields!) as Alert);
}

test("a PumpPortal-shaped recording through the full pipeline raises the expected alerts", async () => {
  const names = topology(`t${crypto.randomUUID()}:`);
  const analyzers = await start(names);
  const ingest = new TxStreamWriter(backend, names);
  const { lastTs } = await ingest.replay(Bun.file(FIXTURE).stream(), "sample.jsonl");
  await ingest.tick((lastTs as number) + 60_000);
  await drained(analyzers);

  const alerts = await alertsIn(names);
  expect(alerts.map((a) => [a.detector, a.severity, a.timing]).sort()).toEqual([
    ["dev_dump", "high", "approx"],
    ["fresh_sniper", "med", "approx"],
    ["launch_bundle", "med", "approx"],
  ]);
  // Old-format trades had no solAmount: it was recovered from the curve before the events were written.
  const trades = (await backend.range(names.tx, { count: 1000 }))
    .map(
      (entry) => defaultCodec.decode(entry.fields!) as { kind: string; sol?: number; solDerived?: boolean },
    )
    .filter((event) => event.kind === "trade");
  expect(trades.filter((t) => t.solDerived).length).toBe(9);
  expect(trades.every((t) => (t.sol ?? 0) > 0)).toBe(true);
  expect(analyzers.alertCounts.get("fresh_sniper")).toBe(1);

  // Every entry delivered again to fresh actors (new groups, and new actor names: durable state belongs to
  // an actor's name on its stream, like Kafka Streams' application id): the same alerts are derived and
  // written nowhere twice, since their ids are deterministic and deduplicated across the stream.
  await analyzers.stop();
  const again: Topology = {
    ...names,
    analyzers: names.analyzers.map((a) => ({ ...a, actor: `${a.actor}-again`, group: `${a.group}-again` })),
    findingsGroup: `${names.findingsGroup}-again`,
    findingsActor: `${names.findingsActor}-again`,
  };
  const second = await start(again);
  await drained(second);
  expect(second.alertCounts.get("fresh_sniper")).toBe(1);
  expect((await alertsIn(names)).length).toBe(3);
});

test("malformed events end in the dead-letter stream with their reason; the pipeline keeps running", async () => {
  const names = topology(`t${crypto.randomUUID()}:`);
  const analyzers = await start(names);
  const ingest = new TxStreamWriter(backend, names);
  const lines = [
    "{not json",
    JSON.stringify({
      v: 1,
      kind: "burn",
      id: "x:0",
      signature: "x",
      ix: 0,
      slot: 1,
      ts: 1,
      tsSrc: "sim",
      src: "sim",
    }),
    (await Bun.file(FIXTURE).text()).split("\n")[0],
  ];
  await ingest.replay(new Blob([lines.join("\n")]).stream(), "bad.jsonl");
  // Written by another tool straight into the stream: an unsafe integer, caught by the consumers.
  await backend.append(names.tx, defaultCodec.encode({ v: 1, kind: "transfer", amount: 2 ** 60 }));
  await drained(analyzers);

  const letters = (await new DeadLetters(backend, names.txDeadLetters).list({}, { count: 100 })).letters;
  const byGroup = (group: string) => letters.filter((l) => l.group === group).map((l) => [l.reason, l.error]);
  expect(byGroup("ingest")).toEqual([
    ["malformed", expect.stringMatching(/^bad_json: /)],
    ["malformed", expect.stringMatching(/^unknown_kind/)],
  ]);
  // Rejected in the analyzer's worker, where tx entries are decoded: at once, never redelivered.
  for (const { group } of names.analyzers) {
    expect(byGroup(group)).toEqual([
      ["rejected", expect.stringMatching(/^(missing_field|unsafe_integer|wrong_type)/)],
    ]);
  }
  expect(system.health().status).toBe("ok");
  expect(ingest.stats.rejected).toBe(2);
});

test("the analyzers only parse the entries Ingest marked as validated; any other entry they validate", async () => {
  const names = topology(`t${crypto.randomUUID()}:`);
  const analyzers = await start(names);
  const [line] = (await Bun.file(FIXTURE).text()).split("\n");
  const [event] = (await Array.fromAsync(replayJsonl(new Blob([line!]).stream()))).flatMap((r) =>
    r.ok ? r.events : [],
  );
  // Outside the schema (decimals ≤ 18) but harmless to the analyzers.
  const transfer = { ...event, kind: "transfer", asset: "SOL", from: "a", to: "b", amount: 1, decimals: 19 };
  // Written by another tool as Ingest would, without the mark: validated in the workers.
  await backend.append(names.tx, jsonCodec.encode(transfer));
  // With the mark, the tool takes on Ingest's validation: parsed, not validated again.
  await backend.append(names.tx, ingestCodec.encode(transfer));
  await backend.append(names.tx, { json: "{not json", [VALIDATED_FIELD]: "ingest" });
  await drained(analyzers);

  const letters = (await new DeadLetters(backend, names.txDeadLetters).list({}, { count: 100 })).letters;
  for (const { group } of names.analyzers) {
    expect(letters.filter((l) => l.group === group).map((l) => [l.reason, l.error])).toEqual([
      ["rejected", expect.stringMatching(/^out_of_range decimals/)],
      ["rejected", expect.stringMatching(/^bad_json: /)],
    ]);
  }
  expect(system.health().status).toBe("ok");
});

test("a topology whose findings actor is none of its analyzers is refused before anything starts", async () => {
  const names = { ...topology(`t${crypto.randomUUID()}:`), findingsActor: "nobody" };
  const refused = await start(names).catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(InvalidOptionError);
  expect((refused as InvalidOptionError).option).toBe("topology.findingsActor");
  expect(system.actors).toEqual([]);
});

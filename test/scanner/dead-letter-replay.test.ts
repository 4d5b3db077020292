/**
 * Every dead letter the scanner writes, replayed through the control API: it either goes back to the
 * stream its group reads, for that group, or the replay refuses and keeps it. Never both lost and reported replayed:
 * a malformed line of a `--replay` file used to be appended to a stream named after the file, which
 * nothing reads, and deleted.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import {
  type ControlApi,
  createControlApi,
  createStreamsSource,
  type DeadLetterView,
} from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { TxStreamWriter } from "../../src/ingest/stream-writer.ts";
import { type RunningAnalyzers, startAnalyzers } from "../../src/scanner/analyzers.ts";
import { type Topology, topology } from "../../src/scanner/topology.ts";
import { untilDrained } from "../../src/streams/drained.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { call, failure, TOKEN } from "../http/support.ts";

const FILE = "recordings/capture.jsonl";

let system: ActorSystem;
let backend: MemoryStreamBackend;
let names: Topology;
let analyzers: RunningAnalyzers;
let api: ControlApi;

const drained = () => untilDrained(backend, analyzers.pumps.values());
const letters = async () =>
  (await call<{ entries: DeadLetterView[] }>(api, "GET", "/dead-letters?count=500")).body.entries;

beforeAll(async () => {
  system = createSystem();
  backend = new MemoryStreamBackend();
  names = topology(`dlq-${crypto.randomUUID()}:`);
  analyzers = await startAnalyzers({
    system,
    backend,
    topology: names,
    consumer: "test",
    claimIdleMs: 30_000,
    maxDeliveries: 2,
    pump: { sweepIntervalMs: 0, blockMs: 50 },
  });
  // A malformed line of a recording: rejected by ingest before it is a stream entry.
  await new TxStreamWriter(backend, names).replay(new Blob(["{not json\n"]).stream(), FILE);
  // Written by another tool straight into the stream: each analyzer group rejects it in its worker.
  await backend.append(names.tx, defaultCodec.encode({ v: 1, kind: "transfer", amount: 2 ** 60 }));
  await drained();
  api = createControlApi({
    system,
    token: TOKEN,
    streams: createStreamsSource({
      backend,
      pumps: [...analyzers.pumps.values()],
      streams: [names.tx, names.alerts],
    }),
  });
});
afterAll(async () => {
  api.close();
  await analyzers.stop();
  await system.stop();
});

test("a line rejected by ingest is kept and refused with the reason, one at a time and in bulk", async () => {
  const ingest = (await letters()).find((l) => l.group === "ingest") as DeadLetterView;
  expect(ingest).toMatchObject({ source: FILE, reason: "malformed", replayable: false });
  // Kept to be read: the line as it was.
  expect(ingest.preview).toBe(JSON.stringify({ raw: "{not json" }));
  const refused = await call(api, "POST", `/dead-letters/${encodeURIComponent(ingest.id)}/replay`, {
    token: true,
  });
  expect(refused).toMatchObject({
    status: 409,
    body: failure(
      "ERR_NOT_REPLAYABLE",
      `dead letter ${ingest.id} cannot be replayed (its entry was deleted while pending, or it is input rejected before it reached a stream): it is kept; delete it once dealt with`,
    ),
  });
  const bulk = await call(api, "POST", "/dead-letters/replay", {
    token: true,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ group: "ingest" }),
  });
  expect(bulk).toMatchObject({ status: 200, body: { replayed: 0 } });
  expect((await letters()).map((l) => l.id)).toContain(ingest.id);
  // Nothing was written under the file's name.
  expect(await backend.length(FILE)).toBe(0);
});

test("every other record goes back to the stream its groups read, where it is handled again", async () => {
  const pumpLetters = (await letters()).filter((l) => l.group !== "ingest");
  expect(pumpLetters.map((l) => [l.group, l.reason, l.replayable]).sort()).toEqual(
    names.analyzers.map((a) => [a.group, "rejected", true]).sort(),
  );
  for (const letter of pumpLetters)
    expect((await backend.groups(letter.source)).map((g) => g.name)).toContain(letter.group);
  const lengthBefore = await backend.length(names.tx);
  const replayed = await call(api, "POST", "/dead-letters/replay", { token: true });
  expect(replayed).toMatchObject({ status: 200, body: { replayed: pumpLetters.length } });
  expect(await backend.length(names.tx)).toBe(lengthBefore + pumpLetters.length);
  await drained();
  // Each copy handled again by its letter's group alone (the others ack it unhandled), and rejected again:
  // one letter per group, as before. Every group handled every copy until 2026-12-06 (ninth session): a
  // letter per group per copy, so each replay of all multiplied them by the groups.
  const after = await letters();
  expect(after.filter((l) => l.group === "ingest")).toHaveLength(1);
  const again = after.filter((l) => l.group !== "ingest");
  expect(again.map((l) => l.group).sort()).toEqual(pumpLetters.map((l) => l.group).sort());
  // A second replay of all replays those, and ends: the letters it causes are left for the next.
  const second = await call(api, "POST", "/dead-letters/replay", { token: true });
  expect(second).toMatchObject({ status: 200, body: { replayed: pumpLetters.length } });
  await drained();
  expect((await letters()).filter((l) => l.group !== "ingest")).toHaveLength(pumpLetters.length);
});

/**
 * The stream state store on its own (no actors): checkpoints of `--checkpoint` touched keys, each acking as
 * many stream entries, until the state holds `--count` keys (default 440,000, a full wallet book after 4M
 * events), then one restore of it all. Values are msgpack records shaped like a wallet book's. Reported per
 * backend: commit throughput and p99, restore throughput and time, and on Redis the bytes per key kept.
 * Each beside the bare work it does, measured in the same run: a commit beside acking the same entries
 * alone (on Redis with the segment written by a SET of a key of its own in the same MULTI: one round trip,
 * no script);
 * a restore beside replaying the committed segments held in process (no store, no reads); the bytes kept
 * beside the records' own (key and value).
 *
 *   bun bench/state-store.ts [--count 440000] [--checkpoint 2000] [--json]
 */
import { Packr } from "msgpackr";
import { parseCommandLine } from "../src/command-line.ts";
import { SegmentReplay } from "../src/runtime/state-replay.ts";
import { segmentOf } from "../src/runtime/state-segment.ts";
import type { StreamBackend } from "../src/streams/backend.ts";
import { MemoryStreamBackend } from "../src/streams/memory-backend.ts";
import { RedisStreamBackend } from "../src/streams/redis-backend.ts";
import type { CoveredEntry } from "../src/streams/state-cover.ts";
import { scopeKeys, stateBase } from "../src/streams/state-keys.ts";
import { redisUrl, withBenchRedis } from "./lib/redis.ts";
import { type Figure, figure, integer, printReport } from "./lib/report.ts";

const BENCH = "state-store";
const USAGE = "usage: bun bench/state-store.ts [--count 440000] [--checkpoint 2000] [--json]";
const values = parseCommandLine(USAGE, {
  json: { type: "boolean", default: false },
  count: { type: "string", default: "440000" },
  checkpoint: { type: "string", default: "2000" },
});
const total = integer(USAGE, "--count", values.count);
const perCheckpoint = integer(USAGE, "--checkpoint", values.checkpoint);
const packr = new Packr({ moreTypes: true });
const scope = { actor: "wallet-analyzer", instance: 0 };

/** A base58-looking address, deterministic per n. */
function address(n: number): string {
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let x = (n + 1) * 2654435761;
  let out = "";
  for (let i = 0; i < 44; i++) {
    out += alphabet[x % 58];
    x = Math.floor(x / 58) + (i + 1) * 40503 + n;
  }
  return out;
}

function walletRecord(n: number): Uint8Array {
  return packr.pack({
    firstSeenMs: 1_700_000_000_000 + n * 37,
    lastSeenMs: 1_700_000_000_000 + n * 53,
    funder: address(n * 7 + 3),
    fundedLamports: 1_500_000_000 + n,
    buys: n % 5,
    sells: n % 3,
    mints: [address(n * 11 + 1), address(n * 13 + 2)],
  });
}

/** An entry the checkpoint acks; its outputs are already durable. */
class Entry implements CoveredEntry {
  readonly inStream = true;
  constructor(
    readonly stream: string,
    readonly group: string,
    readonly id: string,
  ) {}
  untilWritten(): null {
    return null;
  }
  acked(): void {}
  released(): void {}
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** The bare work of a commit: the same entries acked, and on Redis the segment written, in one round trip. */
type BareCommit = (stream: string, ids: readonly string[], segment: Uint8Array) => Promise<unknown>;

/** Milliseconds of each commit (sorted) and in all. */
interface Commits {
  sorted: number[];
  totalMs: number;
}

/**
 * Feeds the stream `keys` entries per checkpoint and hands each checkpoint's entries and segment to
 * `commit`, timed; `segments` keeps the segments when given.
 */
async function checkpoints(
  backend: StreamBackend,
  stream: string,
  commit: (ids: readonly string[], segment: Uint8Array) => Promise<unknown>,
  segments?: Uint8Array[],
): Promise<Commits> {
  await backend.ensureGroup(stream, "g");
  const commitMs: number[] = [];
  for (let from = 0; from < total; from += perCheckpoint) {
    const keys = Math.min(perCheckpoint, total - from);
    await backend.appendBatch(
      stream,
      Array.from({ length: keys }, () => ({ d: "x" })),
    );
    const read = await backend.readNew(stream, "g", "bench", { count: keys });
    const changes: (string | Uint8Array)[] = [];
    for (let n = from; n < from + keys; n++) changes.push("wallets", address(n), walletRecord(n));
    const segment = segmentOf(changes) as Uint8Array;
    segments?.push(segment);
    const ids = read.map((e) => e.id);
    const started = performance.now();
    await commit(ids, segment);
    commitMs.push(performance.now() - started);
    await backend.trim(stream, read.at(-1)!.id);
  }
  return { sorted: commitMs.sort((a, b) => a - b), totalMs: commitMs.reduce((a, b) => a + b, 0) };
}

async function run(
  kind: string,
  backend: StreamBackend,
  anchor: string,
  bare: BareCommit,
): Promise<Figure[]> {
  const bareStream = `${anchor}:bare`;
  const bareCommits = await checkpoints(backend, bareStream, (ids, segment) =>
    bare(bareStream, ids, segment),
  );
  const store = backend.stateStore({ anchor });
  let { epoch } = await store.restore(scope);
  const segments: Uint8Array[] = [];
  const commits = await checkpoints(
    backend,
    anchor,
    (ids, segment) =>
      store.commit({
        scope,
        epoch,
        segments: [segment],
        covers: ids.map((id) => new Entry(anchor, "g", id)),
      }),
    segments,
  );
  // A compaction the last commits started: the restore reads what it leaves.
  await store.idle();

  const started = performance.now();
  const restored = await store.restore(scope);
  epoch = restored.epoch;
  // Replayed as a worker does before decoding: the live keys, in order.
  const replay = new SegmentReplay();
  for await (const chunk of restored.chunks) replay.feed(chunk);
  const keys = replay.keys;
  const restoreMs = performance.now() - started;
  if (keys !== total) throw new Error(`${kind}: restored ${keys} keys, expected ${total}`);
  const replayStarted = performance.now();
  const inProcess = new SegmentReplay();
  for (const segment of segments) inProcess.feed(segment);
  if (inProcess.keys !== total)
    throw new Error(`${kind}: replayed ${inProcess.keys} keys, expected ${total}`);
  const replayMs = performance.now() - replayStarted;

  const keysPerS = (ms: number) => Math.round((total / ms) * 1000);
  const bareName = `${kind} ${kind === "redis" ? "XACK + SET" : "ack"} alone`;
  const replayName = `replay of the segments in process`;
  return [
    figure(
      { bench: BENCH, metric: `${kind} commit`, value: keysPerS(commits.totalMs), unit: "keys/s" },
      { bench: BENCH, metric: bareName, value: keysPerS(bareCommits.totalMs), unit: "keys/s" },
    ),
    figure(
      {
        bench: BENCH,
        metric: `${kind} commit p99 (${perCheckpoint} keys)`,
        value: round(percentile(commits.sorted, 0.99)),
        unit: "ms",
      },
      {
        bench: BENCH,
        metric: `${bareName} p99`,
        value: round(percentile(bareCommits.sorted, 0.99)),
        unit: "ms",
      },
    ),
    figure(
      { bench: BENCH, metric: `${kind} restore ${total} keys`, value: round(restoreMs), unit: "ms" },
      { bench: BENCH, metric: replayName, value: round(replayMs), unit: "ms" },
    ),
    figure(
      { bench: BENCH, metric: `${kind} restore`, value: keysPerS(restoreMs), unit: "keys/s" },
      { bench: BENCH, metric: replayName, value: keysPerS(replayMs), unit: "keys/s" },
    ),
  ];
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

const figures: Figure[] = [];
await withBenchRedis(async (redis, prefix) => {
  const backend = new RedisStreamBackend(redisUrl());
  const anchor = `${prefix}:{tx}`;
  try {
    let segments = 0;
    const bare: BareCommit = (stream, ids, segment) =>
      redis
        .multi()
        .xack(stream, "g", ...ids)
        .set(`${stream}:segment:${++segments}`, Buffer.from(segment))
        .exec();
    figures.push(...(await run("redis", backend, anchor, bare)));
    const keys = scopeKeys(stateBase(anchor), scope);
    const generation = String(await redis.hget(keys.meta, "base"));
    let bytes = 0;
    for (const key of [keys.meta, keys.log, keys.base(generation)])
      bytes += Number((await redis.call("MEMORY", "USAGE", key, "SAMPLES", "0")) ?? 0);
    let recordBytes = 0;
    for (let n = 0; n < total; n++) recordBytes += address(n).length + walletRecord(n).length;
    figures.push(
      figure(
        { bench: BENCH, metric: "redis bytes per key", value: Math.round(bytes / total), unit: "B" },
        {
          bench: BENCH,
          metric: "record bytes (key + value)",
          value: Math.round(recordBytes / total),
          unit: "B",
        },
      ),
    );
  } finally {
    await backend.close();
  }
});
const memory = new MemoryStreamBackend();
figures.push(...(await run("memory", memory, "bench:{tx}", (stream, ids) => memory.ack(stream, "g", ids))));
await memory.close();
printReport(figures, { json: values.json });

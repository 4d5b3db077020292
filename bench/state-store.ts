/**
 * The stream state store on its own (no actors): checkpoints of `--checkpoint` touched keys, each acking as
 * many stream entries, until the state holds `--count` keys (default 440,000, a full wallet book after 4M
 * events), then one restore of it all. Values are msgpack records shaped like a wallet book's. Reported per
 * backend: commit throughput and p99, restore throughput and time, and on Redis the bytes per key kept.
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

async function run(kind: string, backend: StreamBackend, anchor: string): Promise<Figure[]> {
  const store = backend.stateStore({ anchor });
  await backend.ensureGroup(anchor, "g");
  let { epoch } = await store.restore(scope);
  const commitMs: number[] = [];
  for (let from = 0; from < total; from += perCheckpoint) {
    const keys = Math.min(perCheckpoint, total - from);
    await backend.appendBatch(
      anchor,
      Array.from({ length: keys }, () => ({ d: "x" })),
    );
    const read = await backend.readNew(anchor, "g", "bench", { count: keys });
    const changes: (string | Uint8Array)[] = [];
    for (let n = from; n < from + keys; n++) changes.push("wallets", address(n), walletRecord(n));
    const segment = segmentOf(changes) as Uint8Array;
    const covers = read.map((e) => new Entry(anchor, "g", e.id));
    const started = performance.now();
    await store.commit({ scope, epoch, segments: [segment], covers });
    commitMs.push(performance.now() - started);
    await backend.trim(anchor, read.at(-1)!.id);
  }
  const committed = commitMs.reduce((a, b) => a + b, 0);
  commitMs.sort((a, b) => a - b);
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

  const figures = [
    figure({
      bench: BENCH,
      metric: `${kind} commit`,
      value: Math.round((total / committed) * 1000),
      unit: "keys/s",
    }),
    figure({
      bench: BENCH,
      metric: `${kind} commit p99 (${perCheckpoint} keys)`,
      value: round(percentile(commitMs, 0.99)),
      unit: "ms",
    }),
    figure({ bench: BENCH, metric: `${kind} restore ${total} keys`, value: round(restoreMs), unit: "ms" }),
    figure({
      bench: BENCH,
      metric: `${kind} restore`,
      value: Math.round((total / restoreMs) * 1000),
      unit: "keys/s",
    }),
  ];
  return figures;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

const figures: Figure[] = [];
await withBenchRedis(async (redis, prefix) => {
  const backend = new RedisStreamBackend(redisUrl());
  const anchor = `${prefix}:{tx}`;
  try {
    figures.push(...(await run("redis", backend, anchor)));
    const keys = scopeKeys(stateBase(anchor), scope);
    const generation = String(await redis.hget(keys.meta, "base"));
    let bytes = 0;
    for (const key of [keys.meta, keys.log, keys.base(generation)])
      bytes += Number((await redis.call("MEMORY", "USAGE", key, "SAMPLES", "0")) ?? 0);
    figures.push(
      figure({ bench: BENCH, metric: "redis bytes per key", value: Math.round(bytes / total), unit: "B" }),
    );
  } finally {
    await backend.close();
  }
});
const memory = new MemoryStreamBackend();
figures.push(...(await run("memory", memory, "bench:{tx}")));
await memory.close();
printReport(figures, { json: values.json });

/**
 * Issue 13: the sybil analyzer's result does not depend on when the findings reach it, end to end. The
 * whole workload is in the tx stream before the analyzers start, so the sybil actor (the least work per
 * entry) runs ahead of the wallet and pattern actors whose findings it needs; it must still write exactly
 * the alerts of the inline order, in memory and on Redis, with real workers and durable state.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Alert } from "../../src/detection/alert.ts";
import type { TxEntry } from "../../src/detection/analyzer.ts";
import { startBatchScanner } from "../../src/eval/batch-run.ts";
import { generate } from "../../src/ingest/generator.ts";
import { TxStreamWriter } from "../../src/ingest/stream-writer.ts";
import { topology } from "../../src/scanner/topology.ts";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { DeadLetters } from "../../src/streams/dead-letters.ts";
import { untilDrained } from "../../src/streams/drained.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { MINUTE } from "../fixtures/scenarios/kit.ts";
import { s3AfterSweep } from "../fixtures/scenarios/s3-after-sweep.ts";
import { inlineOrderAlerts } from "../support/inline-order.ts";
import { redisAvailable, startTestRedis, type TestRedis } from "../support/redis-server.ts";

const events = [...generate({ seed: 5, durationMs: 40 * 60_000, scale: 0.07, scenarioRate: 8 }).events()];
events.push(...s3AfterSweep((events.at(-1) as { ts: number }).ts + MINUTE));
const tick: TxEntry = { kind: "tick", ts: (events.at(-1) as { ts: number }).ts + MINUTE };
const inline = inlineOrderAlerts([...events, tick]);
const reference = inline.map((alert) => alert.alertId).sort();

let redis: TestRedis | undefined;
const backends: StreamBackend[] = [];
beforeAll(async () => {
  if (redisAvailable()) redis = await startTestRedis();
});
afterAll(async () => {
  for (const backend of backends) await backend.close();
  await redis?.close();
});

async function alertIds(backend: StreamBackend, stream: string): Promise<string[]> {
  const entries = await backend.range(stream, { count: 100_000 });
  return entries.map((entry) => (defaultCodec.decode(entry.fields!) as Alert).alertId).sort();
}

describe("the sybil analyzer ahead of its findings (issue 13)", () => {
  const cases: [string, () => StreamBackend][] = [
    ["in memory", () => new MemoryStreamBackend()],
    ["on Redis", () => new RedisStreamBackend((redis as TestRedis).url)],
  ];
  test("the workload has the alert that the order decides", () => {
    expect(
      inline.filter((a) => a.detector === "cluster_control" && a.mint?.startsWith("s3-after-sweep")),
    ).toHaveLength(1);
  });
  for (const [name, open] of cases) {
    test.skipIf(name === "on Redis" && !redisAvailable())(
      `${name}: the alerts of the inline order, none held back`,
      async () => {
        const backend = open();
        backends.push(backend);
        const names = topology(`test-aligned:${crypto.randomUUID()}:`);
        const writer = new TxStreamWriter(backend, names);
        await writer.send(events);
        await writer.tick(tick.ts);
        const scanner = await startBatchScanner(backend, names);
        try {
          await scanner.drained();
          expect(await alertIds(backend, names.alerts)).toEqual(reference);
          const sybil = scanner.analyzers.refs.get(names.findingsActor)!;
          expect(((await sybil.snapshot()) as { alignment: unknown }).alignment).toEqual({
            held: 0,
            unaligned: 0,
            late: 0,
          });
        } finally {
          await scanner.stop();
        }
      },
      60_000,
    );
  }

  for (const [name, open] of cases) {
    test.skipIf(name === "on Redis" && !redisAvailable())(
      `${name}: findings and marks raised in the process reach the sybil actor without the findings stream`,
      async () => {
        const backend = open();
        backends.push(backend);
        const names = topology(`test-aligned:${crypto.randomUUID()}:`);
        const scanner = await startBatchScanner(backend, names);
        const findingsPump = scanner.analyzers.pumps.get(names.findingsGroup)!;
        // Nothing comes through the findings stream: only what the producers hand over in the process.
        await findingsPump.pause();
        try {
          await scanner.ingest.send(events);
          await scanner.ingest.tick(tick.ts);
          const txPumps = [...scanner.analyzers.pumps].filter(([group]) => group !== names.findingsGroup);
          await untilDrained(
            backend,
            txPumps.map(([, pump]) => pump),
          );
        } finally {
          // Stopping drains each actor into its last checkpoint, whose commit writes what it still holds.
          await scanner.stop();
        }
        expect(await alertIds(backend, names.alerts)).toEqual(reference);
        expect(findingsPump.stats.read).toBe(0);
        expect(findingsPump.stats.handedOver).toBeGreaterThan(0);
      },
      60_000,
    );
  }

  test("without durable state, a restarted analyzer's findings, numbered from 1 again, still reach the sybil actor", async () => {
    const backend = new MemoryStreamBackend();
    backends.push(backend);
    const names = topology(`test-aligned:${crypto.randomUUID()}:`);
    const findings = async () =>
      (await backend.range(names.findings, { count: 100_000 })).filter(
        (entry) => (defaultCodec.decode(entry.fields!) as { kind: string }).kind === "finding",
      ).length;
    const counts: number[] = [];
    for (let run = 0; run < 2; run++) {
      const scanner = await startBatchScanner(backend, names, {}, null);
      try {
        // A day later the same crew again, in other transactions (an id goes in once): another finding,
        // which the restarted producer numbers 1 too.
        const events = s3AfterSweep(Date.UTC(2026, 0, 1 + run)).map((e) => ({
          ...e,
          signature: `${e.signature}.${run}`,
          id: `${e.signature}.${run}:${e.ix}`,
        }));
        await scanner.ingest.send(events);
        await scanner.drained();
        counts.push(await findings());
      } finally {
        await scanner.stop();
      }
    }
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBe(2 * counts[0]!);
  });

  test("a malformed findings record goes to the findings dead letters with its reason", async () => {
    const backend = new MemoryStreamBackend();
    backends.push(backend);
    const names = topology(`test-aligned:${crypto.randomUUID()}:`);
    const scanner = await startBatchScanner(backend, names);
    try {
      await backend.append(names.findings, defaultCodec.encode({ kind: "progress", from: "wallet", seq: 1 }));
      await backend.append(
        names.findings,
        defaultCodec.encode({ kind: "finding", from: "pattern", seq: 1, cause: 1, alert: { detector: 7 } }),
      );
      await scanner.drained();
      const letters = (await new DeadLetters(backend, names.findingDeadLetters).list({}, { count: 10 }))
        .letters;
      expect(letters.map((letter) => letter.error)).toEqual([
        "progress: position must be an integer >= 0",
        "finding: alert must be an alert with a detector and wallets",
      ]);
    } finally {
      await scanner.stop();
    }
  });
});

/**
 * Detections on the control API: `GET /alerts` (filters, newest-first paging, bounded scans, 400s naming the
 * parameter), `GET /alerts/:id` with the evidence, `detection` events on `/events`, and the charts' history.
 * Records are written to a real memory stream as the scanner's analyzers write them (the default codec), at
 * times a ManualClock sets, so `since` and `writtenAt` are exact.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import { History } from "../../src/http/history.ts";
import {
  type ControlApi,
  createControlApi,
  createDetectionsSource,
  type DetectionPage,
  type DetectionView,
  type HistoryPoint,
} from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { REPLAY_FOR_FIELD } from "../../src/streams/dead-letters.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { redisAvailable, startTestRedis } from "../support/redis-server.ts";
import { SseReader } from "./sse.ts";
import { call, failure } from "./support.ts";

const DETECTORS = ["dev_dump", "fresh_sniper", "funding_hub"];
const SEVERITIES = ["low", "med", "high"];
const START = 1_700_000_000_000;

let system: ActorSystem | undefined;
let api: ControlApi | undefined;

afterEach(async () => {
  api?.close();
  api = undefined;
  await system?.stop({ deadlineMs: 1000 });
});

interface Planted {
  detector: string;
  severity: string;
  mint: string;
  wallets: string[];
}

/** An alert as the analyzers write it: the identity fields the API reads, and evidence it passes on. */
function record(i: number, p: Planted) {
  return {
    alertId: i.toString(16).padStart(16, "0"),
    groupId: `g${i}`,
    analyzer: "wallet",
    score: 0.5,
    key: p.mint,
    windowStart: START,
    detectedAt: START + i,
    triggerId: `sig${i}:0`,
    timing: "exact",
    evidence: { buys: i, supplyFraction: 0.25 },
    events: [`sig${i}:0`, `sig${i}:1`],
    ...p,
  };
}

const PLANTED: Planted[] = [
  { detector: "dev_dump", severity: "high", mint: "MintA", wallets: ["w1"] },
  { detector: "fresh_sniper", severity: "low", mint: "MintA", wallets: ["w2", "w3"] },
  { detector: "funding_hub", severity: "med", mint: "MintB", wallets: ["w3"] },
  { detector: "dev_dump", severity: "med", mint: "MintC", wallets: ["w4"] },
  { detector: "fresh_sniper", severity: "high", mint: "MintB", wallets: ["w1", "w5"] },
  { detector: "funding_hub", severity: "low", mint: "MintA", wallets: ["w6"] },
  { detector: "dev_dump", severity: "high", mint: "MintB", wallets: ["w3"] },
];

/** Writes the planted alerts one second apart (alert i at START + i s) and serves them. */
async function serve(options: { scanLimit?: number; indexSize?: number; planted?: Planted[] } = {}) {
  const { planted = PLANTED, ...sourceOptions } = options;
  const clock = new ManualClock(START);
  const backend = new MemoryStreamBackend({ clock });
  const ids: string[] = [];
  for (const [i, p] of planted.entries()) {
    ids.push(await backend.append("alerts", defaultCodec.encode(record(i, p))));
    clock.advance(1_000);
  }
  const detections = createDetectionsSource({
    backend,
    stream: "alerts",
    detectors: DETECTORS,
    severities: SEVERITIES,
    pollMs: 10,
    ...sourceOptions,
  });
  system = createSystem();
  api = createControlApi({ system, detections, defaultMetrics: false, liveIntervalMs: 100 });
  return { backend, clock, ids, target: api };
}

const list = (target: ControlApi, query: string) => call<DetectionPage>(target, "GET", `/alerts${query}`);
const numbers = (page: DetectionPage) => page.alerts.map((a) => (a.evidence as { buys: number }).buys);

describe("GET /alerts", () => {
  test("newest first, a page at a time, each with where and when it was written", async () => {
    const { ids, target } = await serve();
    const first = await list(target, "?count=3");
    expect(first.status).toBe(200);
    expect(numbers(first.body)).toEqual([6, 5, 4]);
    expect(first.body.alerts[0]).toMatchObject({
      alertId: "0000000000000006",
      detector: "dev_dump",
      severity: "high",
      entryId: ids[6],
      writtenAt: START + 6_000,
      evidence: { buys: 6, supplyFraction: 0.25 },
    });
    const second = await list(target, `?count=3&cursor=${first.body.next}`);
    expect(numbers(second.body)).toEqual([3, 2, 1]);
    const last = await list(target, `?count=3&cursor=${second.body.next}`);
    expect(last.body).toMatchObject({ next: null });
    expect(numbers(last.body)).toEqual([0]);
  });

  test("filters: detectors and severities (comma-separated), mint, wallet, since (ms or ISO), together", async () => {
    const { target } = await serve();
    expect(numbers((await list(target, "?detector=dev_dump")).body)).toEqual([6, 3, 0]);
    expect(numbers((await list(target, "?detector=dev_dump,funding_hub")).body)).toEqual([6, 5, 3, 2, 0]);
    expect(numbers((await list(target, "?severity=high")).body)).toEqual([6, 4, 0]);
    expect(numbers((await list(target, "?mint=MintA")).body)).toEqual([5, 1, 0]);
    expect(numbers((await list(target, "?wallet=w3")).body)).toEqual([6, 2, 1]);
    expect(numbers((await list(target, `?since=${START + 4_000}`)).body)).toEqual([6, 5, 4]);
    const iso = new Date(START + 5_000).toISOString();
    expect(numbers((await list(target, `?since=${iso}`)).body)).toEqual([6, 5]);
    expect(numbers((await list(target, "?detector=dev_dump&severity=high&wallet=w3")).body)).toEqual([6]);
    expect((await list(target, "?mint=nowhere")).body).toEqual({ alerts: [], next: null, scanned: 7 });
  });

  test("a dead letter's replay for one sink's group is not listed again", async () => {
    const { backend, target } = await serve();
    // What DeadLetters.replay appends for a sink that failed alert 6: the record, marked for its group.
    await backend.append("alerts", {
      ...defaultCodec.encode(record(6, PLANTED[6] as Planted)),
      [REPLAY_FOR_FIELD]: "sink-webhook",
    });
    expect(numbers((await list(target, "?count=3")).body)).toEqual([6, 5, 4]);
  });

  test("a narrow filter reads at most scanLimit entries per request and says where to go on", async () => {
    const { target } = await serve({ scanLimit: 4 });
    const first = await list(target, "?wallet=w2");
    expect(first.body).toMatchObject({ alerts: [], scanned: 4 });
    expect(first.body.next).not.toBeNull();
    const second = await list(target, `?wallet=w2&cursor=${first.body.next}`);
    expect(second.body).toMatchObject({ next: null, scanned: 3 });
    expect(numbers(second.body)).toEqual([1]);
  });

  test("bad input is a 400 naming the parameter", async () => {
    const { target } = await serve();
    const bad = async (query: string, message: string) =>
      expect(await list(target, query)).toMatchObject({
        status: 400,
        body: failure("ERR_VALIDATION", message),
      });
    await bad(
      "?detector=dev_dump,nope",
      'query.detector: unknown detector "nope" (dev_dump, fresh_sniper, funding_hub)',
    );
    await bad("?severity=urgent", 'query.severity: unknown severity "urgent" (low, med, high)');
    await bad(
      "?since=yesterday",
      "query.since: must be a time: ms since the epoch or an ISO 8601 date like 2026-12-02T10:00:00Z",
    );
    // A day that does not exist (Date.parse rolled it over to 1 March).
    await bad(
      "?since=2024-02-30T00:00:00Z",
      "query.since: must be a time: ms since the epoch or an ISO 8601 date like 2026-12-02T10:00:00Z",
    );
    await bad("?count=0", "query.count: must be an integer from 1 to 500");
    const idMessage = "query.cursor: must be a stream entry id like 1719000000000-0 (each part below 2^64)";
    await bad("?cursor=latest", idMessage);
    // Shaped like an id, past what Redis takes (on Redis: a 503 from the backend).
    await bad("?cursor=18446744073709551616-0", idMessage);
    await bad("?detector=", "query.detector: must be detector names separated by commas");
    await bad("?color=red", "query.color: unknown field");
  });

  test("without a detections source the list is empty and no alert is found", async () => {
    system = createSystem();
    api = createControlApi({ system, defaultMetrics: false });
    expect((await list(api, "")).body).toEqual({ alerts: [], next: null, scanned: 0 });
    expect(await call(api, "GET", "/alerts/0000000000000001")).toMatchObject({
      status: 404,
      body: failure("ERR_NOT_FOUND", "no alert 0000000000000001 in the alerts stream"),
    });
  });
});

describe("GET /alerts/:id", () => {
  test("by alert id or entry id, with everything the detector recorded; 404 when gone", async () => {
    const { ids, target } = await serve();
    const byAlert = await call<DetectionView>(target, "GET", "/alerts/0000000000000002");
    expect(byAlert).toMatchObject({
      status: 200,
      body: {
        ...record(2, PLANTED[2] as Planted),
        entryId: ids[2],
        writtenAt: START + 2_000,
      },
    });
    expect((await call<DetectionView>(target, "GET", `/alerts/${ids[4]}`)).body.alertId).toBe(
      "0000000000000004",
    );
    expect(await call(target, "GET", "/alerts/00000000000000ff")).toMatchObject({
      status: 404,
      body: failure("ERR_NOT_FOUND", "no alert 00000000000000ff in the alerts stream"),
    });
  });

  test("an alert id past the index is still found by a bounded scan", async () => {
    const { target } = await serve({ indexSize: 2 });
    // The index is filled by the tail, which starts with the API; the oldest ids have left it.
    expect((await call<DetectionView>(target, "GET", "/alerts/0000000000000000")).body).toMatchObject({
      alertId: "0000000000000000",
      detector: "dev_dump",
    });
  });
});

describe("detections live and over time", () => {
  test("/events sends each new detection as a `detection` event, never the ones written before", async () => {
    const { backend, target } = await serve();
    const response = await target.app.request("/events");
    const events = new SseReader(response);
    await events.next("hello");
    await backend.append("alerts", defaultCodec.encode(record(7, PLANTED[0] as Planted)));
    const event = await events.next("detection");
    expect(event?.data).toMatchObject({
      alertId: "0000000000000007",
      detector: "dev_dump",
      severity: "high",
    });
    expect(events.seen.filter((e) => e.event === "detection")).toHaveLength(1);
    await events.cancel();
  });

  test("/events sends the first detections written to a stream that was empty or missing when it started", async () => {
    const { backend, target } = await serve({ planted: [] });
    const response = await target.app.request("/events");
    const events = new SseReader(response);
    await events.next("hello");
    for (const i of [1, 2]) {
      await backend.append("alerts", defaultCodec.encode(record(i, PLANTED[i] as Planted)));
      const event = await events.next("detection");
      expect(event?.data).toMatchObject({ alertId: `000000000000000${i}` });
    }
    await events.cancel();
  });

  test("the stats snapshots count detections by detector and severity, those written before included", async () => {
    const { backend, target } = await serve();
    const events = new SseReader(await target.app.request("/events"));
    await events.next("hello");
    await backend.append("alerts", defaultCodec.encode(record(7, PLANTED[0] as Planted)));
    // The tail read the history before it saw the new one: the snapshots begun after it count all eight
    // (the first one after the event may have been under way before).
    await events.next("detection");
    await events.next("stats");
    const stats = await events.next("stats");
    await events.cancel();
    expect((stats?.data as { detections?: unknown } | undefined)?.detections).toEqual({
      total: 8,
      byDetector: { dev_dump: 4, fresh_sniper: 2, funding_hub: 2 },
      bySeverity: { high: 4, low: 2, med: 2 },
    });
  });

  test("history keeps the last `points` samples, one per interval", async () => {
    const clock = new ManualClock(START);
    let n = 0;
    const history = new History({
      clock,
      intervalMs: 5_000,
      points: 3,
      sample: async (): Promise<HistoryPoint> => ({
        at: clock.now(),
        throughput: n++,
        lag: 0,
        pending: 0,
        lagSeconds: 0,
        detections: { dev_dump: n },
      }),
    });
    await history.next();
    for (let i = 0; i < 4; i++) {
      const taken = history.next();
      clock.advance(5_000);
      await taken;
    }
    expect(history.points.map((p) => [p.at - START, p.throughput])).toEqual([
      [10_000, 2],
      [15_000, 3],
      [20_000, 4],
    ]);
    history.close();
  });

  test("GET /history names the detectors and severities and carries the samples", async () => {
    const { target } = await serve();
    const { body } = await call<{ intervalMs: number; detectors: string[]; severities: string[] }>(
      target,
      "GET",
      "/history",
    );
    expect(body).toMatchObject({ intervalMs: 5_000, detectors: DETECTORS, severities: SEVERITIES });
  });
});

describe.skipIf(!redisAvailable())("detections on Redis", () => {
  test("the same paging, filters, lookups and live events over XREVRANGE / XRANGE", async () => {
    const redis = await startTestRedis();
    const backend = new RedisStreamBackend(redis.url);
    const stream = `troupe-test-http:${randomUUID()}:alerts`;
    try {
      for (const [i, p] of PLANTED.entries()) await backend.append(stream, defaultCodec.encode(record(i, p)));
      system = createSystem();
      api = createControlApi({
        system,
        detections: createDetectionsSource({ backend, stream, detectors: DETECTORS, pollMs: 10 }),
        defaultMetrics: false,
        liveIntervalMs: 100,
      });
      const first = await list(api, "?count=4");
      expect(numbers(first.body)).toEqual([6, 5, 4, 3]);
      expect(numbers((await list(api, `?count=4&cursor=${first.body.next}`)).body)).toEqual([2, 1, 0]);
      expect(numbers((await list(api, "?detector=funding_hub&wallet=w3")).body)).toEqual([2]);
      const since = first.body.alerts[1]?.writtenAt as number;
      // Entries written in the same millisecond as alert 5 are "since" it too.
      const recent = (await list(api, `?since=${since}`)).body;
      expect(numbers(recent).slice(0, 2)).toEqual([6, 5]);
      expect(recent.alerts.every((a) => a.writtenAt >= since)).toBe(true);
      expect((await call<DetectionView>(api, "GET", "/alerts/0000000000000003")).body.mint).toBe("MintC");

      const events = new SseReader(await api.app.request("/events"));
      await events.next("hello");
      await backend.append(stream, defaultCodec.encode(record(7, PLANTED[1] as Planted)));
      expect((await events.next("detection"))?.data).toMatchObject({ alertId: "0000000000000007" });
      await events.cancel();
    } finally {
      api?.close();
      api = undefined;
      const client = new Redis(redis.url);
      await client.del(stream);
      client.disconnect();
      await backend.close();
      await redis.close();
    }
  });
});

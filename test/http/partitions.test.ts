/**
 * Partition ownership through the control API (issue 14, operating it): a process's members of partitioned
 * groups, given to the streams source, make `/streams` show each partition's owner, its lease's time left
 * and how long this process has owned it, and `/metrics` the same as gauges plus the partitions this
 * process took and gave up. Two members on a private redis-server, each on a connection of its own.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";
import {
  type ControlApi,
  createControlApi,
  createStreamsSource,
  type StreamGroupInfo,
} from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { PartitionedConsumer } from "../../src/streams/partitioned-consumer.ts";
import { PartitionedStream } from "../../src/streams/partitions.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { TestTarget, until } from "../streams/test-target.ts";
import { RedisServer, redisServerInstalled } from "../support/redis-server.ts";
import { call } from "./support.ts";

const LEASE_MS = 2_000;
const GROUP = "tally";

describe.skipIf(!redisServerInstalled())("partitions in /streams and /metrics", () => {
  let redis: RedisServer;
  let system: ActorSystem;
  let api: ControlApi;
  const backends: RedisStreamBackend[] = [];
  const members: PartitionedConsumer[] = [];
  let stream: PartitionedStream;

  const member = (name: string) => {
    const backend = new RedisStreamBackend(redis.url);
    backends.push(backend);
    const consumer = new PartitionedConsumer(
      backend,
      stream,
      () => ({
        target: new TestTarget<unknown, unknown>({
          instances: 1,
          window: 16,
          key: () => "",
          handler: async () => undefined,
        }),
        options: { blockMs: 50, sweepIntervalMs: 0 },
      }),
      { group: GROUP, member: name, leaseMs: LEASE_MS, renewMs: LEASE_MS / 4 },
    );
    members.push(consumer);
    return consumer;
  };
  const settled = (predicate: () => boolean) =>
    until((check) => {
      const offs = members.map((m) => m.ownership.on("round", check));
      return () => {
        for (const off of offs) off();
      };
    }, predicate);
  const partitionRows = async () => {
    const { status, body } = await call<{ groups: StreamGroupInfo[] }>(api, "GET", "/streams");
    expect(status).toBe(200);
    return body.groups
      .filter((g) => g.group === GROUP)
      .sort((x, y) => x.partition!.index - y.partition!.index);
  };
  const scrape = async () => {
    const response = await api.app.request("/metrics");
    expect(response.status).toBe(200);
    return new Map(parsePrometheusTextFormat(await response.text()).map((f) => [f.name, f]));
  };
  const samples = (family: ParsedFamily | undefined) =>
    (family?.metrics ?? []) as { labels?: Record<string, string>; value: string }[];

  beforeAll(async () => {
    redis = await RedisServer.start();
    const admin = new RedisStreamBackend(redis.url);
    backends.push(admin);
    stream = await PartitionedStream.open(admin, "{shop}:orders", { partitions: 4 });
    system = createSystem();
  });
  afterAll(async () => {
    api?.close();
    for (const m of members) await m.stop();
    await system.stop({ deadlineMs: 1000 });
    for (const backend of backends) await backend.close();
    await redis.cleanup();
  });

  test("each partition's owner, lease and ownership age; a member that leaves hands them over, and the moves are counted", async () => {
    const a = member("a");
    const b = member("b");
    api = createControlApi({
      system,
      streams: createStreamsSource({ backend: backends[1]!, partitioned: [a] }),
      defaultMetrics: false,
    });
    let taken = 0;
    a.ownership.on("assigned", () => taken++);
    await a.start();
    await b.start();
    await settled(() => a.ownership.owned.length === 2 && b.ownership.owned.length === 2);

    const rows = await partitionRows();
    expect(rows.map((r) => r.stream)).toEqual([...stream.keys]);
    for (const [index, row] of rows.entries()) {
      const owner = a.ownership.owned.includes(index) ? "a" : "b";
      expect(row.partition).toMatchObject({ of: "{shop}:orders", index, partitions: 4, owner });
      expect(row.partition!.leaseTtlMs).toBeGreaterThan(0);
      expect(row.partition!.leaseTtlMs).toBeLessThanOrEqual(LEASE_MS);
      if (owner === "a") expect(row.partition!.ownedForMs).toBeGreaterThanOrEqual(0);
      else expect(row.partition!.ownedForMs).toBeNull();
    }

    let families = await scrape();
    const owners = samples(families.get("troupe_partition_owner"));
    expect(owners.map((s) => `${s.labels?.partition} ${s.labels?.owner}`).sort()).toEqual(
      rows.map((r) => `${r.partition!.index} ${r.partition!.owner}`),
    );
    expect(samples(families.get("troupe_partition_owned_seconds")).length).toBe(2);

    // b leaves: a takes its two partitions over; the API says so, and a's moves are counted.
    await b.stop();
    // All four while alone, two given up when b joined, two taken back when it left.
    await until(
      (check) => a.ownership.on("assigned", check),
      () => taken === 6,
    );
    expect((await partitionRows()).map((r) => r.partition!.owner)).toEqual(["a", "a", "a", "a"]);
    families = await scrape();
    const moves = (move: string) =>
      samples(families.get("troupe_partition_moves_total"))
        .filter((s) => s.labels?.move === move)
        .reduce((sum, s) => sum + Number(s.value), 0);
    expect([moves("assigned"), moves("revoked")]).toEqual([6, 2]);
    expect(samples(families.get("troupe_partition_owned_seconds")).length).toBe(4);
  }, 30_000);

  test("partitions taken before the control API began are counted as taken, once", async () => {
    const backend = new RedisStreamBackend(redis.url);
    backends.push(backend);
    const returns = await PartitionedStream.open(backend, "{shop}:returns", { partitions: 3 });
    const early = new PartitionedConsumer(
      backend,
      returns,
      () => ({
        target: new TestTarget<unknown, unknown>({
          instances: 1,
          window: 4,
          key: () => "",
          handler: async () => undefined,
        }),
        options: { blockMs: 50, sweepIntervalMs: 0 },
      }),
      { group: GROUP, member: "early", leaseMs: LEASE_MS, renewMs: LEASE_MS / 4 },
    );
    members.push(early);
    let taken = 0;
    early.ownership.on("assigned", () => taken++);
    await early.start();
    await until(
      (check) => early.ownership.on("assigned", check),
      () => taken === 3,
    );
    // As the scanner does: its analyzers start, then its control API.
    const late = createControlApi({
      system,
      streams: createStreamsSource({ backend, partitioned: [early] }),
      defaultMetrics: false,
    });
    try {
      const moves = async (move: string) =>
        samples(
          new Map(
            parsePrometheusTextFormat(await (await late.app.request("/metrics")).text()).map((f) => [
              f.name,
              f,
            ]),
          ).get("troupe_partition_moves_total"),
        )
          .filter((s) => s.labels?.move === move && s.labels?.stream?.endsWith("}:returns"))
          .reduce((sum, s) => sum + Number(s.value), 0);
      expect(await moves("assigned")).toBe(3);
      await early.stop();
      expect([await moves("assigned"), await moves("revoked")]).toEqual([3, 3]);
    } finally {
      late.close();
    }
  }, 30_000);

  test("a member whose process ends is reported gone on /events and counted, and its partitions come back", async () => {
    const a = members[0]!;
    const c = member("c");
    await c.start();
    await settled(() => a.ownership.owned.length === 2 && c.ownership.owned.length === 2);
    const alerts: string[] = [];
    const off = createStreamsSource({ backend: backends[1]!, partitioned: [a] }).subscribe((alert) => {
      if (alert.kind === "memberDeparted") alerts.push(`${alert.level} ${alert.stream} ${alert.message}`);
    });
    // c's connections close as a killed process's do.
    await backends.at(-1)!.close();
    await settled(() => a.ownership.owned.length === 4);
    off();
    expect(alerts).toEqual([
      "warning {shop}:orders c gone (no connection left): a takes its partitions at once",
    ]);
    const families = await scrape();
    expect(samples(families.get("troupe_partition_departures_total"))).toEqual([
      { labels: { stream: "{shop}:orders", group: GROUP }, value: "1" },
    ]);
  }, 30_000);
});

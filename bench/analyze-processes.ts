/**
 * More analyze processes, more throughput? The generated workload is written to the tx stream of a fresh
 * prefix (groups created first, so nothing is trimmed), then K `bun src/main.ts --role analyze` processes
 * start together and share the three analyzers by lease; timed from their spawn until every analyzer group
 * (three on tx, the sybil analyzer's on findings) has nothing unread or pending. Reports events/s and events
 * per CPU-second (the analyze processes, from /proc, plus the Redis server) for K = 2 against K = 1, and
 * what each process of the last K = 2 round ran and spent: on a 2-core box one process's three analyzer
 * threads use both cores already, so the ratio says what sharing costs rather than what it gains. With
 * `--partitions P`, the processes run TROUPE_PARTITIONS=P (the mint analyzer's partitions, fed by the wallet
 * analyzer, shared by lease too), and the partitions' groups count among those that must drain. With
 * `--cluster`, on a private 3-master Redis Cluster started here (REDIS_CLUSTER_NODES, a tagged prefix; the
 * three servers' CPU counted) instead of `REDIS_URL`.
 *
 *   bun bench/analyze-processes.ts [--json] [--rounds 3] [--count 200000] [--partitions P] [--cluster]
 */
import { readFileSync } from "node:fs";
import type { ChainEvent } from "../src/detection/schema.ts";
import { generate } from "../src/ingest/generator.ts";
import { TxStreamWriter } from "../src/ingest/stream-writer.ts";
import { topology } from "../src/scanner/topology.ts";
import { PartitionedStream } from "../src/streams/partitions.ts";
import { RedisStreamBackend } from "../src/streams/redis-backend.ts";
import { ChildOutput } from "../test/support/child-output.ts";
import { RedisCluster } from "../test/support/redis-cluster.ts";
import { cpuSeconds } from "./lib/measure.ts";
import { connect, deleteByPrefix, redisUrl } from "./lib/redis.ts";
import { type Figure, figure, integer, type Measurement, parseBenchArgs, printReport } from "./lib/report.ts";

const BENCH = "analyze-processes";
const USAGE = `usage: bun bench/analyze-processes.ts [--json] [--rounds 3] [--count 200000] [--partitions P] [--cluster]

  --partitions P  the processes run TROUPE_PARTITIONS=P
  --cluster       on a private 3-master Redis Cluster instead of REDIS_URL`;
const ROOT = new URL("..", import.meta.url).pathname;
const DEFAULT_COUNT = 200_000;
const CLOCK_TICKS = 100;

const log = (line: string) => process.stderr.write(`${line}\n`);

/** utime + stime of a live process, in seconds. */
function processCpu(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

interface Round {
  eventsPerSecond: number;
  eventsPerCpuSecond: number;
  /** Per process: its name, the analyzers it ran at the end, its CPU seconds. */
  split: { consumer: string; analyzers: string[]; cpu: number }[];
}

/** The shared Redis of `REDIS_URL`, or a private cluster's seed nodes. */
type Servers = { url: string } | { cluster: string[] };

async function round(
  events: readonly ChainEvent[],
  processes: number,
  partitions: number | null,
  servers: Servers,
): Promise<Round> {
  // On a cluster the scanner's streams share a hash tag (the configuration refuses an untagged prefix there).
  const id = `troupe-bench:${crypto.randomUUID()}`;
  const prefix = "url" in servers ? `${id}:` : `{${id}}:`;
  const names = topology(prefix, { keyed: partitions !== null });
  const backend = new RedisStreamBackend("url" in servers ? servers.url : { cluster: servers.cluster });
  const serverUrls = "url" in servers ? [servers.url] : servers.cluster.map((node) => `redis://${node}`);
  const children: { consumer: string; child: ReturnType<typeof Bun.spawn>; stderr: ChildOutput }[] = [];
  try {
    for (const { group } of names.analyzers) await backend.ensureGroup(names.tx, group);
    await backend.ensureGroup(names.findings, names.findingsGroup);
    const mints =
      partitions === null ? null : await PartitionedStream.open(backend, names.mints.stream, { partitions });
    for (const key of mints?.keys ?? []) await backend.ensureGroup(key, names.mints.group);
    const writer = new TxStreamWriter(backend, names, {
      lagCapacity: 10_000_000,
      pendingCapacity: 10_000_000,
    });
    for (let i = 0; i < events.length; i += 5_000) await writer.send(events.slice(i, i + 5_000));
    const cpuBefore = await cpuSeconds(serverUrls);
    const selfBefore = process.cpuUsage();
    const started = performance.now();
    for (let i = 1; i <= processes; i++) {
      const consumer = `bench-${i}`;
      const child = Bun.spawn(["bun", "src/main.ts", "--role", "analyze"], {
        cwd: ROOT,
        env: {
          ...process.env,
          ...("url" in servers
            ? { REDIS_URL: servers.url }
            : { REDIS_URL: "", REDIS_CLUSTER_NODES: servers.cluster.join(",") }),
          TROUPE_STREAM_PREFIX: prefix,
          TROUPE_CONSUMER: consumer,
          TROUPE_HTTP_PORT: "0",
          TROUPE_ALERTS_STDOUT: "off",
          ...(partitions === null ? {} : { TROUPE_PARTITIONS: String(partitions) }),
        },
        stdout: "ignore",
        stderr: "pipe",
      });
      children.push({ consumer, child, stderr: new ChildOutput(child.stderr) });
    }
    const groups: [string, string][] = [
      ...names.analyzers.map(({ group }): [string, string] => [names.tx, group]),
      [names.findings, names.findingsGroup],
      // Fed by the wallet analyzer: listed after the tx groups, so seen drained only once it has forwarded all.
      ...(mints?.keys ?? []).map((key): [string, string] => [key, names.mints.group]),
    ];
    // The analyze processes are other processes: their progress shows only in the groups.
    for (;;) {
      const infos = await Promise.all(groups.map(([stream, group]) => backend.groupInfo(stream, group)));
      if (infos.every((g) => g !== null && g.lag === 0 && g.pending === 0 && (g.entriesRead ?? 0) > 0)) break;
      await Bun.sleep(50);
    }
    const elapsed = (performance.now() - started) / 1000;
    const split = await Promise.all(
      children.map(async ({ consumer, child, stderr }) => {
        const url = /control API (http:\S+)/.exec(await stderr.waitFor(/control API http:\S+/))![1]!;
        const { actors } = (await (await fetch(new URL("actors", url))).json()) as {
          actors: { name: string }[];
        };
        return { consumer, analyzers: actors.map((a) => a.name), cpu: processCpu(child.pid) };
      }),
    );
    // This process's own CPU (polling) is not the analyzers': taken out of the Redis delta's total.
    const self = process.cpuUsage(selfBefore);
    const redisCpu = (await cpuSeconds(serverUrls)) - cpuBefore - (self.user + self.system) / 1e6;
    const cpu = split.reduce((sum, p) => sum + p.cpu, 0) + redisCpu;
    log(
      `${processes} process(es): ${events.length} events in ${elapsed.toFixed(2)} s, ${cpu.toFixed(2)} CPU-s (redis ${redisCpu.toFixed(2)}); ${split.map((p) => `${p.consumer} ${p.cpu.toFixed(2)} CPU-s [${p.analyzers.join(", ")}]`).join("; ")}`,
    );
    return { eventsPerSecond: events.length / elapsed, eventsPerCpuSecond: events.length / cpu, split };
  } finally {
    for (const { child } of children) child.kill("SIGTERM");
    await Promise.all(children.map(({ child }) => child.exited));
    await backend.close();
    // A cluster's keys go with the cluster, stopped at the end.
    if ("url" in servers) {
      const redis = connect();
      await deleteByPrefix(redis, prefix);
      redis.disconnect();
    }
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

if (import.meta.main) {
  // `--partitions P` and `--cluster` are this bench's own; the rest are every bench's.
  const args = parseBenchArgs(USAGE, {
    partitions: { type: "string" },
    cluster: { type: "boolean", default: false },
  });
  const onCluster = args.own.cluster;
  const partitions =
    args.own.partitions === undefined ? null : integer(USAGE, "--partitions", args.own.partitions);
  const count = args.count ?? DEFAULT_COUNT;
  const all = [...generate({ seed: 1, durationMs: 3 * 3_600_000 }).events()];
  const events = all.slice(0, count);
  const cluster = onCluster ? await RedisCluster.start() : null;
  const servers: Servers = cluster ? { cluster: cluster.nodes } : { url: redisUrl() };
  const runs: Record<1 | 2, Round[]> = { 1: [], 2: [] };
  try {
    for (let r = 0; r < args.rounds; r++)
      for (const k of [1, 2] as const) runs[k].push(await round(events, k, partitions, servers));
  } finally {
    await cluster?.cleanup();
  }
  const keyed = `${partitions === null ? "" : `, ${partitions} mint partitions`}${cluster ? ", redis cluster" : ""}`;
  const measure = (k: 1 | 2, per: "s" | "CPU-s"): Measurement => ({
    bench: BENCH,
    metric: `${k} analyze process${k === 1 ? "" : "es"}${keyed}, events per ${per === "s" ? "second" : "CPU-second"}`,
    value: median(runs[k].map((r) => (per === "s" ? r.eventsPerSecond : r.eventsPerCpuSecond))),
    unit: per === "s" ? "events/s" : "events/CPU-s",
  });
  const figures: Figure[] = [
    figure(measure(1, "s")),
    figure(measure(2, "s"), measure(1, "s")),
    figure(measure(1, "CPU-s")),
    figure(measure(2, "CPU-s"), measure(1, "CPU-s")),
  ];
  printReport(figures, { json: args.json });
  process.exit(0);
}

/**
 * The scanner as `bun run start` runs it: the stream backend (in memory by default, Redis with REDIS_URL,
 * checked first), the roles this process plays (ingest, analyze, or all), the HTTP control API, retention,
 * the terminal (alerts on stdout, the progress line on stderr), and the shutdown order: readiness 503,
 * stop ingest, drain and ack in-flight work, stop the HTTP server, show the last alerts, close the backend.
 * A `--replay` reports its summary once the analyzers and sinks drained it, and ends then, unless told to
 * keep running.
 */
import { resolve as resolvePath } from "node:path";
import { redisAddressOf, type TroupeConfig } from "../config.ts";
import { type Alert, SEVERITY_RANK } from "../detection/alert.ts";
import { PATTERN_DETECTORS } from "../detection/pattern-analyzer.ts";
import { SYBIL_DETECTORS } from "../detection/sybil-analyzer.ts";
import { WALLET_DETECTORS } from "../detection/wallet-analyzer.ts";
import { messageOf, TroupeError } from "../errors.ts";
import { createDetectionsSource, createStreamsSource, serveControlApi } from "../http/index.ts";
import { type ReplaySummary, TxStreamWriter, type WriterTurn, writerStats } from "../ingest/stream-writer.ts";
import { createSystem } from "../runtime/system.ts";
import type { StreamBackend } from "../streams/backend.ts";
import { untilDrained } from "../streams/drained.ts";
import { MemoryStreamBackend } from "../streams/memory-backend.ts";
import { PartitionedStream } from "../streams/partitions.ts";
import { RedisStreamBackend } from "../streams/redis-backend.ts";
import { systemClock } from "../time/clock.ts";
import { alertLine } from "./alert-line.ts";
import { AlertMetrics } from "./alert-metrics.ts";
import { AlertTail } from "./alert-tail.ts";
import { mintsDownstream, startAnalyzers } from "./analyzers.ts";
import { ScannerError } from "./errors.ts";
import { type IngestTerm, type LeasedIngest, leasedIngest } from "./ingest-lease.ts";
import { registerIngestMetrics } from "./ingest-metrics.ts";
import { startProgress } from "./progress.ts";
import { checkClusterReachable, checkRedisReachable } from "./redis-reachable.ts";
import { replaySummary } from "./replay-summary.ts";
import { startRetention } from "./retention.ts";
import { startSinks } from "./sinks.ts";
import type { Terminal } from "./terminal.ts";
import { type Topology, topology } from "./topology.ts";

export type Role = "all" | "ingest" | "analyze";

/**
 * How often a replay's end looks at the analyzer groups again: another process may run some of them (they
 * are placed by lease), and its acks wake nothing here.
 */
const DRAIN_RECHECK_MS = 250;

export interface ScannerRun {
  config: TroupeConfig;
  role: Role;
  /** Replay this recording (JSON lines or a JSON array, jsonl.ts) instead of running the generator. */
  replay: string | null;
  pace: "full" | "recorded";
  /**
   * Skip the replay's lines up to this one (`--resume-after`); null: after the last line an earlier replay
   * of the file into this tx stream marked written, if any.
   */
  resumeAfter: number | null;
  /** After a replay: keep running (and serving the API) once it is drained and reported. */
  keepRunning: boolean;
  /** Alerts (stdout) and the progress line (stderr). */
  terminal: Terminal;
  /** Draw the progress line (off in tests that read stderr line by line). */
  progress: boolean;
  /**
   * Called once everything is started (the banner printed): until then a stop has nothing to drain, and
   * the set-up's waits on Redis (a restore, a cluster's slot map) do not look at `signal`.
   */
  onRunning?: () => void;
}

/** Runs until `signal` aborts, or until a replay is done (drained and reported) unless `keepRunning`. */
export async function runScanner(run: ScannerRun, signal: AbortSignal): Promise<void> {
  const { config, role, terminal } = run;
  const redis = redisAddressOf(config);
  if (role !== "all" && !redis) {
    throw new ScannerError(
      "ERR_CONFIG",
      `--role ${role} needs REDIS_URL or REDIS_CLUSTER_NODES: the in-memory backend lives inside one process`,
    );
  }
  if (typeof redis === "string") await checkRedisReachable(redis);
  else if (redis) await checkClusterReachable(redis.cluster);
  const backend: StreamBackend = redis ? new RedisStreamBackend(redis) : new MemoryStreamBackend();
  const names = topology(config.TROUPE_STREAM_PREFIX, { keyed: config.TROUPE_PARTITIONS !== null });
  const partitions = config.TROUPE_PARTITIONS;
  await (partitions !== null
    ? refuseUnkeyedHistory(backend, names, topology(config.TROUPE_STREAM_PREFIX), partitions)
    : refuseKeyedHistory(backend, topology(config.TROUPE_STREAM_PREFIX, { keyed: true }))
  ).catch(async (error: unknown) => {
    await backend.close();
    throw error;
  });
  // Opened (created, or its stored partition count checked) before anything reads or writes it.
  const mints =
    partitions === null
      ? null
      : await PartitionedStream.open(backend, names.mints.stream, { partitions }).catch(
          async (error: unknown) => {
            await backend.close();
            if (!(error instanceof TroupeError && error.code === "ERR_PARTITION_MISMATCH")) throw error;
            throw new ScannerError("ERR_CONFIG", `TROUPE_PARTITIONS=${partitions}: ${error.message}`);
          },
        );
  const system = createSystem({ supervisor: { maxRestarts: 10, periodMs: 60_000 } });
  // Unlike a crash (the dashboard and the metrics show those), this loses data: the operator must hear of it.
  system.events.on("stateLost", ({ actor, instance }) => {
    const at = new Date(systemClock.now()).toISOString();
    terminal.note(
      `${at} ${actor}#${instance}: Redis holds no record of its state (restarted without persistence?): it restarts from what Redis holds`,
    );
  });
  const consumer = config.TROUPE_CONSUMER;
  const analyze = role !== "ingest";
  // On Redis, other processes may run on this prefix whatever their roles (two `bun run start` included):
  // the writing of the tx stream and the analyzers go by lease. In memory, this process is the only one.
  const shared = redis !== null;
  const durable = config.TROUPE_DURABLE_STATE === "on";
  const alertMetrics = new AlertMetrics();
  const analyzers = analyze
    ? await startAnalyzers({
        system,
        backend,
        topology: names,
        consumer,
        claimIdleMs: config.TROUPE_CLAIM_IDLE_MS,
        maxDeliveries: config.TROUPE_MAX_DELIVERIES,
        mints,
        partitionThreads: config.TROUPE_PARTITION_THREADS,
        onAlert: (alert) => alertMetrics.count(alert),
        onMove: ({ actor, generation, reason, kept }) => {
          const at = new Date(systemClock.now()).toISOString();
          if (kept)
            terminal.note(
              reason === null
                ? `${at} ${actor} runs here again (lease generation ${generation}, nobody held it since: its actor and state kept)`
                : `${at} ${actor} paused: its lease was lost (lease generation ${generation}); it goes on if this process takes the lease again before another does`,
            );
          else
            terminal.note(
              reason === null
                ? `${at} ${actor} runs here from now (lease generation ${generation}, ${durable ? "state restored" : "state not kept: it starts from nothing"})`
                : `${at} ${actor} no longer runs here (${reason}, lease generation ${generation})`,
            );
        },
        onDeparted: ({ processes, units }) => {
          const at = new Date(systemClock.now()).toISOString();
          terminal.note(
            `${at} ${processes.join(", ")} gone (${processes.length > 1 ? "their" : "its"} connections closed): ${processes.length > 1 ? "their" : "its"} ${units} move at once`,
          );
        },
        // Processes on one Redis share the analyzers, a process that dies hands its own over (by lease);
        // without durable state too, since a split of each group's entries would split every analyzer's
        // state for good, where a move only starts the moved one from nothing.
        placement: shared ? { leaseMs: config.TROUPE_ANALYZER_LEASE_MS } : null,
        state: durable
          ? {
              checkpointEvery: config.TROUPE_CHECKPOINT_EVERY,
              checkpointIntervalMs: config.TROUPE_CHECKPOINT_MS,
            }
          : null,
        // Two processes under one name would both hold its leases: refused at start, naming the setting.
      }).catch((error: unknown) => {
        if (!(error instanceof TroupeError && error.code === "ERR_MEMBER_IN_USE")) throw error;
        throw new ScannerError(
          "ERR_CONFIG",
          `TROUPE_CONSUMER=${consumer}: another live process analyzes stream prefix ${config.TROUPE_STREAM_PREFIX} under this name; give each process its own`,
          { cause: error },
        );
      })
    : null;
  const sinks = analyze
    ? await startSinks({
        backend,
        topology: names,
        consumer,
        alertsFile: config.TROUPE_ALERTS_FILE,
        webhookUrl: config.ALERT_WEBHOOK_URL,
      })
    : null;
  // What this process wrote, over every writer it ran (one per term of the ingest lease).
  const ingest = role !== "analyze" ? { stats: writerStats() } : null;
  const stopRetention = startRetention(backend, names, mints);

  const served = listen(config, () =>
    serveControlApi({
      system,
      streams: createStreamsSource({
        backend,
        pumps: [...(analyzers?.groups ?? []), ...(sinks?.pumps.values() ?? [])],
        streams: [names.tx, names.alerts, names.findings],
        partitioned: analyzers?.placed ?? [],
        pending: config.TROUPE_PENDING_BANDS,
        lagSeconds: config.TROUPE_LAG_SECONDS_BANDS,
      }),
      detections: createDetectionsSource({
        backend,
        stream: names.alerts,
        detectors: [...WALLET_DETECTORS, ...PATTERN_DETECTORS, ...SYBIL_DETECTORS].map((d) => d.name),
        severities: Object.keys(SEVERITY_RANK),
      }),
      token: config.TROUPE_API_TOKEN,
      hostname: config.TROUPE_HTTP_HOST,
      port: config.TROUPE_HTTP_PORT,
    }),
  );
  alertMetrics.register(served.api.registry);
  // On Redis, ingest writes only while it holds the ingest lease (taken below); in memory, always.
  let lease: LeasedIngest<void> | null = null;
  if (ingest)
    registerIngestMetrics(served.api.registry, ingest.stats, () => (lease ? lease.writing() : !shared));
  console.error(
    `troupe scanner: role ${role}, ${typeof redis === "string" ? "redis" : redis ? "redis cluster" : "in-memory"} backend, consumer ${consumer}, control API ${served.url}`,
  );
  run.onRunning?.();
  const tail = analyze ? await showAlerts(backend, names, config, terminal) : null;
  const stopProgress = run.progress ? startProgress({ system, ingest, analyzers }, terminal) : () => {};

  const stopIngest = new AbortController();
  const ingestSignal = AbortSignal.any([signal, stopIngest.signal]);
  let replay: ReplaySummary | null = null;
  const write = (turn: WriterTurn, writeSignal: AbortSignal): Promise<void> => {
    const writer = new TxStreamWriter(backend, names, { downstream: mintsDownstream(names, mints) }, turn);
    return run.replay
      ? replayFile(writer, run, terminal, writeSignal).then((summary) => {
          replay = summary;
        })
      : generateLive(writer, config, terminal, writeSignal);
  };
  // Ingest processes take turns on the tx stream (a second one stands by).
  lease =
    ingest && shared
      ? await leaseIngest(
          backend,
          config,
          terminal,
          names.tx,
          ingestSignal,
          ({ signal: termSignal, mayWrite }) => write({ stats: ingest.stats, mayWrite }, termSignal),
        )
      : null;
  const ingesting = lease
    ? lease.done.then(() => {})
    : ingest
      ? write({ stats: ingest.stats }, ingestSignal)
      : Promise.resolve();
  const figures = () => ({
    topology: names,
    alerts: analyzers ? sum(analyzers.alertCounts.values()) : null,
    analyzerDeadLetters: sum([...(analyzers?.pumps.values() ?? [])].map((p) => p.stats.deadLettered)),
  });
  let reported = false;
  /** The replay's summary, once: after the last alerts it caused were shown. */
  const report = async () => {
    if (reported || !run.replay || !replay) return;
    reported = true;
    await tail?.catchUp().catch(() => {});
    terminal.note(replaySummary(run.replay, replay, figures()));
  };
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  // A replay is done once written and processed by every group here (an ingest-only process: once written).
  const done = run.replay
    ? ingesting
        .then(() =>
          analyzers && sinks
            ? untilDrained(backend, [...analyzers.upstreamFirst(), ...sinks.pumps.values()], {
                recheckMs: DRAIN_RECHECK_MS,
              })
            : null,
        )
        .then(() => (replay?.stopped ? stopped : report()))
    : stopped;
  await Promise.race([run.keepRunning ? done.then(() => stopped) : done, stopped]);

  await served.shutdown({
    drain: async () => {
      stopIngest.abort();
      await ingesting;
      await lease?.stop();
      await analyzers?.stop();
      await sinks?.stop();
      await system.stop({ deadlineMs: 10_000 });
    },
  });
  stopProgress();
  // A stopped replay reports what it wrote; and every alert written is shown before the exit (the last
  // ones came after the tail's last poll).
  await report();
  await tail?.catchUp().catch(() => {});
  tail?.stop();
  terminal.close();
  stopRetention();
  await backend.close();
}

/** The control API, bound where the settings say, or a configuration error naming them. */
function listen<T>(config: TroupeConfig, serve: () => T): T {
  try {
    return serve();
  } catch (error) {
    // Bun.serve throws at once: the port taken ("Is port N in use?"), the host unknown (getaddrinfo).
    throw new ScannerError(
      "ERR_CONFIG",
      `TROUPE_HTTP_HOST=${config.TROUPE_HTTP_HOST} TROUPE_HTTP_PORT=${config.TROUPE_HTTP_PORT}: cannot listen there: ${messageOf(error)}`,
      { cause: error },
    );
  }
}

/**
 * A prefix analyzed without partitions keeps the pattern analyzer's group on its tx stream. Keyed, no pattern
 * analyzer runs, nothing reads that group, and retention (which keeps what every group still needs) would
 * never trim the stream again: refused at start, naming the setting.
 */
async function refuseUnkeyedHistory(
  backend: StreamBackend,
  keyed: Topology,
  whole: Topology,
  partitions: number,
): Promise<void> {
  const ours = new Set(keyed.analyzers.map((a) => a.group));
  const unread = whole.analyzers.map((a) => a.group).filter((group) => !ours.has(group));
  const found = (await backend.groups(keyed.tx)).filter((g) => unread.includes(g.name));
  if (found.length === 0) return;
  throw new ScannerError(
    "ERR_CONFIG",
    `TROUPE_PARTITIONS=${partitions}: stream "${keyed.tx}" has the group${found.length > 1 ? "s" : ""} ${found.map((g) => `"${g.name}"`).join(", ")} of a run without partitions, which no analyzer reads with partitions (retention would stop trimming the stream): use another TROUPE_STREAM_PREFIX, or destroy the group if what it has not read is not needed`,
  );
}

/**
 * The reverse: a prefix whose mint stream was created (a keyed run, ingest included) is analyzed with that
 * many partitions only. Without them a pattern analyzer's group would appear on its tx stream, and every
 * keyed process after it would be refused for that group: refused here first, naming the setting.
 */
async function refuseKeyedHistory(backend: StreamBackend, keyed: Topology): Promise<void> {
  const stored = await backend.storedPartitions(keyed.mints.stream);
  if (stored === null) return;
  throw new ScannerError(
    "ERR_CONFIG",
    `TROUPE_PARTITIONS unset: stream "${keyed.mints.stream}" was created with ${stored} partitions by a run with TROUPE_PARTITIONS=${stored}: set it on every process of this TROUPE_STREAM_PREFIX, or use another prefix`,
  );
}

/**
 * Alerts on stdout as they are written: a readable line each on a terminal, JSON lines in a pipe
 * (TROUPE_ALERTS_STDOUT). Off when TROUPE_ALERTS_FILE=- already writes them there.
 */
async function showAlerts(
  backend: StreamBackend,
  names: Topology,
  config: TroupeConfig,
  terminal: Terminal,
): Promise<AlertTail | null> {
  const setting = config.TROUPE_ALERTS_STDOUT;
  if (setting === "off" || config.TROUPE_ALERTS_FILE === "-") return null;
  const text = setting === "text" || (setting === "auto" && terminal.stdoutIsTTY);
  const color = text && terminal.stdoutIsTTY && !process.env.NO_COLOR;
  const format = text
    ? (alert: Alert) => alertLine(alert, { color })
    : (alert: Alert) => JSON.stringify(alert);
  const tail = new AlertTail(backend, names.alerts, (alert) => terminal.print(format(alert)));
  await tail.start();
  return tail;
}

/**
 * Replays `run.replay`, marked by its absolute path, after the line given or else the line an earlier
 * replay of it marked; once at its end, a tick an event-minute past its last event makes the alerts waiting
 * for a quiet spell due (again, for a replay that had nothing left: the run that wrote its end may have
 * stopped before its tick).
 */
async function replayFile(
  ingest: TxStreamWriter,
  run: ScannerRun,
  terminal: Terminal,
  signal: AbortSignal,
): Promise<ReplaySummary> {
  const file = run.replay as string;
  const mark = resolvePath(file);
  const earlier = await ingest.replayMark(mark);
  const after = run.resumeAfter ?? earlier?.line ?? 0;
  if (run.resumeAfter === null && earlier !== null)
    terminal.note(
      `replay of ${file}: an earlier run wrote it up to line ${earlier.line.toLocaleString("en")}; going on after it (--resume-after 0 replays it whole)`,
    );
  const lastTs = after === earlier?.line ? earlier.ts : null;
  const summary = await ingest.replay(Bun.file(file).stream(), file, {
    pace: run.pace,
    after,
    mark,
    lastTs,
    signal,
  });
  if (!summary.stopped && summary.lastTs !== null) {
    await ingest.tick(summary.lastTs + 60_000, signal).catch((error) => {
      if (!signal.aborted) throw error;
    });
  }
  return summary;
}

/**
 * The ingest lease (ingest-lease.ts) of this process, under a member name of its own (two
 * processes on one host share the default consumer name), saying on stderr when it stands by, takes the
 * writing over or loses it.
 */
async function leaseIngest(
  backend: StreamBackend,
  config: TroupeConfig,
  terminal: Terminal,
  tx: string,
  signal: AbortSignal,
  write: (term: IngestTerm) => Promise<void>,
): Promise<LeasedIngest<void>> {
  const now = () => new Date(systemClock.now()).toISOString();
  let started = false;
  const lease = await leasedIngest({
    backend,
    prefix: config.TROUPE_STREAM_PREFIX,
    member: `${config.TROUPE_CONSUMER}/${crypto.randomUUID().slice(0, 8)}`,
    signal,
    write,
    onMove: ({ generation, reason }) => {
      if (reason === null && started)
        terminal.note(`${now()} ingest writes ${tx} from now (lease generation ${generation})`);
      else if (reason !== null && reason !== "stop")
        terminal.note(
          `${now()} ingest no longer writes ${tx} (${reason}, lease generation ${generation}): standing by`,
        );
    },
  });
  started = true;
  if (!lease.writing())
    terminal.note(
      `${now()} another ingest process writes ${tx}: standing by to take over when it stops or dies`,
    );
  return lease;
}

/**
 * The synthetic traffic of `TROUPE_SEED`, going on after what an earlier generator of that seed wrote to
 * this tx stream (a restart on Redis), which would otherwise come again under the same event ids.
 */
async function generateLive(
  ingest: TxStreamWriter,
  config: TroupeConfig,
  terminal: Terminal,
  signal: AbortSignal,
): Promise<void> {
  const seed = config.TROUPE_SEED;
  const after = await ingest.generatorMark(seed);
  if (after !== null)
    terminal.note(
      `generator (seed ${seed}): an earlier run wrote its hour ${after.hour} up to event ${after.events.toLocaleString("en")}; going on after it`,
    );
  await ingest.generate({ seed, rate: config.TROUPE_RATE, signal, after });
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

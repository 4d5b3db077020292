/**
 * The scanner as `bun run start` runs it: the stream backend (in memory by default, Redis with REDIS_URL),
 * the roles this process plays (ingest, analyze, or all), the HTTP control API, retention, the progress
 * line, and the shutdown order: readiness 503, stop ingest, drain and ack in-flight work, stop the HTTP
 * server, close the backend.
 */
import type { TroupeConfig } from "../config.ts";
import { SEVERITY_RANK } from "../detection/alert.ts";
import { PATTERN_DETECTORS } from "../detection/pattern-analyzer.ts";
import { SYBIL_DETECTORS } from "../detection/sybil-analyzer.ts";
import { WALLET_DETECTORS } from "../detection/wallet-analyzer.ts";
import { createDetectionsSource, createStreamsSource, serveControlApi } from "../http/index.ts";
import { TxStreamWriter } from "../ingest/stream-writer.ts";
import { createSystem } from "../runtime/system.ts";
import type { StreamBackend } from "../streams/backend.ts";
import { MemoryStreamBackend } from "../streams/memory-backend.ts";
import { RedisStreamBackend } from "../streams/redis-backend.ts";
import { startAnalyzers } from "./analyzers.ts";
import { ScannerError } from "./errors.ts";
import { startProgress } from "./progress.ts";
import { startRetention } from "./retention.ts";
import { startSinks } from "./sinks.ts";
import { topology } from "./topology.ts";

export type Role = "all" | "ingest" | "analyze";

export interface ScannerRun {
  config: TroupeConfig;
  role: Role;
  /** Replay this JSONL file instead of running the generator. */
  replay: string | null;
  pace: "full" | "recorded";
  /** Print the progress line (off in tests that read stderr). */
  progress: boolean;
}

export async function runScanner(run: ScannerRun, signal: AbortSignal): Promise<void> {
  const { config, role } = run;
  if (role !== "all" && !config.REDIS_URL) {
    throw new ScannerError(
      "ERR_CONFIG",
      `--role ${role} needs REDIS_URL: the in-memory backend lives inside one process`,
    );
  }
  const backend: StreamBackend = config.REDIS_URL
    ? new RedisStreamBackend(config.REDIS_URL)
    : new MemoryStreamBackend();
  const names = topology(config.TROUPE_STREAM_PREFIX);
  const system = createSystem({ supervisor: { maxRestarts: 10, periodMs: 60_000 } });
  const consumer = config.TROUPE_CONSUMER;
  const analyze = role !== "ingest";
  const analyzers = analyze
    ? await startAnalyzers({
        system,
        backend,
        topology: names,
        consumer,
        claimIdleMs: config.TROUPE_CLAIM_IDLE_MS,
        maxDeliveries: config.TROUPE_MAX_DELIVERIES,
        state:
          config.TROUPE_DURABLE_STATE === "on"
            ? {
                checkpointEvery: config.TROUPE_CHECKPOINT_EVERY,
                checkpointIntervalMs: config.TROUPE_CHECKPOINT_MS,
              }
            : null,
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
  const ingest = role !== "analyze" ? new TxStreamWriter(backend, names) : null;
  const stopRetention = startRetention(backend, names);

  const served = serveControlApi({
    system,
    streams: createStreamsSource({
      backend,
      pumps: [...(analyzers?.pumps.values() ?? []), ...(sinks?.pumps.values() ?? [])],
      streams: [names.tx, names.alerts],
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
  });
  console.error(
    `troupe scanner: role ${role}, ${config.REDIS_URL ? "redis" : "in-memory"} backend, consumer ${consumer}, control API ${served.url}`,
  );
  const stopProgress = run.progress ? startProgress({ system, ingest, analyzers }) : () => {};

  const stopIngest = new AbortController();
  const ingesting = ingest
    ? feed(ingest, run, config, AbortSignal.any([signal, stopIngest.signal]))
    : Promise.resolve();
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });

  await served.shutdown({
    drain: async () => {
      stopIngest.abort();
      await ingesting;
      await analyzers?.stop();
      await sinks?.stop();
      await system.stop({ deadlineMs: 10_000 });
    },
  });
  stopProgress();
  stopRetention();
  await backend.close();
}

/** The generator at TROUPE_RATE, or a JSONL replay followed by a tick so waiting alerts are flushed. */
async function feed(
  ingest: TxStreamWriter,
  run: ScannerRun,
  config: TroupeConfig,
  signal: AbortSignal,
): Promise<void> {
  if (!run.replay) return ingest.generate({ seed: config.TROUPE_SEED, rate: config.TROUPE_RATE, signal });
  const lastTs = await ingest.replay(Bun.file(run.replay).stream(), run.replay, { pace: run.pace });
  if (lastTs !== null) await ingest.tick(lastTs + 60_000);
  console.error(
    `replay of ${run.replay} done: ${ingest.stats.sent} events in, ${ingest.stats.rejected} rejected`,
  );
}

/**
 * Options of the control API and their defaults, in one place. `resolveControlApiOptions` merges and
 * validates them; a bad one fails at construction with an `InvalidOptionError` naming it.
 */
import { z } from "zod";
import { ActorSystem } from "../runtime/system.ts";
import type { DetectionsSource } from "./detections/source.ts";
import type { StreamsSource } from "./streams/source.ts";
import { parseOptions } from "./validate.ts";

export interface ControlApiOptions {
  /** The actor system to show and control. Required. */
  system: ActorSystem;
  /** Streams, groups and dead letters (`createStreamsSource(...)`); without it those routes are empty. @defaultValue null */
  streams?: StreamsSource | null;
  /**
   * Detections to list on `/alerts`, follow live on `/events` and chart on the dashboard
   * (`createDetectionsSource(...)`); without it `/alerts` is empty. @defaultValue null
   */
  detections?: DetectionsSource | null;
  /**
   * Bearer token for every mutating route (at least 16 characters). Without one, mutating routes answer
   * 403: nothing can be restarted or replayed over HTTP. @defaultValue null
   */
  token?: string | null;
  /** Require the token on every route, reads too (set by `serveControlApi` off loopback). @defaultValue false */
  requireTokenForReads?: boolean;
  /** Origins, besides the API's own, allowed to send mutating requests (`https://ops.example.com`). @defaultValue [] */
  allowedOrigins?: string[];
  /**
   * Host names (the Host header's, without its port) the API answers to; any other gets 403. Null answers
   * any. `serveControlApi` bound to loopback, given none, sets the loopback names: a page whose own name an
   * attacker points at 127.0.0.1 (DNS rebinding) is then refused, where it could read every route that
   * needs no token. @defaultValue null
   */
  allowedHosts?: string[] | null;
  /** Largest request body accepted; larger ones get 413. @defaultValue 16384 */
  bodyLimitBytes?: number;
  /** Concurrent `/events` streams; more get 429. @defaultValue 64 */
  maxEventStreams?: number;
  /** Heartbeat period of `/events` (Bun.serve closes a quiet stream after its idleTimeout, 10 s by default). @defaultValue 5000 */
  heartbeatMs?: number;
  /** Period of the `stats` snapshots on `/events` (header counters, actors, streams, health). @defaultValue 1000 */
  liveIntervalMs?: number;
  /** Lifecycle and stream events forwarded per live interval; the rest are counted as suppressed. @defaultValue 50 */
  maxEventsPerInterval?: number;
  /** Recent warnings and failures kept for new `/events` clients. @defaultValue 100 */
  recentAlerts?: number;
  /** Period of the samples kept for the dashboard's charts (`GET /history`). @defaultValue 5000 */
  historyIntervalMs?: number;
  /** Samples kept (the default is half an hour at the default period); 0 keeps none and takes none. @defaultValue 360 */
  historyPoints?: number;
  /** Deadline on every read of the streams source (Redis may be down). @defaultValue 2000 */
  sourceTimeoutMs?: number;
  /** A backend ping slower than this makes readiness degraded. @defaultValue 250 */
  slowPingMs?: number;
  /** Deadline of `GET /actors/:name/:instance/state` (a comlink call into the worker). @defaultValue 2000 */
  snapshotTimeoutMs?: number;
  /** Largest page of pending entries or dead letters. @defaultValue 500 */
  maxPageSize?: number;
  /** Records per round of `POST /dead-letters/replay`, so Redis is never blocked for long. @defaultValue 500 */
  replayBatchSize?: number;
  /** Add prom-client's default process metrics (`process_*`, `nodejs_*`) to `/metrics`. @defaultValue true */
  defaultMetrics?: boolean;
  /** Title of the dashboard page. @defaultValue "Troupe" */
  title?: string;
  /** Receives errors that became a 500 (they are not echoed to the client). @defaultValue console.error */
  onInternalError?: (error: unknown) => void;
}

export type ResolvedControlApiOptions = Required<ControlApiOptions>;

export const CONTROL_API_DEFAULTS = {
  streams: null,
  detections: null,
  token: null,
  requireTokenForReads: false,
  allowedOrigins: [],
  allowedHosts: null,
  bodyLimitBytes: 16_384,
  maxEventStreams: 64,
  heartbeatMs: 5_000,
  liveIntervalMs: 1_000,
  maxEventsPerInterval: 50,
  recentAlerts: 100,
  historyIntervalMs: 5_000,
  historyPoints: 360,
  sourceTimeoutMs: 2_000,
  slowPingMs: 250,
  snapshotTimeoutMs: 2_000,
  maxPageSize: 500,
  replayBatchSize: 500,
  defaultMetrics: true,
  title: "Troupe",
  onInternalError: (error: unknown) => console.error("troupe control api:", error),
} satisfies Omit<ResolvedControlApiOptions, "system">;

const int = (min: number, max: number) =>
  z
    .number({ error: `must be an integer from ${min} to ${max}` })
    .int({ error: `must be an integer from ${min} to ${max}` })
    .min(min, { error: `must be an integer from ${min} to ${max}` })
    .max(max, { error: `must be an integer from ${min} to ${max}` });

const SCHEMA = z
  .object({
    system: z.instanceof(ActorSystem, { error: "must be an ActorSystem (createSystem())" }),
    streams: z
      .custom<StreamsSource>((v) => typeof (v as StreamsSource).overview === "function", {
        error: "must be a StreamsSource (createStreamsSource())",
      })
      .nullable(),
    detections: z
      .custom<DetectionsSource>((v) => typeof (v as DetectionsSource | null)?.list === "function", {
        error: "must be a DetectionsSource (createDetectionsSource())",
      })
      .nullable(),
    token: z.string().min(16, { error: "must be at least 16 characters" }).nullable(),
    requireTokenForReads: z.boolean(),
    allowedOrigins: z.array(
      z.string().refine((s) => URL.canParse(s) && new URL(s).origin === s, {
        error: "must be an origin like https://ops.example.com",
      }),
    ),
    allowedHosts: z.array(z.string().min(1, { error: "must not be empty" })).nullable(),
    bodyLimitBytes: int(64, 16 * 1024 * 1024),
    maxEventStreams: int(1, 100_000),
    heartbeatMs: int(100, 9_000),
    liveIntervalMs: int(100, 60_000),
    maxEventsPerInterval: int(1, 10_000),
    recentAlerts: int(0, 10_000),
    historyIntervalMs: int(100, 3_600_000),
    historyPoints: int(0, 100_000),
    sourceTimeoutMs: int(10, 60_000),
    slowPingMs: int(1, 60_000),
    snapshotTimeoutMs: int(10, 60_000),
    maxPageSize: int(1, 10_000),
    replayBatchSize: int(1, 10_000),
    defaultMetrics: z.boolean(),
    title: z
      .string()
      .min(1, { error: "must not be empty" })
      .max(100, { error: "must be at most 100 characters" }),
    onInternalError: z.custom<(error: unknown) => void>((v) => typeof v === "function", {
      error: "must be a function",
    }),
  })
  .strict()
  .refine((o) => !o.requireTokenForReads || o.token !== null, {
    error: "requireTokenForReads needs a token",
    path: ["token"],
  });

export function resolveControlApiOptions(options: ControlApiOptions): ResolvedControlApiOptions {
  const defined = Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined));
  return parseOptions(SCHEMA, { ...CONTROL_API_DEFAULTS, ...defined }) as ResolvedControlApiOptions;
}

/**
 * `troupe/http`: the control API (Hono), its streams adapter and the Bun.serve helper.
 *
 * @example
 * ```ts
 * import { createStreamsSource, serveControlApi } from "troupe/http";
 * const served = serveControlApi({ system, streams: createStreamsSource({ backend, pumps }), port: 7070 });
 * ```
 */

export type { ControlApi } from "./app.ts";
export { createControlApi } from "./app.ts";
export type {
  DetectionCounts,
  DetectionFilter,
  DetectionPage,
  DetectionRecord,
  DetectionsSource,
  DetectionView,
} from "./detections/source.ts";
export type { DetectionsSourceOptions } from "./detections/stream-source.ts";
export { createDetectionsSource, DETECTIONS_SOURCE_DEFAULTS } from "./detections/stream-source.ts";
export type { ControlApiErrorCode, ErrorBody } from "./errors.ts";
export { ControlApiError } from "./errors.ts";
export type { HealthReason, HealthReasonCode, Readiness, ReadinessStatus } from "./health.ts";
export type { HistoryPoint } from "./history.ts";
export type { ControlApiOptions } from "./options.ts";
export { CONTROL_API_DEFAULTS } from "./options.ts";
export type { ServedControlApi, ServeOptions } from "./serve.ts";
export { isLoopback, SERVE_DEFAULTS, serveControlApi } from "./serve.ts";
export type { StreamsSourceOptions, WatchedPump, Watermark } from "./streams/backend-source.ts";
export { createStreamsSource, STREAMS_SOURCE_DEFAULTS } from "./streams/backend-source.ts";
export type {
  BackendHealth,
  DeadLetterStore,
  DeadLetterView,
  Page,
  PageRequest,
  PendingEntryInfo,
  StreamAlert,
  StreamGroupInfo,
  StreamsSource,
  WatermarkState,
} from "./streams/source.ts";
export type { ActorTotals, ActorView, Counters } from "./views.ts";

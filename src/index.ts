/**
 * `troupe`: the actor runtime. Everything public is named here; internals are imported by path in tests
 * only. Streams (backends, pumps, producer, retention, dead letters, entry codecs) are behind the
 * `troupe/streams` subpath, the HTTP control API behind `troupe/http`.
 */

export type { SerializedError, TroupeErrorCode, TroupeErrorOptions } from "./errors.ts";
export { InvalidOptionError, MessageRejectedError, TroupeError } from "./errors.ts";
export type { ActorStatus, Settled } from "./runtime/actor.ts";
export type {
  ActorStats,
  AskManyOptions,
  AskOptions,
  ControlOptions,
  StopOptions,
} from "./runtime/actor-ref.ts";
export { ActorRef } from "./runtime/actor-ref.ts";
export { ThreadPool, type ThreadPoolOptions } from "./runtime/actor-thread.ts";
export type { ActorDefinition, InitContext, MessageContext, QueryFn } from "./runtime/define-actor.ts";
export { defineActor } from "./runtime/define-actor.ts";
export type { TableCodec, Tables } from "./runtime/durable-table.ts";
export { DurableTable, memoryTables } from "./runtime/durable-table.ts";
export type { ActorEventName, ActorEventSource, ActorEvents, CrashReason } from "./runtime/events.ts";
export { MemoryStateStore } from "./runtime/memory-state-store.ts";
export type { HandlerErrorPolicy, UnhandledRejectionPolicy } from "./runtime/protocol.ts";
export { type RecordCodec, recordCodec } from "./runtime/record-codec.ts";
export type {
  RecycleOptions,
  RestartType,
  RouteKey,
  SpawnOptions,
  StateOptions,
} from "./runtime/spawn-options.ts";
export { SegmentCompaction } from "./runtime/state-compaction.ts";
export type { CompactionOptions } from "./runtime/state-log.ts";
export { SegmentReplay } from "./runtime/state-replay.ts";
export {
  RecordKind,
  readSegment,
  segmentOf,
  segmentRecords,
  ValueReader,
  type ValueWriter,
} from "./runtime/state-segment.ts";
export type { Checkpoint, RestoredState, StateScope, StateStore } from "./runtime/state-store.ts";
export type { CheckpointStats, DurableStats, InstanceState, InstanceStats } from "./runtime/stats.ts";
export type { EscalationAction, SupervisorOptions, SupervisorStrategy } from "./runtime/supervisor.ts";
export type {
  ActorDeadLetter,
  HealthStatus,
  StopResult,
  SystemHealth,
  SystemOptions,
} from "./runtime/system.ts";
export { ActorSystem, createSystem } from "./runtime/system.ts";
export { valueCodec } from "./runtime/value-codec.ts";
export type { BackoffOptions } from "./time/backoff.ts";
export type { Clock, TimerHandle, TimerOptions } from "./time/clock.ts";
export { systemClock } from "./time/clock.ts";

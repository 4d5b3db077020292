/**
 * Troupe's embedding API. Everything public is named here; internals are imported by path in tests only.
 * The HTTP control API lives behind the `troupe/http` subpath.
 */

export type { SerializedError, TroupeErrorCode } from "./errors.ts";
export { InvalidOptionError, MessageRejectedError, TroupeError } from "./errors.ts";
export type { ActorStatus } from "./runtime/actor.ts";
export type { ActorStats, AskOptions, ControlOptions } from "./runtime/actor-ref.ts";
export { ActorRef } from "./runtime/actor-ref.ts";
export type { ActorDefinition, InitContext, MessageContext } from "./runtime/define-actor.ts";
export { defineActor } from "./runtime/define-actor.ts";
export type { TableCodec, Tables } from "./runtime/durable-table.ts";
export { DurableTable, memoryTables, msgpackTableCodec } from "./runtime/durable-table.ts";
export type { ActorEventName, ActorEventSource, ActorEvents, CrashReason } from "./runtime/events.ts";
export { MemoryStateStore } from "./runtime/memory-state-store.ts";
export type { RestartType, RouteKey, SpawnOptions, StateOptions } from "./runtime/spawn-options.ts";
export type {
  Checkpoint,
  RestoredState,
  StateChanges,
  StateScope,
  StateStore,
} from "./runtime/state-store.ts";
export type { CheckpointStats, DurableStats, InstanceState, InstanceStats } from "./runtime/stats.ts";
export type { SupervisorOptions, SupervisorStrategy } from "./runtime/supervisor.ts";
export type { DeadLetter, HealthStatus, StopResult, SystemHealth, SystemOptions } from "./runtime/system.ts";
export { ActorSystem, createSystem } from "./runtime/system.ts";
export type { GroupInfo, StreamBackend, StreamEntry } from "./streams/backend.ts";
export type { DeadLetter as StreamDeadLetter, DeadLetterReason } from "./streams/dead-letters.ts";
export { DeadLetters } from "./streams/dead-letters.ts";
export type { EntryCodec } from "./streams/entry-codec.ts";
export { defaultCodec, jsonCodec, rawJsonCodec, rawPayloadCodec } from "./streams/entry-codec.ts";
// Streams: backends, the pump that feeds an actor from a stream, dead letters, producer, retention.
export { MemoryStreamBackend } from "./streams/memory-backend.ts";
export type { Output, Outputs } from "./streams/outputs.ts";
export type { ProducerOptions } from "./streams/producer.ts";
export { Producer } from "./streams/producer.ts";
export { Pump } from "./streams/pump.ts";
export type { PumpOptions } from "./streams/pump-options.ts";
export type { PumpTarget } from "./streams/pump-target.ts";
export { RedisStreamBackend } from "./streams/redis-backend.ts";
export type { RetentionOptions } from "./streams/retention.ts";
export { Retention } from "./streams/retention.ts";
export type { BackoffOptions } from "./time/backoff.ts";
export type { Clock, TimerHandle, TimerOptions } from "./time/clock.ts";
export { systemClock } from "./time/clock.ts";

/**
 * Troupe's embedding API. Everything public is named here; internals are imported by path in tests only.
 * The HTTP control API lives behind the `troupe/http` subpath.
 */

export type { SerializedError, TroupeErrorCode } from "./errors.ts";
export { InvalidOptionError, MessageRejectedError, TroupeError } from "./errors.ts";
export type { ActorStatus } from "./runtime/actor.ts";
export type { ActorStats, AskOptions, ControlOptions } from "./runtime/actor-ref.ts";
export { ActorRef } from "./runtime/actor-ref.ts";
export type { BackoffOptions } from "./runtime/backoff.ts";
export type { Clock } from "./runtime/clock.ts";
export { systemClock } from "./runtime/clock.ts";
export type { ActorDefinition, InitContext, MessageContext } from "./runtime/define-actor.ts";
export { defineActor } from "./runtime/define-actor.ts";
export type { ActorEventName, ActorEventSource, ActorEvents, CrashReason } from "./runtime/events.ts";
export type { RestartType, RouteKey, SpawnOptions } from "./runtime/spawn-options.ts";
export type { InstanceState, InstanceStats } from "./runtime/stats.ts";
export type { SupervisorOptions, SupervisorStrategy } from "./runtime/supervisor.ts";
export type {
  ActorDeadLetter,
  HealthStatus,
  StopResult,
  SystemHealth,
  SystemOptions,
} from "./runtime/system.ts";
export { ActorSystem, createSystem } from "./runtime/system.ts";
export type { GroupInfo, StreamBackend, StreamEntry } from "./streams/backend.ts";
export type { DeadLetterReason, StreamDeadLetter } from "./streams/dead-letters.ts";
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

/**
 * Troupe's embedding API. Everything public is named here; internals are imported by path in tests only.
 * The HTTP control API lives behind the `troupe/http` subpath.
 */
export { defineActor } from "./runtime/define-actor.ts";
export { createSystem, ActorSystem } from "./runtime/system.ts";
export { ActorRef } from "./runtime/actor-ref.ts";
export { TroupeError, InvalidOptionError } from "./errors.ts";
export { systemClock } from "./runtime/clock.ts";

export type { ActorDefinition, InitContext, MessageContext } from "./runtime/define-actor.ts";
export type { DeadLetter, SystemOptions, SystemHealth, StopResult, HealthStatus } from "./runtime/system.ts";
export type { ActorStats, AskOptions, ControlOptions } from "./runtime/actor-ref.ts";
export type { ActorStatus } from "./runtime/actor.ts";
export type { SpawnOptions, RestartType, RouteKey } from "./runtime/spawn-options.ts";
export type { SupervisorOptions, SupervisorStrategy } from "./runtime/supervisor.ts";
export type { BackoffOptions } from "./runtime/backoff.ts";
export type { ActorEvents, ActorEventName, CrashReason } from "./runtime/events.ts";
export type { InstanceStats, InstanceState } from "./runtime/stats.ts";
export type { Clock } from "./runtime/clock.ts";
export type { TroupeErrorCode, SerializedError } from "./errors.ts";

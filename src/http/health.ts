/**
 * Readiness, from what the runtime and the streams layer report. `unhealthy` (503) means "take me out of
 * rotation": shutting down, or the stream backend unreachable. `degraded` (still 200) means an operator
 * should look: a failed actor, a slow backend, a group past its critical watermark. `assess()` pairs
 * one reading of the streams layer with the readiness it implies, for `/health`, `/metrics` and `/events`.
 */
import type { ActorSystem, SystemHealth } from "../runtime/system.ts";
import type { StreamsReader, StreamsReading } from "./streams/reading.ts";
import type { BackendHealth } from "./streams/source.ts";

export type ReadinessStatus = "ok" | "degraded" | "unhealthy";

export type HealthReasonCode =
  | "shutting-down"
  | "system-stopping"
  | "actor-failed"
  | "backend-unreachable"
  | "backend-slow"
  | "streams-unavailable"
  | "watermark-critical";

export interface HealthReason {
  readonly code: HealthReasonCode;
  readonly message: string;
}

export interface Readiness {
  readonly status: ReadinessStatus;
  readonly reasons: HealthReason[];
  readonly failedActors: string[];
  /** `null` without a streams source. */
  readonly backend: BackendHealth | null;
}

const UNHEALTHY: ReadonlySet<HealthReasonCode> = new Set([
  "shutting-down",
  "system-stopping",
  "backend-unreachable",
]);

export function assessReadiness(input: {
  system: SystemHealth;
  streams: StreamsReading;
  shuttingDown: boolean;
  slowPingMs: number;
}): Readiness {
  const { system, streams } = input;
  const reasons: HealthReason[] = [];
  const add = (code: HealthReasonCode, message: string) => reasons.push({ code, message });
  if (input.shuttingDown) add("shutting-down", "the process is shutting down");
  if (system.status === "stopping") add("system-stopping", "the actor system is stopping");
  for (const actor of system.failedActors) {
    add("actor-failed", `actor ${actor} failed: restart intensity exceeded, it is not restarted`);
  }
  const backend = streams.backend;
  if (backend && !backend.up) {
    add("backend-unreachable", `${backend.kind} unreachable: ${backend.error ?? "no answer"}`);
  } else if (backend?.pingMs != null && backend.pingMs > input.slowPingMs) {
    add("backend-slow", `${backend.kind} ping ${backend.pingMs} ms is over ${input.slowPingMs} ms`);
  }
  if (streams.error !== null && !(backend && !backend.up)) {
    add("streams-unavailable", `stream figures unavailable: ${streams.error}`);
  }
  for (const g of streams.groups ?? []) {
    if (g.watermark !== "critical") continue;
    add(
      "watermark-critical",
      `${g.stream}/${g.group} over its critical watermark (lag ${g.lag ?? "unknown"} entries, ${secondsText(g.lagSeconds)}; pending ${g.pending})`,
    );
  }
  const status: ReadinessStatus = reasons.some((r) => UNHEALTHY.has(r.code))
    ? "unhealthy"
    : reasons.length > 0
      ? "degraded"
      : "ok";
  return { status, reasons, failedActors: system.failedActors, backend };
}

function secondsText(seconds: number | null): string {
  return seconds === null ? "unknown s" : `${Math.round(seconds * 10) / 10} s`;
}

export interface Assessment {
  readonly streams: StreamsReading;
  readonly readiness: Readiness;
}

export async function assess(input: {
  system: ActorSystem;
  reader: StreamsReader;
  slowPingMs: number;
  shuttingDown: boolean;
}): Promise<Assessment> {
  const streams = await input.reader.read();
  const readiness = assessReadiness({
    system: input.system.health(),
    streams,
    shuttingDown: input.shuttingDown,
    slowPingMs: input.slowPingMs,
  });
  return { streams, readiness };
}

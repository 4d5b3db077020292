/**
 * Lifecycle events and stream alerts as one kind of record for operators: a level, a one-line message,
 * and the fields to filter on. The live feed sends them on `/events` and keeps the recent ones for
 * dashboards that connect later.
 */
import type { ActorEventName, ActorEvents } from "../runtime/events.ts";
import type { Readiness } from "./health.ts";
import type { StreamAlert } from "./streams/source.ts";

export type AlertLevel = "info" | "warning" | "critical";

export interface LiveAlert {
  readonly at: number;
  readonly level: AlertLevel;
  /** `actor`: a runtime lifecycle event; `stream`: a pump's; `health`: readiness changed. */
  readonly source: "actor" | "stream" | "health";
  /** The event name: `crashed`, `restarted`, `deadLettered`, `readFailed`, `degraded`, ... */
  readonly kind: string;
  readonly message: string;
  readonly actor?: string;
  readonly instance?: number;
  readonly stream?: string;
  readonly group?: string;
}

type Payload<E extends ActorEventName> = Parameters<ActorEvents[E]>[0];

const DESCRIBE: { [E in ActorEventName]: (e: Payload<E>) => [AlertLevel, string] } = {
  spawned: (e) => ["info", `${e.actor} spawned with ${e.instances} instance(s)`],
  started: (e) => ["info", `${e.actor}#${e.instance} started`],
  crashed: (e) => [
    "warning",
    `${e.actor}#${e.instance} crashed (${e.reason}): ${e.error.message}; ${e.inFlight} in flight`,
  ],
  restarting: (e) => [
    "info",
    `${e.actor}#${e.instance} restarting in ${e.delayMs} ms (attempt ${e.attempt}, ${e.reason})`,
  ],
  restarted: (e) => ["info", `${e.actor}#${e.instance} restarted after ${e.downtimeMs} ms`],
  recycled: (e) => ["info", `${e.actor}#${e.instance} recycled (${e.reason}) after ${e.handled} messages`],
  failed: (e) => ["critical", `${e.actor} failed after ${e.restarts} restarts (${e.reason}): not restarted`],
  deadLettered: (e) => [
    "warning",
    `${e.actor}#${e.instance} dead-lettered a message (${e.reason}, ${e.deliveries} deliveries): ${e.error.message}`,
  ],
  backpressure: (e) => ["info", `${e.actor}#${e.instance}: ${e.waiting} sender(s) waiting for credit`],
  rejectionLogged: (e) => ["warning", `${e.actor}#${e.instance} unhandled rejection: ${e.error.message}`],
  fenced: (e) => ["critical", `${e.actor}#${e.instance} fenced: epoch ${e.epoch} taken over elsewhere`],
  stateLost: (e) => [
    "critical",
    `${e.actor}#${e.instance}: the store held no record of its state (Redis restarted without persistence?): restarted from what it holds`,
  ],
  stopped: (e) => ["info", `${e.actor} stopped (drained: ${e.drained}, undelivered: ${e.undelivered})`],
};

export const LIFECYCLE_EVENTS = Object.keys(DESCRIBE) as ActorEventName[];

export function lifecycleAlert<E extends ActorEventName>(kind: E, event: Payload<E>): LiveAlert {
  const [level, message] = DESCRIBE[kind](event);
  const instance = (event as { instance?: number }).instance;
  return {
    at: Date.now(),
    level,
    source: "actor",
    kind,
    message,
    actor: event.actor,
    ...(instance !== undefined && { instance }),
  };
}

export function streamAlert(alert: StreamAlert): LiveAlert {
  const { kind, level, stream, group, message } = alert;
  return {
    at: Date.now(),
    level,
    source: "stream",
    kind,
    message: `${stream}/${group}: ${message}`,
    stream,
    group,
  };
}

export function healthAlert(readiness: Readiness, previous: Readiness["status"]): LiveAlert {
  const level: AlertLevel =
    readiness.status === "ok" ? "info" : readiness.status === "degraded" ? "warning" : "critical";
  const why = readiness.reasons.map((r) => r.message).join("; ");
  return {
    at: Date.now(),
    level,
    source: "health",
    kind: readiness.status,
    message: `readiness ${previous} → ${readiness.status}${why ? `: ${why}` : ""}`,
  };
}

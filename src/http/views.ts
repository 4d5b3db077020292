/**
 * The JSON shapes of actors and of the header counters, built from the runtime's own stats so that
 * `/actors`, the live feed, the dashboard and the terminal monitor all show the same figures.
 */
import type { ActorStats } from "../runtime/actor-ref.ts";
import type { InstanceStats } from "../runtime/stats.ts";
import type { ActorSystem } from "../runtime/system.ts";

export interface ActorTotals {
  processed: number;
  failed: number;
  deadLettered: number;
  restarts: number;
  inFlight: number;
  credits: number;
  capacity: number;
  /** Senders waiting for credit. */
  waiting: number;
  /** Messages per second, summed over instances. */
  rate: { "1s": number; "10s": number; "60s": number };
  /** The worst instance's handler latency (ms) over its recent samples. */
  latencyMs: { p50: number; p99: number };
  /** The most recent error of any instance. */
  lastError: InstanceStats["lastError"];
}

export interface ActorView {
  name: string;
  status: ActorStats["status"];
  paused: boolean;
  /** Who holds it paused: "operator" (the control API), "lease" (its lease lapsed: lapsed-units.ts). */
  pausedBy: string[];
  totals: ActorTotals;
  instances: InstanceStats[];
}

export interface Counters {
  processed: number;
  failed: number;
  deadLettered: number;
  restarts: number;
  /** Messages per second over the last complete second, all actors. */
  throughput: number;
  actors: number;
  failedActors: number;
  uptimeSeconds: number;
}

export function actorView(stats: ActorStats): ActorView {
  const instances = stats.instances;
  const sum = (pick: (i: InstanceStats) => number) => instances.reduce((total, i) => total + pick(i), 0);
  const max = (pick: (i: InstanceStats) => number) => instances.reduce((m, i) => Math.max(m, pick(i)), 0);
  const lastError = instances
    .map((i) => i.lastError)
    .reduce<InstanceStats["lastError"]>(
      (latest, e) => (e && (!latest || e.at > latest.at) ? e : latest),
      null,
    );
  return {
    name: stats.name,
    status: stats.status,
    paused: stats.paused,
    pausedBy: stats.pausedBy,
    totals: {
      processed: sum((i) => i.processed),
      failed: sum((i) => i.failed),
      deadLettered: sum((i) => i.deadLettered),
      restarts: sum((i) => i.restarts),
      inFlight: sum((i) => i.inFlight),
      credits: sum((i) => Math.max(0, i.credits)),
      capacity: sum((i) => i.capacity),
      waiting: sum((i) => i.waiting),
      rate: {
        "1s": sum((i) => i.rate["1s"]),
        "10s": sum((i) => i.rate["10s"]),
        "60s": sum((i) => i.rate["60s"]),
      },
      latencyMs: { p50: max((i) => i.latencyMs.p50), p99: max((i) => i.latencyMs.p99) },
      lastError,
    },
    instances,
  };
}

export function actorViews(system: ActorSystem): ActorView[] {
  return system.stats().map(actorView);
}

export function counters(actors: readonly ActorView[], startedAt: number): Counters {
  const sum = (pick: (a: ActorTotals) => number) => actors.reduce((total, a) => total + pick(a.totals), 0);
  return {
    processed: sum((t) => t.processed),
    failed: sum((t) => t.failed),
    deadLettered: sum((t) => t.deadLettered),
    restarts: sum((t) => t.restarts),
    throughput: sum((t) => t.rate["1s"]),
    actors: actors.length,
    failedActors: actors.filter((a) => a.status === "failed").length,
    uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
  };
}

/** JSON-safe copy of an actor's state snapshot: BigInts become strings, Maps objects, Sets arrays. */
export function jsonSafe(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_, v) => {
      if (typeof v === "bigint") return v.toString();
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return [...v];
      return v;
    }) ?? "null",
  );
}

/**
 * Recovery variant: a pump feeds a no-op actor from a pre-filled stream at full speed; one marked entry
 * kills the actor's worker (`process.exit`) on its first delivery. Measured: the time from that exit to the
 * moment every entry the process held at the crash (in the actor's mailbox and waiting in the pump) has
 * been acked, after the supervisor restarted the worker and the runtime redelivered them. One crash per
 * process, late enough (60% of the stream) that the JIT is warm: with the default supervision, crashes
 * less than `periodMs` apart would each restart later than the one before (exponential backoff).
 */
import { createSystem } from "../../src/index.ts";
import { Pump } from "../../src/streams/pump.ts";
import { trade } from "../lib/payload.ts";
import type { Measurement } from "../lib/report.ts";
import type { CrashMessage } from "./crash.actor.ts";
import { type BackendKind, BENCH, fill, type Tuning, withBackend } from "./harness.ts";

const CRASH_ACTOR = new URL("./crash.actor.ts", import.meta.url);

export const METRICS = {
  recovered: (kind: BackendKind) => `${kind} crash → held entries acked`,
  restarted: (kind: BackendKind) => `${kind} crash → worker restarted`,
  held: (kind: BackendKind) => `${kind} entries held at crash`,
} as const;

/** Wall-clock ms with sub-ms precision, comparable across threads (each has its own `timeOrigin`). */
function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Crash → held entries acked again (ms), crash → worker restarted (ms), and how many entries the process
 * held at the crash, over a stream of `count` entries crashing at 60% of it.
 */
export async function crashRecovery(
  kind: BackendKind,
  tuning: Tuning,
  count = 50_000,
): Promise<Measurement[]> {
  const crashAt = Math.floor(count * 0.6);
  return withBackend(kind, async (backend, prefix, append) => {
    const stream = `${prefix}:e2e:recovery`;
    await fill(append, stream, count, (i) => (i === crashAt ? { ...trade(i), crash: true } : trade(i)));
    const crashedAt = new Float64Array(new SharedArrayBuffer(8));
    const system = createSystem();
    try {
      const ref = await system.spawn<CrashMessage>(CRASH_ACTOR, {
        instances: tuning.instances,
        capacity: tuning.capacity,
        init: { crashedAt: crashedAt.buffer },
      });
      // Every entry decoded and not acked yet: what the process holds. A snapshot of it at the crash is
      // what must be acked again.
      const held = new Set<string>();
      let lost: Set<string> | null = null;
      let heldAtCrash = 0;
      let restartedAt = 0;
      const recovered = Promise.withResolvers<number>();
      const pump = new Pump<CrashMessage, unknown>(backend, ref, {
        stream,
        group: "g",
        consumer: "bench",
        maxBatch: tuning.maxBatch,
        toMessage: (entry) => {
          held.add(entry.id);
          return entry.payload as CrashMessage;
        },
      });
      system.events.on("crashed", () => {
        lost = new Set(held);
        heldAtCrash = lost.size;
      });
      system.events.on("restarted", () => {
        restartedAt = now();
      });
      pump.on("acked", ({ ids }) => {
        for (const id of ids) {
          held.delete(id);
          lost?.delete(id);
        }
        if (lost?.size === 0) recovered.resolve(now());
      });
      pump.on("deadLettered", (e) =>
        recovered.reject(new Error(`entry ${e.entryId} dead-lettered: ${e.reason}`)),
      );
      await pump.start();
      const timeout = setTimeout(() => recovered.reject(new Error("no recovery within 30 s")), 30_000);
      const recoveredAt = await recovered.promise.finally(() => clearTimeout(timeout));
      await pump.stop();
      const died = crashedAt[0]!;
      return [
        { bench: BENCH, metric: METRICS.recovered(kind), value: recoveredAt - died, unit: "ms" },
        { bench: BENCH, metric: METRICS.restarted(kind), value: restartedAt - died, unit: "ms" },
        { bench: BENCH, metric: METRICS.held(kind), value: heldAtCrash, unit: "entries" },
      ];
    } finally {
      await system.stop();
    }
  });
}

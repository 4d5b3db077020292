/**
 * Waiting until consumer groups have finished a finite workload, on the pumps' events rather than by
 * polling: checked at once, then after every ack and every dead letter (a pump's last act may be either).
 * A group that another process consumes gives this one no events: with `recheckMs` the groups are also
 * checked that often, so a wait over groups shared between processes ends without one.
 */
import { InvalidOptionError } from "../errors.ts";
import { type Clock, systemClock } from "../time/clock.ts";
import { every } from "../time/timers.ts";
import type { StreamBackend } from "./backend.ts";

/** What waiting needs from a group: what it reads, and, consumed here, its pump's completion events. */
export interface DrainingPump {
  readonly options: { readonly stream: string; readonly group: string };
  on?(event: "acked" | "deadLettered", listener: () => void): () => void;
}

export interface DrainOptions {
  /** Also check every this many ms (groups consumed by other processes). @defaultValue none */
  recheckMs?: number;
  /** Times the rechecks. @defaultValue systemClock */
  clock?: Clock;
}

/**
 * Resolves once the (stream, group) of every pump has nothing undelivered and nothing pending. Give the pumps
 * upstream first (a pump whose actor writes to another pump's stream before it): they are checked one after
 * the other in that order, so a stage seen drained had written all it forwards before the stages it feeds
 * were checked.
 */
export function untilDrained(
  backend: StreamBackend,
  pumps: Iterable<DrainingPump>,
  { recheckMs, clock = systemClock }: DrainOptions = {},
): Promise<void> {
  if (recheckMs !== undefined && (!Number.isInteger(recheckMs) || recheckMs < 1))
    throw new InvalidOptionError("recheckMs", `must be a positive integer, got ${recheckMs}`);
  const entries = [...pumps];
  return new Promise((resolve) => {
    let checking = false;
    let again = false;
    const unsubscribe: Array<() => void> = [];
    const check = async () => {
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      do {
        again = false;
        if (await allDrained(backend, entries)) {
          for (const off of unsubscribe) off();
          resolve();
          return;
        }
      } while (again);
      checking = false;
    };
    for (const pump of entries) {
      if (!pump.on) continue;
      unsubscribe.push(pump.on("acked", check), pump.on("deadLettered", check));
    }
    if (recheckMs !== undefined) unsubscribe.push(every(clock, recheckMs, check));
    void check();
  });
}

/** Checks the groups in order, stopping at the first that still has work. */
async function allDrained(backend: StreamBackend, pumps: readonly DrainingPump[]): Promise<boolean> {
  for (const { options } of pumps) {
    const info = await backend.groupInfo(options.stream, options.group);
    if (info === null || info.lag !== 0 || info.pending !== 0) return false;
  }
  return true;
}

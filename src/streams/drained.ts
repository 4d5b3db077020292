/**
 * Waiting until consumer groups have finished a finite workload, on the pumps' events rather than by
 * polling: checked at once, then after every ack and every dead letter (a pump's last act may be either).
 */
import type { StreamBackend } from "./backend.ts";

/** What waiting needs from a pump: what it reads, and its completion events. */
export interface DrainingPump {
  readonly options: { readonly stream: string; readonly group: string };
  on(event: "acked" | "deadLettered", listener: () => void): () => void;
}

/**
 * Resolves once the (stream, group) of every pump has nothing undelivered and nothing pending. Give the pumps
 * upstream first (a pump whose actor writes to another pump's stream before it): they are checked one after
 * the other in that order, so a stage seen drained had written all it forwards before the stages it feeds
 * were checked.
 */
export function untilDrained(backend: StreamBackend, pumps: Iterable<DrainingPump>): Promise<void> {
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
      unsubscribe.push(pump.on("acked", check), pump.on("deadLettered", check));
    }
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

/** Waiting for a scanner pipeline to finish its work, on events rather than sleeps. */
import type { StreamBackend } from "../../src/streams/backend.ts";

/** What waiting needs from a pump: its completion events. */
interface PumpEvents {
  on(event: "acked" | "deadLettered", listener: () => void): () => void;
}

/** Resolves once every (stream, group) of `pumps` has nothing undelivered and nothing pending. */
export function untilDrained(
  backend: StreamBackend,
  pumps: Iterable<readonly [string, PumpEvents]>,
  streamOf: (group: string) => string,
): Promise<void> {
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
        const infos = await Promise.all(entries.map(([group]) => backend.groupInfo(streamOf(group), group)));
        if (infos.every((info) => info !== null && info.lag === 0 && info.pending === 0)) {
          for (const off of unsubscribe) off();
          resolve();
          return;
        }
      } while (again);
      checking = false;
    };
    for (const [, pump] of entries) {
      unsubscribe.push(pump.on("acked", check), pump.on("deadLettered", check));
    }
    void check();
  });
}

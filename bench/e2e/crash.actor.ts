import { defineActor } from "../../src/index.ts";

export interface CrashInit {
  /** One Float64 slot: the wall-clock ms (sub-ms precision) at which the worker killed itself. */
  crashedAt: SharedArrayBuffer;
}

/** A bench entry; `crash` marks the one that kills its worker. */
export interface CrashMessage {
  id: number;
  crash?: true;
}

/**
 * A no-op actor that kills its own worker (`process.exit`, as a fatal bug would) on the marked entry's first
 * delivery only, so the redelivery after the restart goes through. It writes the moment of death to shared
 * memory first: the main thread learns of the exit only later, and that delay is part of the recovery.
 */
export default defineActor({
  initialState: ({ init }: { init: CrashInit }) => new Float64Array(init.crashedAt),
  handle: (crashedAt, message: CrashMessage, ctx) => {
    if (message.crash && ctx.deliveries === 1) {
      crashedAt[0] = performance.timeOrigin + performance.now();
      process.exit(1);
    }
  },
});

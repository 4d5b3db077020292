/**
 * The pump's periodic sweep: claim entries idle longer than `claimIdleMs` in other consumers (a dead
 * or frozen process) and feed them through the same path as new entries; remove consumers that have
 * been idle for `deadConsumerIdleMs` with nothing pending (only then: XGROUP DELCONSUMER drops a
 * consumer's pending entries, and Redis never removes consumers itself); refresh the lag / pending
 * snapshot for stats.
 */
import type { Clock } from "../time/clock.ts";
import { every } from "../time/timers.ts";
import type { ClaimResult, GroupInfo, StreamBackend } from "./backend.ts";
import { ZERO_ID } from "./stream-id.ts";

/** What the sweep needs from its pump. */
export interface SweepHost {
  /**
   * Runs `claim` inside the pump's read loop, between two reads, with the room the pump has then: a
   * claim running beside a read could together take more entries than the credits. Resolves without
   * running it while the pump replays, is paused, has no room, or stops.
   */
  claimInLoop(claim: (room: number) => Promise<void>): Promise<void>;
  acceptClaimed(result: ClaimResult): void;
  consumerRemoved(consumer: string): void;
  snapshot(info: GroupInfo | null): void;
  sweepFailed(error: unknown): void;
}

export interface SweepOptions {
  stream: string;
  group: string;
  consumer: string;
  claimIdleMs: number;
  deadConsumerIdleMs: number;
  sweepIntervalMs: number;
  clock: Clock;
}

export class ClaimSweep {
  readonly #backend: StreamBackend;
  readonly #options: SweepOptions;
  readonly #host: SweepHost;
  /** XAUTOCLAIM cursor carried across sweeps, so a budget smaller than the idle backlog still progresses. */
  #cursor = ZERO_ID;
  #stopTimer: (() => void) | undefined;
  #running: Promise<void> | null = null;

  constructor(backend: StreamBackend, options: SweepOptions, host: SweepHost) {
    this.#backend = backend;
    this.#options = options;
    this.#host = host;
  }

  start(): void {
    const { sweepIntervalMs, clock } = this.#options;
    if (sweepIntervalMs === 0 || this.#stopTimer) return;
    this.#stopTimer = every(clock, sweepIntervalMs, () => void this.run());
  }

  stop(): void {
    this.#stopTimer?.();
    this.#stopTimer = undefined;
  }

  /** One sweep; concurrent calls share the one in progress. */
  run(): Promise<void> {
    this.#running ??= this.#sweep().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #sweep(): Promise<void> {
    const { stream, group, consumer, claimIdleMs, deadConsumerIdleMs } = this.#options;
    try {
      // A full batch, the pending list not scanned to its end: more idle entries may wait, so claim again
      // at the read loop's next turn. A dead process's backlog then moves at the pump's pace, where one
      // batch (maxBatch) per sweep interval took minutes for a mailbox's worth.
      let more = true;
      while (more) {
        more = false;
        await this.#host.claimInLoop(async (room) => {
          const result = await this.#backend.claimIdle(stream, group, consumer, {
            minIdleMs: claimIdleMs,
            count: room,
            cursor: this.#cursor,
          });
          this.#cursor = result.cursor;
          this.#host.acceptClaimed(result);
          more = result.cursor !== ZERO_ID && result.entries.length + result.deletedIds.length >= room;
        });
      }
      for (const c of await this.#backend.consumers(stream, group)) {
        if (c.name === consumer || c.pending > 0 || c.idleMs < deadConsumerIdleMs) continue;
        if ((await this.#backend.deleteConsumer(stream, group, c.name)) === "deleted") {
          this.#host.consumerRemoved(c.name);
        }
      }
      this.#host.snapshot(await this.#backend.groupInfo(stream, group));
    } catch (error) {
      this.#host.sweepFailed(error);
    }
  }
}

/**
 * The recent past of the figures the dashboard charts, sampled every `historyIntervalMs` whether or not a
 * dashboard is open, so a page opened now draws the last half hour at once (`GET /history`) instead of
 * starting from one point. A fixed number of samples is kept; sampling reads what `/health` reads (one
 * shared reading of the streams layer), so it costs Redis a few commands per interval.
 */
import type { Clock, TimerHandle } from "../time/clock.ts";

export interface HistoryPoint {
  /** ms since the epoch. */
  readonly at: number;
  /** Messages per second over the last second, all actors. */
  readonly throughput: number;
  /** Undelivered entries, summed over the groups whose lag is known; `null` without stream figures. */
  readonly lag: number | null;
  /** Delivered and unacknowledged entries, all groups; `null` without stream figures. */
  readonly pending: number | null;
  /** The worst group's lag in seconds; `null` without stream figures. */
  readonly lagSeconds: number | null;
  /** Detections seen so far, by detector; `null` without a detections source. */
  readonly detections: Readonly<Record<string, number>> | null;
}

export interface HistoryInputs {
  /** One sample; `null` when it could not be taken (it is skipped). */
  sample(): Promise<HistoryPoint | null>;
  intervalMs: number;
  points: number;
  /** Schedules the samples (tests move it by hand). */
  clock: Clock;
}

export class History {
  readonly #in: HistoryInputs;
  readonly #points: HistoryPoint[] = [];
  readonly #waiting: Array<() => void> = [];
  #timer: TimerHandle | null = null;
  #closed = false;

  constructor(inputs: HistoryInputs) {
    this.#in = inputs;
    if (inputs.points > 0) void this.#take();
  }

  /** Oldest first. */
  get points(): readonly HistoryPoint[] {
    return this.#points;
  }

  /** Resolves once the next sample was taken (or skipped). */
  next(): Promise<void> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) this.#in.clock.clearTimeout(this.#timer);
    this.#timer = null;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }

  /** The next sample is scheduled after this one is taken, so a slow reading never piles up. */
  async #take(): Promise<void> {
    const point = await this.#in.sample().catch(() => null);
    if (this.#closed) return;
    if (point) {
      this.#points.push(point);
      if (this.#points.length > this.#in.points) this.#points.shift();
    }
    for (const resolve of this.#waiting.splice(0)) resolve();
    // The samples must never be what keeps a finished program alive.
    this.#timer = this.#in.clock.setTimeout(() => void this.#take(), this.#in.intervalMs, { ref: false });
  }
}

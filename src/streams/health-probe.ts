/**
 * The pump's liveness probe of its backend. A stalled Redis (SIGSTOP, DEBUG SLEEP, a dead network)
 * answers nothing and closes nothing: a blocking read only notices at its watchdog (`blockMs` +
 * grace, 3 s by default), a command at its `commandTimeout` (5 s), and a pump with no room reads
 * nothing at all. So a cheap read (XLEN) goes out every `intervalMs`, one at a time; one unanswered
 * for `stallAfterMs`, or failing, marks the backend stalled, and the next answer marks it recovered.
 * Detection takes at most `intervalMs + stallAfterMs` (1.25 s by default) after the stall began.
 */
import type { Clock } from "../time/clock.ts";
import { every } from "../time/timers.ts";

/** What the probe needs from its pump. */
export interface ProbeHost {
  /** The backend stopped answering at `since` (epoch ms); `error` when the probe failed outright. */
  stalled(since: number, error: unknown): void;
  /** It answered again after a stall that began at `since`. */
  recovered(since: number): void;
}

export interface ProbeOptions {
  /** 0 turns the probe off. */
  intervalMs: number;
  stallAfterMs: number;
  clock: Clock;
}

export class HealthProbe {
  readonly #probe: () => Promise<unknown>;
  readonly #options: ProbeOptions;
  readonly #host: ProbeHost;
  #stopTimer: (() => void) | undefined;
  /** When the probe in flight was sent; `null` when none is. */
  #sentAt: number | null = null;
  #stalledSince: number | null = null;

  constructor(probe: () => Promise<unknown>, options: ProbeOptions, host: ProbeHost) {
    this.#probe = probe;
    this.#options = options;
    this.#host = host;
  }

  get stalledSince(): number | null {
    return this.#stalledSince;
  }

  start(): void {
    const { intervalMs, clock } = this.#options;
    if (intervalMs === 0 || this.#stopTimer) return;
    this.#stopTimer = every(clock, intervalMs, () => this.#send());
  }

  stop(): void {
    this.#stopTimer?.();
    this.#stopTimer = undefined;
  }

  #send(): void {
    // One probe at a time: a stalled server must not collect a queue of them.
    if (this.#sentAt !== null) return;
    const { clock, stallAfterMs } = this.#options;
    const sentAt = clock.now();
    this.#sentAt = sentAt;
    const late = clock.setTimeout(() => this.#stall(sentAt, null), stallAfterMs);
    this.#probe().then(
      () => {
        clock.clearTimeout(late);
        this.#sentAt = null;
        const since = this.#stalledSince;
        if (since === null || this.#stopTimer === undefined) return;
        this.#stalledSince = null;
        this.#host.recovered(since);
      },
      (error: unknown) => {
        clock.clearTimeout(late);
        this.#sentAt = null;
        this.#stall(sentAt, error);
      },
    );
  }

  #stall(since: number, error: unknown): void {
    if (this.#stalledSince !== null || this.#stopTimer === undefined) return;
    this.#stalledSince = since;
    this.#host.stalled(since, error);
  }
}

/**
 * Per-instance figures: counters, handler latency percentiles over the most recent samples, and
 * processed-message rates over the last 1 s / 10 s / 60 s. All bounded: a fixed ring of latency samples
 * and a fixed ring of per-second buckets, whatever the traffic.
 */
import type { SerializedError } from "../errors.ts";
import type { Clock } from "../time/clock.ts";

const LATENCY_SAMPLES = 1024;
const RATE_SECONDS = 60;

export interface InstanceStats {
  actor: string;
  instance: number;
  state: InstanceState;
  processed: number;
  failed: number;
  deadLettered: number;
  inFlight: number;
  credits: number;
  capacity: number;
  waiting: number;
  /** Frames sent: processed / frames is the batching achieved. */
  frames: number;
  restarts: number;
  /** Planned restarts (the `recycle` option): not failures, not in `restarts`. */
  recycles: number;
  lastError: (SerializedError & { at: number }) | null;
  latencyMs: { p50: number; p99: number; samples: number };
  rate: { "1s": number; "10s": number; "60s": number };
  /** Checkpoints and restores of an actor with durable state; null without one. */
  durable: DurableStats | null;
  /** The worker thread hosting it (its `threadId`), which a `ThreadPool` shares; null while it has none. */
  thread: number | null;
}

export interface CheckpointStats {
  /** When it became durable (clock ms). */
  at: number;
  ageMs: number;
  /** Keys written (set or deleted) and their value bytes. */
  keys: number;
  bytes: number;
  /** From the request to the worker until the store's write succeeded. */
  durationMs: number;
  /** Its longest slice in the worker: the most it held up the handling of a message. */
  pauseMs: number;
  /** What writing it cost the worker, all slices together (encoding the touched values). */
  workMs: number;
}

export interface DurableStats {
  /** This incarnation's epoch (0 before the first restore). */
  epoch: number;
  /** Handled messages waiting for a checkpoint (they hold their credits). */
  uncovered: number;
  checkpoints: number;
  /** Commits the store refused (each retried with backoff, merged with later checkpoints). */
  checkpointFailures: number;
  /** Commits refused because a newer incarnation took over (the instance is then fenced). */
  fencedWrites: number;
  /**
   * Commits refused because the store held no record of the state (Redis restarted without persistence):
   * each restarted the instance from what the store holds.
   */
  lostWrites: number;
  lastCheckpoint: CheckpointStats | null;
  /** The last restore: keys brought back, and ms from reading the store until the worker was ready. */
  restore: { keys: number; ms: number } | null;
}

/** `fenced`: a newer incarnation of this instance (elsewhere) took over its state; it never restarts. */
export type InstanceState =
  | "starting"
  | "running"
  | "restarting"
  | "paused"
  | "stopped"
  | "failed"
  | "fenced";

export class LatencyRing {
  readonly #samples = new Float64Array(LATENCY_SAMPLES);
  #count = 0;

  add(ms: number): void {
    this.#samples[this.#count % LATENCY_SAMPLES] = ms;
    this.#count++;
  }

  percentiles(): { p50: number; p99: number; samples: number } {
    const n = Math.min(this.#count, LATENCY_SAMPLES);
    if (n === 0) return { p50: 0, p99: 0, samples: 0 };
    const sorted = this.#samples.slice(0, n).sort();
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))] as number;
    return { p50: at(0.5), p99: at(0.99), samples: this.#count };
  }
}

export class RateWindow {
  readonly #buckets = new Float64Array(RATE_SECONDS);
  readonly #clock: Clock;
  #second = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#second = Math.floor(clock.now() / 1000);
  }

  add(count: number): void {
    this.#advance();
    this.#buckets[this.#second % RATE_SECONDS] =
      (this.#buckets[this.#second % RATE_SECONDS] as number) + count;
  }

  /** Messages per second over the last `seconds` complete seconds. */
  perSecond(seconds: number): number {
    this.#advance();
    let sum = 0;
    for (let s = this.#second - seconds; s < this.#second; s++) {
      sum += this.#buckets[((s % RATE_SECONDS) + RATE_SECONDS) % RATE_SECONDS] as number;
    }
    return sum / seconds;
  }

  #advance(): void {
    const now = Math.floor(this.#clock.now() / 1000);
    if (now <= this.#second) return;
    const steps = Math.min(now - this.#second, RATE_SECONDS);
    for (let i = 1; i <= steps; i++) this.#buckets[(this.#second + i) % RATE_SECONDS] = 0;
    this.#second = now;
  }
}

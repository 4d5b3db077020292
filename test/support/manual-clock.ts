/**
 * A Clock tests move by hand: `now()` and the timers set on it advance only on `advance(ms)`, which fires
 * every timer that falls due on the way, in time order (those set by a firing timer included).
 */
import type { Clock, TimerHandle } from "../../src/time/clock.ts";

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Set<Timer>();
  #onTimer: Array<() => void> = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.add(timer);
    const waiting = this.#onTimer;
    this.#onTimer = [];
    for (const resolve of waiting) resolve();
    // Only this clock ever reads its handles.
    return timer as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as unknown as Timer);
  }

  /** Resolves when the next timer is set: code under test has reached a wait on this clock. */
  nextTimer(): Promise<void> {
    return new Promise((resolve) => this.#onTimer.push(resolve));
  }

  /** Moves time forward by `ms`, firing each timer due by then at its own time. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (let next = this.#due(until); next; next = this.#due(until)) {
      this.#timers.delete(next);
      this.#now = next.at;
      next.fn();
    }
    this.#now = until;
  }

  #due(until: number): Timer | undefined {
    let first: Timer | undefined;
    for (const timer of this.#timers) {
      if (timer.at > until) continue;
      if (!first || timer.at < first.at || (timer.at === first.at && timer.seq < first.seq)) first = timer;
    }
    return first;
  }
}

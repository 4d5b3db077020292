/**
 * A group's delivery rate from successive readings of its `entriesRead` counter. Readings come whenever
 * someone asks (the dashboard every second, a scrape, a health check), so the rate is taken over the last
 * `windowMs` rather than between the last two readings, which may be milliseconds apart.
 */

interface Sample {
  readonly at: number;
  readonly read: number;
}

export class RateWindow {
  readonly #windowMs: number;
  readonly #samples = new Map<string, Sample[]>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Records a reading and returns entries per second over the window; `null` until two readings exist. */
  observe(key: string, at: number, read: number | null): number | null {
    if (read === null) {
      this.#samples.delete(key);
      return null;
    }
    let samples = this.#samples.get(key);
    // A counter that went down belongs to a group created again: start over.
    if (!samples || (samples.at(-1)?.read ?? 0) > read) {
      samples = [];
      this.#samples.set(key, samples);
    }
    samples.push({ at, read });
    // Keep one sample at least `windowMs` old (the rate's base), drop those older than it.
    while (samples.length > 2 && at - (samples[1] as Sample).at >= this.#windowMs) samples.shift();
    const base = samples[0] as Sample;
    if (at <= base.at) return null;
    return Math.round(((read - base.read) * 1000 * 10) / (at - base.at)) / 10;
  }

  /** Forgets every group not in `keys` (deleted groups must not hold memory forever). */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.#samples.keys()) if (!keys.has(key)) this.#samples.delete(key);
  }
}

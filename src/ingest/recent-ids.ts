/**
 * The event ids Ingest wrote lately, so an event delivered twice (a recording with a line repeated, a live
 * source resending after a reconnect) goes into the tx stream once: the detectors count what they see, and
 * a trade or a funding seen twice is counted twice (a 6% bundle read as 12%). An id is the event's
 * idempotency key (`${signature}:${ix}`). Kept for a window of event time behind the newest event, and at most
 * `maxIds` of them, so memory follows the rate, not the run: a duplicate farther apart than that, or one
 * across a restart of the process, is not caught here.
 */

export interface RecentIdsOptions {
  /** Event time an id is remembered for, behind the newest event seen. @defaultValue 600_000 (10 min) */
  windowMs?: number;
  /** Ids remembered at most, the oldest forgotten first. @defaultValue 500_000 */
  maxIds?: number;
}

export class RecentIds {
  readonly #windowMs: number;
  readonly #ids = new Set<string>();
  /** The remembered ids in the order they came, and their event times: a ring of `maxIds` slots. */
  readonly #order: (string | undefined)[];
  readonly #ts: Float64Array;
  #head = 0;
  #count = 0;
  #newest = Number.NEGATIVE_INFINITY;

  constructor(options: RecentIdsOptions = {}) {
    this.#windowMs = options.windowMs ?? 600_000;
    const maxIds = options.maxIds ?? 500_000;
    this.#order = new Array(maxIds);
    this.#ts = new Float64Array(maxIds);
  }

  /** True the first time `id` is seen within the window (and remembers it), false for a repeat. */
  admit(id: string, ts: number): boolean {
    const ids = this.#ids;
    if (ids.has(id)) return false;
    if (ts > this.#newest) this.#newest = ts;
    const capacity = this.#ts.length;
    const oldestKept = this.#newest - this.#windowMs;
    // Forget what fell out of the window, then the oldest if the ring is full.
    while (this.#count > 0 && (this.#count === capacity || this.#ts[this.#head]! < oldestKept)) {
      ids.delete(this.#order[this.#head] as string);
      this.#order[this.#head] = undefined;
      this.#head = (this.#head + 1) % capacity;
      this.#count--;
    }
    const slot = (this.#head + this.#count) % capacity;
    this.#order[slot] = id;
    this.#ts[slot] = ts;
    this.#count++;
    ids.add(id);
    return true;
  }
}

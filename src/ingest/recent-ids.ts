/**
 * The event ids Ingest wrote lately, so an event delivered twice (a recording with a line repeated, a live
 * source resending after a reconnect) goes into the tx stream once: the detectors count what they see, and
 * a trade or a funding seen twice is counted twice (a 6% bundle read as 12%). An id is the event's
 * idempotency key (`${signature}:${ix}`). Kept for a window of event time behind the newest event, and at most
 * `maxIds` of them, so memory follows the rate, not the run: a duplicate farther apart than that, or one
 * across a restart of the process, is not caught here.
 */
import { Deque } from "../runtime/deque.ts";

export interface RecentIdsOptions {
  /** Event time an id is remembered for, behind the newest event seen. @defaultValue 600_000 (10 min) */
  windowMs?: number;
  /** Ids remembered at most, the oldest forgotten first. @defaultValue 500_000 */
  maxIds?: number;
}

export class RecentIds {
  readonly #windowMs: number;
  readonly #maxIds: number;
  readonly #ids = new Set<string>();
  readonly #order = new Deque<{ id: string; ts: number }>();
  #newest = Number.NEGATIVE_INFINITY;

  constructor(options: RecentIdsOptions = {}) {
    this.#windowMs = options.windowMs ?? 600_000;
    this.#maxIds = options.maxIds ?? 500_000;
  }

  /** True the first time `id` is seen within the window (and remembers it), false for a repeat. */
  admit(id: string, ts: number): boolean {
    if (this.#ids.has(id)) return false;
    if (ts > this.#newest) this.#newest = ts;
    this.#ids.add(id);
    this.#order.push({ id, ts });
    const order = this.#order;
    for (;;) {
      const oldest = order.at(0);
      if (!oldest || (order.length <= this.#maxIds && oldest.ts >= this.#newest - this.#windowMs)) break;
      order.shift();
      this.#ids.delete(oldest.id);
    }
    return true;
  }
}

/**
 * A mint's buy volume over a sliding window, kept in `BUCKETS` time buckets: O(1) per buy and no
 * per-buy state, measured to within one bucket (windowMs / 20).
 */
export const BUCKETS = 20;

export class BuyVolume {
  readonly #sol = new Float64Array(BUCKETS);
  readonly #bucketMs: number;
  /** Index (ts / bucketMs) of the newest bucket. */
  #last = 0;
  /** Id of the latest buy added, for alerts raised on a flush. */
  lastId = "";

  constructor(windowMs: number) {
    this.#bucketMs = windowMs / BUCKETS;
  }

  add(ts: number, lamports: number, id: string): void {
    this.#advance(Math.floor(ts / this.#bucketMs));
    this.#sol[this.#last % BUCKETS]! += lamports;
    this.lastId = id;
  }

  /** Volume within the window ending at `ts`. */
  total(ts: number): number {
    this.#advance(Math.floor(ts / this.#bucketMs));
    let sum = 0;
    for (let i = 0; i < BUCKETS; i++) sum += this.#sol[i]!;
    return sum;
  }

  /** True when nothing was bought within the window ending at `ts`. */
  idle(ts: number): boolean {
    return Math.floor(ts / this.#bucketMs) - this.#last >= BUCKETS;
  }

  #advance(index: number): void {
    if (index <= this.#last) return;
    if (index - this.#last >= BUCKETS) this.#sol.fill(0);
    else for (let i = this.#last + 1; i <= index; i++) this.#sol[i % BUCKETS] = 0;
    this.#last = index;
  }
}

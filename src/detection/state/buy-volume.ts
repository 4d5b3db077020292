/**
 * Mints' buy volume over a sliding window, kept in `BUCKETS` time buckets per mint: O(1) per buy and no
 * per-buy state, measured to within one bucket (windowMs / 20). The buckets are plain data in a durable
 * table keyed by mint.
 */
import type { DurableTable } from "../../runtime/durable-table.ts";

export const BUCKETS = 20;

export interface Buckets {
  sol: Float64Array;
  /** Index (ts / bucketMs) of the newest bucket. */
  last: number;
  /** Id of the latest buy added, for alerts raised on a flush. */
  lastId: string;
}

export class BuyVolume {
  readonly #mints: DurableTable<Buckets>;
  readonly #bucketMs: number;

  constructor(mints: DurableTable<Buckets>, windowMs: number) {
    this.#mints = mints;
    this.#bucketMs = windowMs / BUCKETS;
  }

  add(mint: string, ts: number, lamports: number, id: string): void {
    let buckets = this.#mints.get(mint);
    if (buckets === undefined) {
      buckets = { sol: new Float64Array(BUCKETS), last: 0, lastId: "" };
      this.#mints.set(mint, buckets);
    } else {
      this.#mints.touch(mint);
    }
    this.#advance(buckets, Math.floor(ts / this.#bucketMs));
    buckets.sol[buckets.last % BUCKETS]! += lamports;
    buckets.lastId = id;
  }

  /** Volume of `mint` within the window ending at `ts` (0 for a mint without buys). */
  total(mint: string, ts: number): number {
    const buckets = this.#mints.get(mint);
    if (buckets === undefined) return 0;
    if (this.#advance(buckets, Math.floor(ts / this.#bucketMs))) this.#mints.touch(mint);
    let sum = 0;
    for (let i = 0; i < BUCKETS; i++) sum += buckets.sol[i]!;
    return sum;
  }

  /** Id of the latest buy of `mint`, if it has any. */
  lastId(mint: string): string | undefined {
    return this.#mints.get(mint)?.lastId;
  }

  /** Forgets the mints without a buy within the window ending at `ts`. */
  prune(ts: number): void {
    const index = Math.floor(ts / this.#bucketMs);
    for (const [mint, buckets] of this.#mints) if (index - buckets.last >= BUCKETS) this.#mints.delete(mint);
  }

  get size(): number {
    return this.#mints.size;
  }

  /** Moves the newest bucket to `index`, clearing those passed; true when it moved. */
  #advance(buckets: Buckets, index: number): boolean {
    if (index <= buckets.last) return false;
    if (index - buckets.last >= BUCKETS) buckets.sol.fill(0);
    else for (let i = buckets.last + 1; i <= index; i++) buckets.sol[i % BUCKETS] = 0;
    buckets.last = index;
    return true;
  }
}

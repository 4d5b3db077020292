/**
 * The keys of a book touched since the last touched-delta flush, in the order first touched. They were a
 * durable table of their own, which cost three writes per key and flush period (the key, its insertion
 * rank, its deletion at the flush); instead the book's value records when it was first touched (`drain`, the
 * flush period; `order`, the rank within it), which costs nothing extra since the book writes that value on
 * every touch anyway. A restore finds the pending keys by scanning the book once.
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { Scalars } from "./tables.ts";

/** The fields a book's value keeps for {@link TouchedKeys}. */
export interface TouchMark {
  /** The flush period in which the value was last first-touched. */
  drain: number;
  /** Its rank among the keys first touched in that period. */
  order: number;
}

export class TouchedKeys {
  readonly #periods: Scalars<{ drains: number }>;
  /** In first-touch order: a Set keeps insertion order. */
  readonly #keys = new Set<string>();
  #next = 0;

  /** `name`: the table of the flush count; `book`: the values, to find the pending keys after a restore. */
  constructor(tables: Tables, name: string, book: DurableTable<TouchMark>) {
    this.#periods = new Scalars(tables, name, { drains: 0 });
    const drains = this.#periods.value.drains;
    const pending: [string, number][] = [];
    for (const [key, mark] of book) if (mark.drain === drains) pending.push([key, mark.order]);
    pending.sort((a, b) => a[1] - b[1]);
    for (const [key, order] of pending) {
      this.#keys.add(key);
      this.#next = order + 1;
    }
  }

  /** Records a touch of `key`; the caller writes `mark`'s value in this same change. */
  mark(key: string, mark: TouchMark): void {
    // Marked in this period already, so in the set: no hash lookup (a value leaves the book with its key,
    // and a new one starts unmarked, so the mark cannot outlive the key's place in the set).
    const drains = this.#periods.value.drains;
    if (mark.drain === drains) return;
    this.#keys.add(key);
    mark.drain = drains;
    mark.order = this.#next++;
  }

  /** The key is gone from the book. */
  delete(key: string): void {
    this.#keys.delete(key);
  }

  /** The keys touched since the last call, in first-touch order; starts a new period. */
  drain(): string[] {
    const keys = [...this.#keys];
    this.#keys.clear();
    this.#next = 0;
    this.#periods.value.drains++;
    this.#periods.changed();
    return keys;
  }
}

/**
 * FIFO queue with O(1) push/shift and cheap removal of a batch from the front, used for mailbox windows.
 * A plain array's shift() is O(n); this keeps a head index and compacts once the dead prefix dominates.
 */
export class Deque<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined as T;
    this.#head++;
    this.#compact();
    return item;
  }

  /** Removes the `count` oldest items (fewer if there are fewer). */
  dropFront(count: number): void {
    if (count <= 0) return;
    for (let i = this.#head, end = Math.min(this.#items.length, this.#head + count); i < end; i++)
      this.#items[i] = undefined as T;
    this.#head = Math.min(this.#items.length, this.#head + count);
    this.#compact();
  }

  /** Removes and returns the `count` oldest items (fewer if there are fewer), in order. */
  takeFront(count: number): T[] {
    const end = Math.min(this.#items.length, this.#head + count);
    const out = this.#items.slice(this.#head, end);
    this.#head = end;
    this.#compact();
    return out;
  }

  /** Drops the dead prefix once it dominates (amortised O(1) per removal). */
  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  pushAll(items: readonly T[]): void {
    for (const item of items) this.#items.push(item);
  }

  /** The item `index` places from the front, without removing it. */
  at(index: number): T | undefined {
    return this.#items[this.#head + index];
  }

  /** Replaces the item `index` places from the front. */
  set(index: number, item: T): void {
    this.#items[this.#head + index] = item;
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    const out = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return out;
  }

  remove(item: T): boolean {
    const index = this.#items.indexOf(item, this.#head);
    if (index < 0) return false;
    this.#items.splice(index, 1);
    return true;
  }
}

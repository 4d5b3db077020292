/**
 * The discrete-event queue: a binary min-heap keyed by (ts, seq). `seq` is the insertion order, so
 * tasks at the same instant run in the order they were scheduled and the output is deterministic.
 */
export interface Task {
  ts: number;
  seq: number;
  run: () => void;
}

export class TaskHeap {
  readonly #items: Task[] = [];
  #seq = 0;

  push(ts: number, run: () => void): void {
    const items = this.#items;
    const task = { ts, seq: this.#seq++, run };
    let i = items.push(task) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(task, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = task;
  }

  pop(): Task | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(items[right]!, items[left]!) ? right : left;
      if (!before(items[child]!, last)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }

  get size(): number {
    return this.#items.length;
  }
}

function before(a: Task, b: Task): boolean {
  return a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq);
}

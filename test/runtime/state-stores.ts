/**
 * A state store for runtime tests: the runtime's MemoryStateStore, plus what a test needs to watch and
 * disturb it: every successful commit is recorded (with what it covered), `until` resolves once a
 * condition holds after a commit (the runtime has reacted to it by then), and `refuse(n)` makes the next n commits fail the way a Redis out of memory
 * does (nothing written, a plain error, not ERR_FENCED).
 */

import { MemoryStateStore } from "../../src/index.ts";
import { segmentRecords } from "../../src/runtime/state-segment.ts";
import type { Checkpoint, RestoredState, StateScope, StateStore } from "../../src/runtime/state-store.ts";

export interface CommitRecord {
  scope: StateScope;
  epoch: number;
  keys: number;
  covers: unknown[];
}

export class TestStateStore implements StateStore {
  readonly inner = new MemoryStateStore();
  readonly commits: CommitRecord[] = [];
  refused = 0;
  #refuse = 0;
  #gate: { entered: () => void; released: Promise<void> } | null = null;
  #waiters: Array<{ holds: () => boolean; resolve: () => void }> = [];

  /** Tags the runtime gave back unsettled (`release`). */
  readonly released: unknown[] = [];

  restore(scope: StateScope, after?: number): Promise<RestoredState> {
    return this.inner.restore(scope, after);
  }

  release(covers: readonly unknown[]): void {
    this.released.push(...covers);
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    const gate = this.#gate;
    if (gate) {
      this.#gate = null;
      gate.entered();
      await gate.released;
    }
    try {
      if (this.#refuse > 0) {
        this.#refuse--;
        this.refused++;
        throw new Error("OOM command not allowed when used memory > 'maxmemory'");
      }
      await this.inner.commit(checkpoint);
      this.commits.push({
        scope: checkpoint.scope,
        epoch: checkpoint.epoch,
        keys: checkpoint.segments.reduce((sum, segment) => sum + segmentRecords(segment), 0),
        covers: [...checkpoint.covers],
      });
    } finally {
      // Checked once the caller has seen this commit's outcome (its reaction is a chain of microtasks).
      setImmediate(() => this.#check());
    }
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.holds()) return true;
      w.resolve();
      return false;
    });
  }

  /** The next `n` commits fail (nothing written). */
  refuse(n: number): void {
    this.#refuse = n;
  }

  /**
   * Holds the next commit before it writes anything: `entered` resolves once it is held, `release` lets it
   * go on (to succeed, or to fail if `refuse` was called meanwhile).
   */
  hold(): { entered: Promise<void>; release: () => void } {
    let entered = () => {};
    let release = () => {};
    const enteredPromise = new Promise<void>((resolve) => (entered = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#gate = { entered, released };
    return { entered: enteredPromise, release };
  }

  /** Resolves once `holds()` is true, checked after every commit (refused or not). */
  until(holds: () => boolean): Promise<void> {
    if (holds()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ holds, resolve }));
  }

  committed(n: number): Promise<void> {
    return this.until(() => this.commits.length >= n);
  }

  /** Every tag covered by a successful commit, in commit order. */
  covered(): unknown[] {
    return this.commits.flatMap((c) => c.covers);
  }
}

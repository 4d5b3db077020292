/**
 * Worker side of a checkpoint, written in slices so that it never stalls message handling for long: when
 * one is asked for, the tables' touched keys are frozen and written a slice of at most `sliceMs` at each
 * message boundary (or, when the worker is idle, one slice per turn of its event loop); the last slice
 * writes what the messages handled meanwhile touched, and the checkpoint covers every message handled up to
 * it. As with Flink's asynchronous snapshots, the checkpoint's work overlaps processing; without Flink's
 * copy-on-write state (values here are mutated in place), a key changed after it was written is written
 * again by the last slice instead.
 */
import type { DurableTables } from "./durable-table.ts";
import type { SegmentWriter } from "./state-segment.ts";

/** What a finished checkpoint hands back to the worker's host. */
export interface TakenCheckpoint {
  segment: Uint8Array | null;
  /** The longest slice: the most a message waited on the checkpoint. */
  pauseMs: number;
  /** All slices together: the checkpoint's cost to the worker. */
  workMs: number;
}

export class CheckpointTaker {
  readonly #tables: DurableTables;
  readonly #writer: SegmentWriter;
  readonly #sliceMs: number;
  #active = false;
  #pauseMs = 0;
  #workMs = 0;

  constructor(tables: DurableTables, writer: SegmentWriter, sliceMs: number) {
    this.#tables = tables;
    this.#writer = writer;
    this.#sliceMs = sliceMs;
  }

  /** A checkpoint is under way (asked for, not yet finished). */
  get active(): boolean {
    return this.#active;
  }

  /** Begins a checkpoint (a no-op while one is under way): what is touched from now on is caught up at its end. */
  begin(): void {
    if (this.#active) return;
    this.#active = true;
    this.#pauseMs = 0;
    this.#workMs = 0;
    this.#tables.freeze();
  }

  /**
   * Writes one slice at a message boundary; returns the checkpoint once its last slice is written (the
   * caller posts it, covering every message handled so far), null while frozen keys are left.
   */
  step(): TakenCheckpoint | null {
    if (!this.#active) return null;
    const started = performance.now();
    if (!this.#tables.collectFrozen(this.#writer, started + this.#sliceMs)) {
      this.#account(performance.now() - started);
      return null;
    }
    this.#tables.collect(this.#writer);
    const segment = this.#writer.finish();
    this.#account(performance.now() - started);
    this.#active = false;
    return { segment, pauseMs: this.#pauseMs, workMs: this.#workMs };
  }

  #account(ms: number): void {
    this.#workMs += ms;
    if (ms > this.#pauseMs) this.#pauseMs = ms;
  }
}

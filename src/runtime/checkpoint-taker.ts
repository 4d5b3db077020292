/**
 * Worker side of a checkpoint, written in slices so that it never stalls message handling for long: when
 * one is asked for, the tables' touched keys are frozen and written a slice of at most `sliceMs` at a
 * time; the last slice writes what the messages handled meanwhile touched, and the checkpoint covers every
 * message handled up to it. As with Flink's asynchronous snapshots, the checkpoint's work overlaps
 * processing; without Flink's copy-on-write state (values here are mutated in place), a key changed after it
 * was written is written again by the last slice instead.
 *
 * Slices go where the worker would idle: a slice per turn of its event loop while it has no message, and
 * between messages only once the checkpoint is `deferMs` old (100 ms by default), so a worker that never
 * idles still finishes it (its credits hold half its capacity back for that: checkpointer.ts). A slice at
 * every message boundary made each message of a burst wait a slice: a checkpoint of 30-50 ms of work (an
 * analyzer's second of traffic at 5,000 events/s) held the messages that came during it back by as much.
 *
 * Rounds keep the last slice short too (the iterative pre-copy of a live VM migration): a checkpoint spread
 * over idle turns lasts longer, and the messages handled meanwhile touch more keys, which the last slice
 * writes whole. So once the frozen keys are written, the keys touched meanwhile are frozen and sliced in
 * turn, while they are more than {@link LAST_SLICE_KEYS} and for at most {@link MAX_ROUNDS} rounds.
 */
import type { DurableTables } from "./durable-table.ts";
import type { SegmentWriter } from "./state-segment.ts";

/** Touched keys the last slice writes at once: about a slice's worth (analyzer values: ~500 per ms). */
const LAST_SLICE_KEYS = 512;

/** Rounds of a checkpoint at most: a worker touching keys faster than it writes them still finishes. */
const MAX_ROUNDS = 4;

/** What a finished checkpoint hands back to the worker's host. */
export interface TakenCheckpoint {
  segment: Uint8Array | null;
  /** The longest slice: the most a message waited on the checkpoint. */
  pauseMs: number;
  /** All slices together: the checkpoint's cost to the worker. */
  workMs: number;
  /** Rounds of frozen keys written before the last slice. */
  rounds: number;
}

export class CheckpointTaker {
  readonly #tables: DurableTables;
  readonly #writer: SegmentWriter;
  readonly #sliceMs: number;
  readonly #deferMs: number;
  #active = false;
  #begunAt = 0;
  #rounds = 0;
  #pauseMs = 0;
  #workMs = 0;

  constructor(tables: DurableTables, writer: SegmentWriter, slicing: { sliceMs: number; deferMs: number }) {
    this.#tables = tables;
    this.#writer = writer;
    this.#sliceMs = slicing.sliceMs;
    this.#deferMs = slicing.deferMs;
  }

  /** A checkpoint is under way (asked for, not yet finished). */
  get active(): boolean {
    return this.#active;
  }

  /** Under way for long enough that slices go between messages too, not only where the worker idles. */
  get overdue(): boolean {
    return this.#active && performance.now() - this.#begunAt >= this.#deferMs;
  }

  /** Begins a checkpoint (a no-op while one is under way): what is touched from now on is caught up at its end. */
  begin(): void {
    if (this.#active) return;
    this.#active = true;
    this.#begunAt = performance.now();
    this.#rounds = 1;
    this.#pauseMs = 0;
    this.#workMs = 0;
    this.#tables.freeze();
  }

  /**
   * Writes one slice; returns the checkpoint once its last slice is written (the
   * caller posts it, covering every message handled so far), null while frozen keys are left.
   */
  step(): TakenCheckpoint | null {
    if (!this.#active) return null;
    const started = performance.now();
    const deadline = started + this.#sliceMs;
    const tables = this.#tables;
    for (;;) {
      if (!tables.collectFrozen(this.#writer, deadline)) {
        this.#account(performance.now() - started);
        return null;
      }
      if (this.#rounds === MAX_ROUNDS || tables.touchedKeys <= LAST_SLICE_KEYS) break;
      tables.freeze();
      this.#rounds++;
    }
    tables.collect(this.#writer);
    const segment = this.#writer.finish();
    this.#account(performance.now() - started);
    this.#active = false;
    return { segment, pauseMs: this.#pauseMs, workMs: this.#workMs, rounds: this.#rounds };
  }

  #account(ms: number): void {
    this.#workMs += ms;
    if (ms > this.#pauseMs) this.#pauseMs = ms;
  }
}

/**
 * One entry a pump holds (pump-ledger.ts), from read to ack. It is also the tag the pump hands to the
 * target with the message: a durable instance's checkpoint covers it (state-cover.ts), waits for its
 * outputs, and acks it. What it asks of the ledger goes through {@link CoverHost}.
 */
import type { TroupeError } from "../errors.ts";
import type { EntryFields, OutputWrite } from "./backend.ts";
import type { CoveredEntry } from "./state-cover.ts";

/**
 * Where the outputs of an entry settled by a durable instance are: `none` (not settled by one),
 * `writing` (a write, or the dead letter, is in the committer), `written`, `fenced` (refused: `epoch` was
 * taken over), `dead` (dead-lettered, which acked it), `abandoned` (the pump stopped before they were
 * written: a commit that covers it writes them itself).
 */
export type OutputsState = "none" | "writing" | "written" | "fenced" | "dead" | "abandoned";

/** What a held entry asks of its ledger when a checkpoint covers it. */
export interface CoverHost {
  untilWritten(entry: HeldEntry<unknown>, epoch: number): Promise<void> | null;
  coverAcked(entry: HeldEntry<unknown>): void;
  coverReleased(entry: HeldEntry<unknown>): void;
}

export class HeldEntry<M> implements CoveredEntry {
  readonly stream: string;
  readonly group: string;
  readonly id: string;
  /** False when handed over in process (`PumpLedger.handOver`), not read from the stream. */
  readonly inStream: boolean;
  readonly deliveries: number;
  readonly fields: EntryFields | null;
  message?: M;
  /** Holds one of the target's credits: delivered and not settled, or settled durably and not yet acked. */
  inActor = false;
  settled = false;
  outputs: OutputsState = "none";
  /** The outputs to write, unfenced. */
  writes: readonly OutputWrite[] = [];
  /** The epoch of the incarnation that settled it, then of the latest write. */
  epoch = 0;
  /** Outputs written (not found as duplicates), reported when it is acked. */
  written = 0;
  /** Why its outputs can never be written (invalid, found after the pump stopped). */
  refusal: TroupeError | null = null;
  readonly #host: CoverHost;
  #waiters: (() => void)[] | null = null;

  constructor(
    host: CoverHost,
    stream: string,
    group: string,
    id: string,
    deliveries: number,
    fields: EntryFields | null,
    inStream = true,
  ) {
    this.#host = host;
    this.stream = stream;
    this.group = group;
    this.id = id;
    this.inStream = inStream;
    this.deliveries = deliveries;
    this.fields = fields;
  }

  untilWritten(epoch: number): Promise<void> | null {
    return this.#host.untilWritten(this, epoch);
  }

  acked(): void {
    this.#host.coverAcked(this);
  }

  /**
   * The runtime will never cover this entry (its instance failed for good, was fenced or stopped): the
   * pump lets it go unacked, pending for a replay.
   */
  released(): void {
    this.#host.coverReleased(this);
  }

  /** Runs `check` on the next change of `outputs`. */
  onChange(check: () => void): void {
    this.#waiters ??= [];
    this.#waiters.push(check);
  }

  setOutputs(state: OutputsState): void {
    this.outputs = state;
    const waiters = this.#waiters;
    if (waiters === null) return;
    this.#waiters = null;
    for (const check of waiters) check();
  }
}

/**
 * The seam between an actor's durable state (kept in its worker, see durable-table.ts) and where its
 * checkpoints live. The runtime knows nothing of Redis: it hands a store each checkpoint (a segment holding
 * the keys touched since the previous one, state-segment.ts, plus opaque tags naming what the checkpoint
 * covers, as given with each message) and restores from it when an instance starts. A store keeps a
 * changelog: the segments in order, folded now and then into a base (state-replay.ts does the folding). A store backed by a stream backend settles what a
 * checkpoint covers (acks the stream entries) in the same atomic write as the state (Flink's aligned
 * checkpoint: state and source positions committed together), so an entry is acked exactly when its
 * effect on the state is durable.
 *
 * Fencing (Orleans' ETag-fenced writes): every incarnation of an instance gets a new epoch from
 * `restore`; a commit with an older epoch is refused with `ERR_FENCED`, so a frozen process whose work was
 * taken over can never overwrite a newer checkpoint or ack on its behalf.
 */

/** Whose state: one actor instance. */
export interface StateScope {
  readonly actor: string;
  readonly instance: number;
}

export interface Checkpoint {
  readonly scope: StateScope;
  /** The epoch `restore` gave this incarnation. */
  readonly epoch: number;
  /**
   * The changes since the previous checkpoint: one segment, or several (checkpoints merged while a commit
   * was retried) to append in order. Values inside are the table codecs' bytes (msgpack by default).
   */
  readonly segments: readonly Uint8Array[];
  /**
   * What this checkpoint covers: the tags given with the messages (e.g. stream entries) handled since the
   * previous checkpoint, in handling order. The store settles them (acks) in the same write, or not at all.
   */
  readonly covers: readonly unknown[];
}

export interface RestoredState {
  /** This incarnation's epoch: higher than every earlier one of the same scope. */
  readonly epoch: number;
  /** The state as of the last durable checkpoint: the segments to replay, in order. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /**
   * A restart's restore (`after` given) found no record of the scope: the store lost the state (a Redis
   * restarted without persistence), and `chunks` is what it holds, nothing.
   */
  readonly lost?: boolean;
  /** Whether the store held a record of the scope before this restore (false: a first start, or lost). */
  readonly found?: boolean;
}

export interface StateStore {
  /**
   * Takes over the scope: bumps its epoch (fencing every earlier incarnation) and returns its state. With
   * `after`, a restart in the same process continues its own ownership: it is refused with `ERR_FENCED`
   * (nothing bumped) unless the scope's epoch is still `after`, so a frozen process whose work was taken
   * over cannot take it back by restarting its worker when it thaws. A store that holds no record of the
   * scope at all (it lost it: a Redis restarted without persistence) lets the restart through, with `lost`:
   * nobody took the scope over since, and its epochs never repeat one handed out before the loss.
   */
  restore(scope: StateScope, after?: number): Promise<RestoredState>;
  /**
   * Writes the changes and settles `covers` atomically if `epoch` is still the scope's current one.
   * Rejects with a TroupeError `ERR_FENCED` when a newer incarnation took over (nothing written), or
   * another error when the write was refused (nothing written either: retry the same checkpoint).
   */
  commit(checkpoint: Checkpoint): Promise<void>;
  /**
   * The runtime will never cover these tags: their instance failed for good, was fenced or stopped with
   * them handled but uncovered. A stream store gives the entries back unsettled (pending in the stream,
   * for a replay by the next owner). Optional: a store without tags to settle has nothing to do.
   */
  release?(covers: readonly unknown[]): void;
}

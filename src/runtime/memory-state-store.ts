/**
 * A state store in process memory, for actors fed by `tell` / `ask` (no stream to acknowledge): a worker
 * crash restores the last checkpoint the same way a stream-backed store does, with epochs and fencing;
 * `covers` are accepted and ignored (there is nothing to settle). The state ends with the process.
 */
import { optionNames, refuseUnknownOptions, TroupeError } from "../errors.ts";
import { type CompactionOptions, resolveCompaction, SegmentLog } from "./state-log.ts";
import type { Checkpoint, RestoredState, StateScope, StateStore } from "./state-store.ts";

const OPTION_NAMES = optionNames<CompactionOptions>({ compactRatio: true, compactMinBytes: true });

interface ScopeState {
  epoch: number;
  readonly log: SegmentLog;
}

export class MemoryStateStore implements StateStore {
  readonly #scopes = new Map<string, ScopeState>();
  readonly #compaction: Required<CompactionOptions>;

  constructor(options: CompactionOptions = {}) {
    refuseUnknownOptions(options, OPTION_NAMES, "", "a MemoryStateStore option");
    this.#compaction = resolveCompaction(options);
  }

  async restore(scope: StateScope, after?: number): Promise<RestoredState> {
    const state = this.#scope(scope);
    if (after !== undefined && after !== state.epoch) throw fenced(scope, after, state.epoch);
    const found = state.epoch > 0;
    state.epoch++;
    return { epoch: state.epoch, chunks: each(state.log.segments()), found };
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    const state = this.#scope(checkpoint.scope);
    if (checkpoint.epoch !== state.epoch) throw fenced(checkpoint.scope, checkpoint.epoch, state.epoch);
    state.log.append(checkpoint.segments);
  }

  /** Resolves once no compaction is under way (they run in slices after the commits that made them due). */
  async idle(): Promise<void> {
    await Promise.all([...this.#scopes.values()].map((scope) => scope.log.idle()));
  }

  /** Live keys per table of a scope (for tests and inspection). */
  keys(scope: StateScope): Record<string, number> {
    return this.#scope(scope).log.keys();
  }

  #scope(scope: StateScope): ScopeState {
    const id = `${scope.actor}#${scope.instance}`;
    let state = this.#scopes.get(id);
    if (!state) {
      state = { epoch: 0, log: new SegmentLog(this.#compaction) };
      this.#scopes.set(id, state);
    }
    return state;
  }
}

async function* each(segments: Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* segments;
}

function fenced(scope: StateScope, epoch: number, current: number): TroupeError {
  return new TroupeError(
    "ERR_FENCED",
    `${scope.actor}#${scope.instance}: epoch ${epoch} was replaced by ${current}`,
    {
      actor: scope.actor,
      instance: scope.instance,
    },
  );
}

/**
 * Durable actor state in the memory backend: the Redis store's semantics in process (same key names,
 * epochs and fencing, the same changelog and compaction), so a worker that crashes inside the process
 * restores the same way. A commit checks the epoch, appends the segments and acks the entries it covers
 * in one synchronous step (compaction follows in slices, state-log.ts), and is refused whole while the backend is out of memory (`maxEntries`), like
 * Redis under `noeviction`.
 */
import { SegmentLog } from "../runtime/state-log.ts";
import type { Checkpoint, RestoredState, StateScope } from "../runtime/state-store.ts";
import type { OutputFence } from "./backend.ts";
import { prepareCovers, releaseCovers } from "./state-cover.ts";
import { epochsKey, scopeKeys, stateBase } from "./state-keys.ts";
import {
  fencedError,
  lostError,
  resolveStateStoreOptions,
  type StreamStateStore,
  type StreamStateStoreOptions,
} from "./stream-state-store.ts";

interface ScopeState {
  epoch: number;
  checkpoints: number;
  at: number;
  readonly log: SegmentLog;
}

interface EpochRegistry {
  next: number;
  readonly live: Set<number>;
}

/** Every memory state store's data of one backend, by the key names Redis would use. */
export class MemoryStateSpace {
  readonly scopes = new Map<string, ScopeState>();
  readonly epochs = new Map<string, EpochRegistry>();

  isLive(fence: OutputFence): boolean {
    return this.epochs.get(fence.key)?.live.has(fence.epoch) ?? false;
  }
}

/** What the store needs from its backend. */
export interface MemoryStateHost {
  readonly space: MemoryStateSpace;
  /** Throws as the backend's writes do: closed, or out of memory. */
  checkWritable(): void;
  ack(stream: string, group: string, ids: readonly string[]): number;
  now(): number;
}

export class MemoryStreamStateStore implements StreamStateStore {
  readonly anchor: string;
  readonly #base: string;
  readonly #options: Required<StreamStateStoreOptions>;
  readonly #host: MemoryStateHost;

  constructor(host: MemoryStateHost, options: StreamStateStoreOptions) {
    this.#options = resolveStateStoreOptions(options);
    this.anchor = this.#options.anchor;
    this.#base = stateBase(this.anchor);
    this.#host = host;
  }

  outputFence(actor: string, epoch: number): OutputFence {
    return { key: epochsKey(this.#base, actor), epoch };
  }

  async restore(scope: StateScope, after?: number): Promise<RestoredState> {
    this.#host.checkWritable();
    const { space } = this.#host;
    const registryKey = epochsKey(this.#base, scope.actor);
    let registry = space.epochs.get(registryKey);
    if (!registry) {
      registry = { next: 0, live: new Set() };
      space.epochs.set(registryKey, registry);
    }
    const state = this.#scope(scope);
    // As on Redis: a restart finding no record of its scope (never the case here) goes through, lost.
    const lost = after !== undefined && state.epoch === 0;
    if (after !== undefined && !lost && after !== state.epoch) throw fencedError(scope, after);
    const epoch = ++registry.next;
    registry.live.delete(state.epoch);
    registry.live.add(epoch);
    const found = state.epoch !== 0;
    state.epoch = epoch;
    return { epoch, chunks: each(state.log.segments()), lost, found };
  }

  release(covers: readonly unknown[]): void {
    releaseCovers(covers);
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    const { scope, epoch } = checkpoint;
    const { entries, acks } = await prepareCovers(checkpoint.covers, epoch);
    const state = this.#host.space.scopes.get(scopeKeys(this.#base, scope).meta);
    if (!state?.epoch) throw lostError(scope, epoch);
    if (state.epoch !== epoch) throw fencedError(scope, epoch);
    this.#host.checkWritable();
    state.log.append(checkpoint.segments);
    for (const { stream, group, ids } of acks) this.#host.ack(stream, group, ids);
    state.checkpoints++;
    state.at = this.#host.now();
    for (const entry of entries) entry.acked();
  }

  async idle(): Promise<void> {
    await Promise.all([...this.#host.space.scopes.values()].map((scope) => scope.log.idle()));
  }

  #scope(scope: StateScope): ScopeState {
    const meta = scopeKeys(this.#base, scope).meta;
    let state = this.#host.space.scopes.get(meta);
    if (!state) {
      state = { epoch: 0, checkpoints: 0, at: 0, log: new SegmentLog(this.#options) };
      this.#host.space.scopes.set(meta, state);
    }
    return state;
  }
}

async function* each(segments: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* segments;
}

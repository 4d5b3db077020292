/**
 * Durable actor state in the memory backend: the Redis store's semantics in process (same key names,
 * epochs and fencing), so a worker that crashes inside the process restores the same way. A commit
 * checks the epoch, writes the changes and acks the entries it covers in one synchronous step, and is
 * refused whole while the backend is out of memory (`maxEntries`), like Redis under `noeviction`.
 */
import type { Checkpoint, RestoredState, StateChanges, StateScope } from "../runtime/state-store.ts";
import type { OutputFence } from "./backend.ts";
import { prepareCovers, releaseCovers } from "./state-cover.ts";
import { epochsKey, scopeKeys, stateBase } from "./state-keys.ts";
import {
  compactChunk,
  fencedError,
  resolveStateStoreOptions,
  type StreamStateStore,
  type StreamStateStoreOptions,
} from "./stream-state-store.ts";

interface ScopeState {
  epoch: number;
  checkpoints: number;
  at: number;
  keys: number;
  readonly tables: Map<string, Map<string, Uint8Array>>;
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
  readonly #pageSize: number;
  readonly #host: MemoryStateHost;

  constructor(host: MemoryStateHost, options: StreamStateStoreOptions) {
    const resolved = resolveStateStoreOptions(options);
    this.anchor = resolved.anchor;
    this.#base = stateBase(resolved.anchor);
    this.#pageSize = resolved.restorePageSize;
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
    if (after !== undefined && after !== state.epoch) throw fencedError(scope, after);
    const epoch = ++registry.next;
    registry.live.delete(state.epoch);
    registry.live.add(epoch);
    state.epoch = epoch;
    return { epoch, chunks: this.#chunks(state.tables) };
  }

  release(covers: readonly unknown[]): void {
    releaseCovers(covers);
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    const { scope, epoch, changes } = checkpoint;
    const { entries, acks } = await prepareCovers(checkpoint.covers, epoch);
    const state = this.#host.space.scopes.get(scopeKeys(this.#base, scope).meta);
    if (state?.epoch !== epoch) throw fencedError(scope, epoch);
    this.#host.checkWritable();
    for (let i = 0; i < changes.length; i += 3) {
      const name = changes[i] as string;
      const key = changes[i + 1] as string;
      const value = changes[i + 2] as Uint8Array | null;
      let table = state.tables.get(name);
      if (!table) {
        table = new Map();
        state.tables.set(name, table);
      }
      // A copy: the caller's bytes may be a view of a buffer it reuses or transfers.
      if (value === null) table.delete(key);
      else table.set(key, value.slice());
    }
    for (const { stream, group, ids } of acks) this.#host.ack(stream, group, ids);
    state.checkpoints++;
    state.at = this.#host.now();
    state.keys = changes.length / 3;
    for (const entry of entries) entry.acked();
  }

  #scope(scope: StateScope): ScopeState {
    const meta = scopeKeys(this.#base, scope).meta;
    let state = this.#host.space.scopes.get(meta);
    if (!state) {
      state = { epoch: 0, checkpoints: 0, at: 0, keys: 0, tables: new Map() };
      this.#host.space.scopes.set(meta, state);
    }
    return state;
  }

  /** Pages of `[table, key, value, ...]`, each page's values in one fresh buffer (safe to transfer). */
  async *#chunks(tables: ReadonlyMap<string, ReadonlyMap<string, Uint8Array>>): AsyncGenerator<StateChanges> {
    let page: StateChanges = [];
    for (const [name, table] of tables) {
      for (const [key, value] of table) {
        page.push(name, key, value);
        if (page.length === this.#pageSize * 3) {
          yield compactChunk(page);
          page = [];
        }
      }
    }
    if (page.length > 0) yield compactChunk(page);
  }
}

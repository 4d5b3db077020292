/**
 * A state store in process memory, for actors fed by `tell` / `ask` (no stream to acknowledge): a worker
 * crash restores the last checkpoint the same way a stream-backed store does, with epochs and fencing;
 * `covers` are accepted and ignored (there is nothing to settle). The state ends with the process.
 */
import { TroupeError } from "../errors.ts";
import type { Checkpoint, RestoredState, StateChanges, StateScope, StateStore } from "./state-store.ts";

/** Keys per restore chunk: big enough to amortise a transfer, small enough to keep chunks a few MB. */
const CHUNK_KEYS = 8192;

interface ScopeState {
  epoch: number;
  tables: Map<string, Map<string, Uint8Array>>;
}

export class MemoryStateStore implements StateStore {
  readonly #scopes = new Map<string, ScopeState>();

  async restore(scope: StateScope, after?: number): Promise<RestoredState> {
    const state = this.#scope(scope);
    if (after !== undefined && after !== state.epoch) throw fenced(scope, after, state.epoch);
    state.epoch++;
    // A copy of the entries as of now: the new incarnation commits nothing before its restore is done.
    const entries: [string, string, Uint8Array][] = [];
    for (const [table, values] of state.tables)
      for (const [key, value] of values) entries.push([table, key, value]);
    return { epoch: state.epoch, chunks: chunked(entries) };
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    const state = this.#scope(checkpoint.scope);
    if (checkpoint.epoch !== state.epoch) throw fenced(checkpoint.scope, checkpoint.epoch, state.epoch);
    const changes = checkpoint.changes;
    for (let i = 0; i < changes.length; i += 3) {
      const tableName = changes[i] as string;
      const key = changes[i + 1] as string;
      const value = changes[i + 2] as Uint8Array | null;
      let table = state.tables.get(tableName);
      if (value === null) {
        table?.delete(key);
        continue;
      }
      if (!table) {
        table = new Map();
        state.tables.set(tableName, table);
      }
      // Values are views on a whole checkpoint's buffer: a copy keeps only this value alive.
      table.set(key, value.slice());
    }
  }

  /** Live keys per table of a scope (for tests and inspection). */
  keys(scope: StateScope): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [table, values] of this.#scope(scope).tables) out[table] = values.size;
    return out;
  }

  #scope(scope: StateScope): ScopeState {
    const id = `${scope.actor}#${scope.instance}`;
    let state = this.#scopes.get(id);
    if (!state) {
      state = { epoch: 0, tables: new Map() };
      this.#scopes.set(id, state);
    }
    return state;
  }
}

async function* chunked(entries: [string, string, Uint8Array][]): AsyncIterable<StateChanges> {
  for (let from = 0; from < entries.length; from += CHUNK_KEYS) {
    const chunk: StateChanges = [];
    for (const [table, key, value] of entries.slice(from, from + CHUNK_KEYS)) chunk.push(table, key, value);
    yield chunk;
  }
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

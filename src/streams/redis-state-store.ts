/**
 * Durable actor state in Redis, next to its anchor stream (state-keys.ts). A restore is one script that
 * bumps the epoch (fencing every earlier incarnation), then HSCAN pages of each table hash; a commit is
 * one script that checks the epoch, writes the changes and XACKs the covered entries: one round trip,
 * all or nothing (redis-scripts.ts).
 */

import { TroupeError } from "../errors.ts";
import type { Checkpoint, RestoredState, StateChanges, StateScope } from "../runtime/state-store.ts";
import type { Clock } from "../time/clock.ts";
import type { OutputFence } from "./backend.ts";
import { redisError } from "./redis-replies.ts";
import { prepareCovers, releaseCovers } from "./state-cover.ts";
import { epochsKey, type ScopeKeys, scopeKeys, stateBase } from "./state-keys.ts";
import {
  compactChunk,
  fencedError,
  resolveStateStoreOptions,
  type StreamStateStore,
  type StreamStateStoreOptions,
} from "./stream-state-store.ts";

type Arg = string | number | Buffer;

/** The commands the store sends (the scripts are defined on the backend's connection). */
export interface RedisStateClient {
  troupeStateRestore(meta: string, epochs: string, instance: number, after: number | ""): Promise<unknown>;
  /** Arrays are sent flattened (one level), so long argument lists need no spread. */
  troupeStateCommit(keyCount: number, keys: readonly string[], ...args: (readonly Arg[])[]): Promise<unknown>;
  hscanBuffer(key: string, cursor: string, countToken: "COUNT", count: number): Promise<[Buffer, Buffer[]]>;
}

export class RedisStreamStateStore implements StreamStateStore {
  readonly anchor: string;
  readonly #base: string;
  readonly #pageSize: number;
  readonly #client: RedisStateClient;
  readonly #clock: Clock;

  /** `clock` stamps each checkpoint's time in the state's meta hash (the backend's clock). */
  constructor(client: RedisStateClient, options: StreamStateStoreOptions, clock: Clock) {
    const resolved = resolveStateStoreOptions(options);
    this.anchor = resolved.anchor;
    this.#base = stateBase(resolved.anchor);
    this.#pageSize = resolved.restorePageSize;
    this.#client = client;
    this.#clock = clock;
  }

  outputFence(actor: string, epoch: number): OutputFence {
    return { key: epochsKey(this.#base, actor), epoch };
  }

  async restore(scope: StateScope, after?: number): Promise<RestoredState> {
    const keys = scopeKeys(this.#base, scope);
    const registry = epochsKey(this.#base, scope.actor);
    let reply: unknown;
    try {
      reply = await this.#run(() =>
        this.#client.troupeStateRestore(keys.meta, registry, scope.instance, after ?? ""),
      );
    } catch (error) {
      throw after !== undefined && (error as TroupeError).code === "ERR_FENCED"
        ? fencedError(scope, after)
        : error;
    }
    const { epoch, tables } = parseRestore(reply);
    return { epoch, chunks: this.#chunks(keys, tables) };
  }

  release(covers: readonly unknown[]): void {
    releaseCovers(covers);
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    const { scope, epoch } = checkpoint;
    const keys = scopeKeys(this.#base, scope);
    const { tables, runs, runCount } = encodeChanges(checkpoint.changes);
    const { entries, acks } = await prepareCovers(checkpoint.covers, epoch);
    const keyList = [keys.meta, ...tables.map((name) => keys.table(name)), ...acks.map((a) => a.stream)];
    const header: Arg[] = [epoch, this.#clock.now(), tables.length, acks.length, runCount, ...tables];
    const acked: Arg[] = [];
    for (const ack of acks) {
      acked.push(ack.group, ack.ids.length);
      for (const id of ack.ids) acked.push(id);
    }
    try {
      await this.#client.troupeStateCommit(keyList.length, keyList, header, runs, acked);
    } catch (error) {
      const failure = redisError(error);
      throw failure.code === "ERR_FENCED" ? fencedError(scope, epoch) : failure;
    }
    for (const entry of entries) entry.acked();
  }

  async *#chunks(keys: ScopeKeys, tables: readonly string[]): AsyncGenerator<StateChanges> {
    for (const name of tables) {
      const key = keys.table(name);
      let cursor = "0";
      do {
        const [next, fields] = await this.#run(() =>
          this.#client.hscanBuffer(key, cursor, "COUNT", this.#pageSize),
        );
        cursor = next.toString();
        if (fields.length === 0) continue;
        const chunk: StateChanges = new Array((fields.length / 2) * 3);
        for (let i = 0, o = 0; i < fields.length; i += 2, o += 3) {
          chunk[o] = name;
          chunk[o + 1] = fields[i]!.toString("utf8");
          chunk[o + 2] = fields[i + 1]!;
        }
        yield compactChunk(chunk);
      } while (cursor !== "0");
    }
  }

  async #run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw redisError(error);
    }
  }
}

/**
 * The changes as the commit script's runs: consecutive changes of one kind (set / delete) to one table
 * share a run, so the order of the changes is kept whatever they are.
 */
function encodeChanges(changes: StateChanges): { tables: string[]; runs: Arg[]; runCount: number } {
  const tables: string[] = [];
  const index = new Map<string, number>();
  const runs: Arg[] = [];
  let runCount = 0;
  let runTable = 0;
  let runKind = "";
  let countAt = -1;
  for (let i = 0; i < changes.length; i += 3) {
    const name = changes[i] as string;
    const value = changes[i + 2] as Uint8Array | null;
    let table = index.get(name);
    if (table === undefined) {
      table = tables.push(name);
      index.set(name, table);
    }
    const kind = value === null ? "d" : "s";
    if (table !== runTable || kind !== runKind) {
      runs.push(table, kind, 0);
      countAt = runs.length - 1;
      runCount++;
      runTable = table;
      runKind = kind;
    }
    runs[countAt] = (runs[countAt] as number) + 1;
    runs.push(changes[i + 1] as string);
    if (value !== null) runs.push(asBuffer(value));
  }
  return { tables, runs, runCount };
}

function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function parseRestore(reply: unknown): { epoch: number; tables: string[] } {
  const [epoch, tables] = Array.isArray(reply) ? reply : [];
  if (typeof epoch !== "number" || !Array.isArray(tables))
    throw new TroupeError("ERR_STREAM_BACKEND", `unexpected state restore reply: ${String(reply)}`);
  return { epoch, tables: tables.map(String) };
}

/**
 * The runtime's {@link StateStore} on a stream backend: durable actor state kept next to the stream it
 * belongs to (key names in state-keys.ts), each checkpoint written together with the acks of the entries
 * it covers (state-cover.ts), fenced by the incarnation's epoch. Created by `backend.stateStore({ anchor })`:
 * `RedisStreamStateStore` (one Lua script per commit) or `MemoryStreamStateStore` (one synchronous step).
 *
 * The store keeps the latest value per key (a hash per table, a changelog compacted on write), so a
 * restore reads exactly the live keys and never replays a log.
 */
import { InvalidOptionError, TroupeError } from "../errors.ts";
import type { StateChanges, StateScope, StateStore } from "../runtime/state-store.ts";
import type { OutputFence } from "./backend.ts";

export interface StreamStateStoreOptions {
  /**
   * The stream the state belongs to (the actors' main input): every state key shares its hash slot, so
   * a commit can ack its entries in the same script. Required.
   */
  anchor: string;
  /** Keys per restore chunk (one HSCAN page on Redis). @defaultValue 10000 */
  restorePageSize?: number;
}

export const STATE_STORE_DEFAULTS = {
  restorePageSize: 10_000,
} satisfies Required<Omit<StreamStateStoreOptions, "anchor">>;

export function resolveStateStoreOptions(
  options: StreamStateStoreOptions,
): Required<StreamStateStoreOptions> {
  if (typeof options.anchor !== "string" || options.anchor === "")
    throw new InvalidOptionError("anchor", "must be a non-empty stream key");
  const resolved = { ...STATE_STORE_DEFAULTS, ...options };
  if (!Number.isInteger(resolved.restorePageSize) || resolved.restorePageSize < 1)
    throw new InvalidOptionError(
      "restorePageSize",
      `must be an integer >= 1, got ${resolved.restorePageSize}`,
    );
  return resolved;
}

export interface StreamStateStore extends StateStore {
  readonly anchor: string;
  /** What an output write of `actor`'s incarnation `epoch` carries, so it is refused once that epoch is fenced. */
  outputFence(actor: string, epoch: number): OutputFence;
}

export function fencedError(scope: StateScope, epoch: number): TroupeError {
  return new TroupeError(
    "ERR_FENCED",
    `checkpoint of ${scope.actor}[${scope.instance}] refused: epoch ${epoch} was taken over by a newer incarnation`,
    { actor: scope.actor, instance: scope.instance },
  );
}

export function fencedOutputError(fence: OutputFence): TroupeError {
  return new TroupeError("ERR_FENCED", `FENCED output write refused: epoch ${fence.epoch} is no longer live`);
}

/**
 * Copies a restore chunk's values into one fresh buffer and points them at it: values read from a
 * store are views of buffers it keeps (or of a socket's), and one buffer per chunk is what a worker
 * transfer wants.
 */
export function compactChunk(chunk: StateChanges): StateChanges {
  let bytes = 0;
  for (let i = 2; i < chunk.length; i += 3) bytes += (chunk[i] as Uint8Array).byteLength;
  const buffer = new Uint8Array(bytes);
  let offset = 0;
  for (let i = 2; i < chunk.length; i += 3) {
    const value = chunk[i] as Uint8Array;
    buffer.set(value, offset);
    chunk[i] = buffer.subarray(offset, offset + value.byteLength);
    offset += value.byteLength;
  }
  return chunk;
}

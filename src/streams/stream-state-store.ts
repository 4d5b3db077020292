/**
 * The runtime's {@link StateStore} on a stream backend: durable actor state kept next to the stream it
 * belongs to (key names in state-keys.ts), each checkpoint written together with the acks of the entries
 * it covers (state-cover.ts), fenced by the incarnation's epoch. Created by `backend.stateStore({ anchor })`:
 * `RedisStreamStateStore` (one Lua script per commit) or `MemoryStreamStateStore` (one synchronous step).
 *
 * The store keeps a changelog: each checkpoint's segment appended as one value, folded into a base (the
 * live keys, state-replay.ts) once the segments outweigh it (state-log.ts), so a commit costs one write
 * whatever its size and a restore reads at most about (1 + compactRatio) × the state.
 */
import { InvalidOptionError, optionNames, refuseUnknownOptions, TroupeError } from "../errors.ts";
import { COMPACTION_DEFAULTS, type CompactionOptions, resolveCompaction } from "../runtime/state-log.ts";
import type { StateScope, StateStore } from "../runtime/state-store.ts";
import type { OutputFence } from "./backend.ts";

export interface StreamStateStoreOptions extends CompactionOptions {
  /**
   * The stream the state belongs to (the actors' main input): every state key shares its hash slot, so
   * a commit can ack its entries in the same script. Required.
   */
  anchor: string;
  /** Segments read per round trip of a restore on Redis (a base chunk is at most ~1 MiB). @defaultValue 8 */
  restorePageSize?: number;
}

export const STATE_STORE_DEFAULTS = {
  ...COMPACTION_DEFAULTS,
  restorePageSize: 8,
} satisfies Required<Omit<StreamStateStoreOptions, "anchor">>;

const OPTION_NAMES = optionNames<StreamStateStoreOptions>({
  anchor: true,
  restorePageSize: true,
  compactRatio: true,
  compactMinBytes: true,
});

export function resolveStateStoreOptions(
  options: StreamStateStoreOptions,
): Required<StreamStateStoreOptions> {
  refuseUnknownOptions(options, OPTION_NAMES, "", "a state store option");
  if (typeof options.anchor !== "string" || options.anchor === "")
    throw new InvalidOptionError("anchor", "must be a non-empty stream key");
  const resolved = { ...STATE_STORE_DEFAULTS, ...options, ...resolveCompaction(options) };
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
  /** Resolves once no compaction runs in the background (one a commit started may be under way). */
  idle(): Promise<void>;
}

export function fencedError(scope: StateScope, epoch: number): TroupeError {
  return new TroupeError(
    "ERR_FENCED",
    `checkpoint of ${scope.actor}[${scope.instance}] refused: epoch ${epoch} was taken over by a newer incarnation`,
    { actor: scope.actor, instance: scope.instance },
  );
}

/** A checkpoint refused because Redis holds no record of its scope (it restarted without persistence). */
export function lostError(scope: StateScope, epoch: number): TroupeError {
  return new TroupeError(
    "ERR_STATE_LOST",
    `checkpoint of ${scope.actor}[${scope.instance}] refused: Redis holds no record of its state (restarted without persistence, or its keys were evicted or deleted); epoch ${epoch} restarts from what is there`,
    { actor: scope.actor, instance: scope.instance },
  );
}

export function fencedOutputError(fence: OutputFence): TroupeError {
  return new TroupeError("ERR_FENCED", `FENCED output write refused: epoch ${fence.epoch} is no longer live`);
}

/**
 * Where an actor's durable state lives: next to the stream it belongs to (the anchor), in the anchor's
 * Redis Cluster hash slot (key-slot.ts), so one Lua script can write the state and ack the anchor's entries
 * together. An anchor with a tag lends it to every state key by prefix; an anchor
 * without one becomes the tag itself (`{tx}:state:...` hashes like `tx`).
 *
 * Per scope `{actor, instance}`, under `<base>:state:<actor>:<instance>`: `:meta` (a HASH: epoch, base
 * generation, baseBytes, logBytes, checkpoints, compactions, at, keys), `:log` (a LIST of segments, one
 * per checkpoint, oldest first) and `:base:<generation>` (a LIST of the compacted state's chunks). Per actor: `<base>:state:<actor>:epochs` (a HASH: `next`, the
 * epoch counter, and one field per live epoch), so an output write can be fenced by its epoch alone.
 */
import type { StateScope } from "../runtime/state-store.ts";
import { slotPrefix } from "./key-slot.ts";

export interface ScopeKeys {
  readonly meta: string;
  readonly log: string;
  base(generation: string): string;
}

/** `anchor` itself when it carries a hash tag, else `{anchor}`: the prefix of every state key. */
export function stateBase(anchor: string): string {
  return slotPrefix(anchor, "anchor");
}

export function scopeKeys(base: string, scope: StateScope): ScopeKeys {
  const prefix = `${base}:state:${scope.actor}:${scope.instance}`;
  return {
    meta: `${prefix}:meta`,
    log: `${prefix}:log`,
    base: (generation) => `${prefix}:base:${generation}`,
  };
}

/** The actor's epoch registry: the counter and its live epochs (one per running instance). */
export function epochsKey(base: string, actor: string): string {
  return `${base}:state:${actor}:epochs`;
}

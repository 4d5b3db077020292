/**
 * Where an actor's durable state lives: next to the stream it belongs to (the anchor), in the anchor's
 * Redis Cluster hash slot, so one Lua script can write the state and ack the anchor's entries together.
 * A key's slot is the CRC16 of its hash tag (the text between the first `{` and the next `}`, when not
 * empty) or of the whole key. An anchor with a tag lends it to every state key by prefix; an anchor
 * without one becomes the tag itself (`{tx}:state:...` hashes like `tx`).
 *
 * Per scope `{actor, instance}`, under `<base>:state:<actor>:<instance>`: `:meta` (a HASH: epoch, base
 * generation, baseBytes, logBytes, checkpoints, compactions, at, keys), `:log` (a LIST of segments, one
 * per checkpoint, oldest first) and `:base:<generation>` (a LIST of the compacted state's chunks). Per actor: `<base>:state:<actor>:epochs` (a HASH: `next`, the
 * epoch counter, and one field per live epoch), so an output write can be fenced by its epoch alone.
 */
import { InvalidOptionError } from "../errors.ts";
import type { StateScope } from "../runtime/state-store.ts";

export interface ScopeKeys {
  readonly meta: string;
  readonly log: string;
  base(generation: string): string;
}

/** `anchor` itself when it carries a hash tag, else `{anchor}`: the prefix of every state key. */
export function stateBase(anchor: string): string {
  if (anchor === "") throw new InvalidOptionError("anchor", "must be a non-empty stream key");
  if (hashTag(anchor) !== null) return anchor;
  // `{a}b}` would tag `a`, not the anchor: no key can then share the anchor's slot by its tag.
  if (anchor.includes("}"))
    throw new InvalidOptionError("anchor", `"${anchor}" has a '}' but no hash tag; give it a {tag}`);
  return `{${anchor}}`;
}

/** The hash tag Redis Cluster hashes for `key`, or null when the whole key is hashed. */
export function hashTag(key: string): string | null {
  const open = key.indexOf("{");
  if (open < 0) return null;
  const close = key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
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

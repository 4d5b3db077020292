/**
 * Redis stream entry ids (`<ms>-<seq>`) as comparable values. The memory backend orders its entries
 * with them and retention computes the next id after a group's last-delivered one, so both backends
 * apply the same rules (MINID, exclusive `(` starts) to the same ids.
 */
import { TroupeError } from "../errors.ts";

export interface StreamId {
  readonly ms: number;
  readonly seq: number;
}

export const ZERO_ID = "0-0";

const ID_PATTERN = /^(\d+)(?:-(\d+))?$/;

const U64_MAX = 2n ** 64n - 1n;

/**
 * Whether `id` is an entry id Redis takes (`<ms>-<seq>`, each part a 64-bit unsigned number) and one an
 * exclusive bound can follow (not the greatest id). Twenty digits fit the pattern of an id and still pass
 * 2^64: Redis refuses those (`ERR Invalid stream ID`), which a client's input must not reach.
 */
export function isEntryId(id: string): boolean {
  const match = /^(\d{1,20})-(\d{1,20})$/.exec(id);
  if (!match) return false;
  const ms = BigInt(match[1] as string);
  const seq = BigInt(match[2] as string);
  return ms <= U64_MAX && seq <= U64_MAX && (ms < U64_MAX || seq < U64_MAX);
}

/** Parses `ms-seq` (or a bare `ms`, meaning `ms-0`, as Redis accepts). */
export function parseStreamId(id: string): StreamId {
  const match = ID_PATTERN.exec(id);
  if (!match) throw new TroupeError("ERR_STREAM_BACKEND", `invalid stream id: ${JSON.stringify(id)}`);
  return { ms: Number(match[1]), seq: match[2] === undefined ? 0 : Number(match[2]) };
}

export function formatStreamId(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

export function compareIds(a: StreamId, b: StreamId): number {
  return a.ms === b.ms ? a.seq - b.seq : a.ms - b.ms;
}

export function compareIdStrings(a: string, b: string): number {
  return compareIds(parseStreamId(a), parseStreamId(b));
}

/**
 * The id a producer that names its own entries gives the next one: the clock's millisecond, after `last`
 * even when the clock stalls or steps back (the rule Redis applies to `*`).
 */
export function idAfter(last: StreamId, now: number): StreamId {
  const ms = Math.max(Math.floor(now), last.ms);
  return ms === last.ms ? nextId(last) : { ms, seq: 0 };
}

/** The smallest id strictly greater than `id` (what `(id` means in a range). */
export function nextId(id: StreamId): StreamId {
  return id.seq >= Number.MAX_SAFE_INTEGER ? { ms: id.ms + 1, seq: 0 } : { ms: id.ms, seq: id.seq + 1 };
}

export function minIdString(a: string, b: string): string {
  return compareIdStrings(a, b) <= 0 ? a : b;
}

/**
 * A range bound as Redis writes it: `-`, `+`, `id`, or `(id` (exclusive). Returned as the inclusive
 * id it stands for, so callers compare with `>=` / `<=` only.
 */
export function rangeStart(bound: string): StreamId {
  if (bound === "-") return { ms: 0, seq: 0 };
  if (bound.startsWith("(")) return nextId(parseStreamId(bound.slice(1)));
  return parseStreamId(bound);
}

export function rangeEnd(bound: string): StreamId {
  if (bound === "+") return { ms: Number.MAX_SAFE_INTEGER, seq: Number.MAX_SAFE_INTEGER };
  if (bound.startsWith("(")) {
    const id = parseStreamId(bound.slice(1));
    if (id.seq > 0) return { ms: id.ms, seq: id.seq - 1 };
    return { ms: id.ms - 1, seq: Number.MAX_SAFE_INTEGER };
  }
  const id = parseStreamId(bound);
  // A bare `ms` as an end means the whole millisecond, as in Redis.
  return bound.includes("-") ? id : { ms: id.ms, seq: Number.MAX_SAFE_INTEGER };
}

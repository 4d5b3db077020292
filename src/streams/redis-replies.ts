/**
 * Parsers for the RESP2 replies of the stream commands the Redis backend sends. Replies are `unknown`
 * and checked, never cast: a shape we did not expect becomes a typed error instead of a silent
 * `undefined` further down (e.g. a missing delivery count would disable dead-lettering).
 */
import { messageOf, TroupeError } from "../errors.ts";
import type { ConsumerInfo, EntryFields, PendingInfo, StreamEntry } from "./backend.ts";
import { notAfterError, outOfOrderError } from "./commit.ts";

/**
 * A failed command as a typed error: `ERR_NOGROUP`, `ERR_FENCED` (a fenced script), `ERR_STATE_LOST` (a
 * state script that found no record of its scope), `ERR_OUTPUT_WRITE` (an
 * `appendAt` out of order, or after a write that did not land), else `ERR_STREAM_BACKEND`.
 */
export function redisError(error: unknown): TroupeError {
  if (error instanceof TroupeError) return error;
  const message = messageOf(error);
  if (message.startsWith("NOGROUP")) return new TroupeError("ERR_NOGROUP", message, { cause: error });
  if (message.startsWith("FENCED")) return new TroupeError("ERR_FENCED", message, { cause: error });
  if (message.startsWith("LOST")) return new TroupeError("ERR_STATE_LOST", message, { cause: error });
  // APPEND_AT_LUA's refusal: "ORDER <stream> <id>".
  const order = /^ORDER (\S+) (\S+)$/.exec(message);
  if (order) return outOfOrderError(order[1]!, order[2]!);
  // Its refusal of a write whose predecessor in the pipeline did not land: "AFTER <stream> <id> <previous>".
  const after = /^AFTER (\S+) (\S+) (\S+)$/.exec(message);
  if (after) return notAfterError(after[1]!, after[2]!, after[3]!);
  if (message.startsWith("CROSSSLOT"))
    return new TroupeError(
      "ERR_STREAM_BACKEND",
      `redis cluster: ${message} (streams one durable actor reads must share a hash tag, e.g. {tx}:a and {tx}:b)`,
      { cause: error },
    );
  return new TroupeError("ERR_STREAM_BACKEND", `redis: ${message}`, { cause: error });
}

function unexpected(what: string, reply: unknown): TroupeError {
  const shown = JSON.stringify(reply, (_k, v) => (Buffer.isBuffer(v) ? v.toString() : v));
  return new TroupeError("ERR_STREAM_BACKEND", `unexpected ${what} reply: ${shown?.slice(0, 200)}`);
}

function text(value: unknown, what: string): string {
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (typeof value === "string") return value;
  throw unexpected(what, value);
}

function int(value: unknown, what: string): number {
  const n = typeof value === "number" ? value : Number(text(value, what));
  if (!Number.isFinite(n)) throw unexpected(what, value);
  return n;
}

/** `[k1, v1, k2, v2]` (Buffers) to a field map; `null` stays null (entry deleted while pending). */
export function parseFields(reply: unknown): EntryFields | null {
  if (reply === null) return null;
  if (!Array.isArray(reply) || reply.length % 2 !== 0) throw unexpected("fields", reply);
  const fields: EntryFields = {};
  for (let i = 0; i < reply.length; i += 2) {
    const value = reply[i + 1];
    fields[text(reply[i], "field name")] = Buffer.isBuffer(value) ? value : Buffer.from(text(value, "field"));
  }
  return fields;
}

/** `[[id, fields], ...]` as returned by XRANGE, XAUTOCLAIM and inside XREADGROUP. */
export function parseEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) throw unexpected("entries", reply);
  return reply.map((item) => {
    if (!Array.isArray(item) || item.length !== 2) throw unexpected("entry", item);
    return { id: text(item[0], "entry id"), fields: parseFields(item[1]) };
  });
}

/** XREADGROUP for a single stream: `null` (timeout) or `[[stream, entries]]`. */
export function parseReadGroup(reply: unknown): StreamEntry[] {
  if (reply === null) return [];
  if (!Array.isArray(reply) || reply.length !== 1 || !Array.isArray(reply[0]))
    throw unexpected("XREADGROUP", reply);
  return parseEntries(reply[0][1]);
}

/** XAUTOCLAIM (Redis ≥ 7): `[cursor, entries, deletedIds]`. */
export function parseAutoClaim(reply: unknown): {
  cursor: string;
  entries: StreamEntry[];
  deletedIds: string[];
} {
  if (!Array.isArray(reply) || reply.length < 2) throw unexpected("XAUTOCLAIM", reply);
  const deleted: unknown = reply[2] ?? [];
  if (!Array.isArray(deleted)) throw unexpected("XAUTOCLAIM deleted ids", reply);
  return {
    cursor: text(reply[0], "XAUTOCLAIM cursor"),
    entries: parseEntries(reply[1]),
    deletedIds: deleted.map((id) => text(id, "deleted id")),
  };
}

/** XAUTOCLAIM … JUSTID: `[cursor, [id, ...], [deletedId, ...]]`. */
export function parseAutoClaimIds(reply: unknown): { cursor: string; ids: string[]; deletedIds: string[] } {
  if (!Array.isArray(reply) || reply.length < 2 || !Array.isArray(reply[1]))
    throw unexpected("XAUTOCLAIM JUSTID", reply);
  const deleted: unknown = reply[2] ?? [];
  if (!Array.isArray(deleted)) throw unexpected("XAUTOCLAIM deleted ids", reply);
  return {
    cursor: text(reply[0], "XAUTOCLAIM cursor"),
    ids: reply[1].map((id: unknown) => text(id, "claimed id")),
    deletedIds: deleted.map((id) => text(id, "deleted id")),
  };
}

/** XPENDING extended form: `[[id, consumer, idleMs, deliveries], ...]`. */
export function parsePendingRange(reply: unknown): PendingInfo[] {
  if (!Array.isArray(reply)) throw unexpected("XPENDING", reply);
  return reply.map((row) => {
    if (!Array.isArray(row) || row.length !== 4) throw unexpected("XPENDING row", row);
    return {
      id: text(row[0], "pending id"),
      consumer: text(row[1], "pending consumer"),
      idleMs: int(row[2], "pending idle"),
      deliveries: int(row[3], "pending deliveries"),
    };
  });
}

/** XPENDING summary form: `[count, minId, maxId, consumers]`; returns the lowest pending id. */
export function parsePendingSummaryFirst(reply: unknown): string | null {
  if (!Array.isArray(reply) || reply.length !== 4) throw unexpected("XPENDING summary", reply);
  return reply[1] === null ? null : text(reply[1], "XPENDING min id");
}

/** XINFO replies are flat `[key, value, ...]` records. */
export function parseRecords(reply: unknown, what: string): Map<string, unknown>[] {
  if (!Array.isArray(reply)) throw unexpected(what, reply);
  return reply.map((row) => {
    if (!Array.isArray(row) || row.length % 2 !== 0) throw unexpected(what, row);
    const record = new Map<string, unknown>();
    for (let i = 0; i < row.length; i += 2) record.set(text(row[i], `${what} key`), row[i + 1]);
    return record;
  });
}

export interface RawGroup {
  name: string;
  consumers: number;
  pending: number;
  lastDeliveredId: string;
  lag: number | null;
  entriesRead: number | null;
}

export function parseGroups(reply: unknown): RawGroup[] {
  return parseRecords(reply, "XINFO GROUPS").map((r) => {
    // `lag` is NULL after an XDEL or trim in the unread range (and absent before Redis 7): unknown, not 0.
    const lag = r.get("lag");
    const entriesRead = r.get("entries-read");
    return {
      name: text(r.get("name"), "group name"),
      consumers: int(r.get("consumers"), "group consumers"),
      pending: int(r.get("pending"), "group pending"),
      lastDeliveredId: text(r.get("last-delivered-id"), "last-delivered-id"),
      lag: lag === null || lag === undefined ? null : int(lag, "group lag"),
      entriesRead:
        entriesRead === null || entriesRead === undefined ? null : int(entriesRead, "group entries-read"),
    };
  });
}

export function parseConsumers(reply: unknown): ConsumerInfo[] {
  return parseRecords(reply, "XINFO CONSUMERS").map((r) => ({
    name: text(r.get("name"), "consumer name"),
    pending: int(r.get("pending"), "consumer pending"),
    idleMs: int(r.get("idle"), "consumer idle"),
  }));
}

/** XINFO STREAM's `last-generated-id`. */
export function parseLastGeneratedId(reply: unknown): string {
  const [record] = parseRecords([reply], "XINFO STREAM");
  return text(record?.get("last-generated-id"), "last-generated-id");
}

/** Reply of the append-unique script: `[duplicate 0|1, id]`. */
export function parseUniqueAppend(reply: unknown): { id: string; duplicate: boolean } {
  if (!Array.isArray(reply) || reply.length !== 2) throw unexpected("append-unique", reply);
  return { duplicate: int(reply[0], "append-unique flag") === 1, id: text(reply[1], "append-unique id") };
}

/**
 * One consumer group of the memory backend: last-delivered id, the pending entries list (PEL) with
 * owner, delivery time and count, and the consumers. Mirrors Redis 7.0: reading own history or
 * claiming counts a delivery, a claim of an entry deleted from the stream drops it from the PEL and
 * reports it, and a consumer that still owns entries is never deleted.
 */
import type {
  AdoptResult,
  ClaimOptions,
  ClaimResult,
  ConsumerInfo,
  GroupInfo,
  PendingInfo,
  PendingQuery,
  PendingReadOptions,
  RedeliveredEntry,
  StreamEntry,
} from "./backend.ts";
import type { MemoryLog } from "./memory-log.ts";
import {
  compareIds,
  formatStreamId,
  parseStreamId,
  rangeStart,
  type StreamId,
  ZERO_ID,
} from "./stream-id.ts";

interface Consumer {
  readonly name: string;
  seenAt: number;
  /** How many pending entries it owns. */
  pending: number;
}

interface Pending {
  readonly id: string;
  readonly sid: StreamId;
  owner: Consumer;
  deliveredAt: number;
  deliveries: number;
}

export class MemoryGroup {
  readonly name: string;
  #lastDelivered: StreamId;
  /**
   * Insertion order is id order: entries join only via `deliverNew`, whose ids only grow, and a claim
   * changes an entry's owner in place. So one map serves every query, each consumer's own in id order too.
   */
  readonly #pel = new Map<string, Pending>();
  readonly #consumers = new Map<string, Consumer>();
  /** Entries delivered by `deliverNew`, counted from those the start id skipped (as Redis counts them). */
  #entriesRead: number;

  constructor(name: string, startId: StreamId | string, log: MemoryLog) {
    this.name = name;
    this.#lastDelivered = typeof startId === "string" ? parseStreamId(startId) : startId;
    this.#entriesRead = log.length - log.countAfter(this.#lastDelivered);
  }

  deliverNew(log: MemoryLog, consumer: string, count: number, now: number): StreamEntry[] {
    const entries = log.after(this.#lastDelivered, count);
    // Redis 7.0 creates a consumer only when a read delivers to it (an empty read refreshes an existing one).
    const known = this.#consumers.get(consumer);
    if (entries.length === 0) {
      if (known) known.seenAt = now;
      return [];
    }
    const owner = this.#consumer(consumer, now);
    const out: StreamEntry[] = new Array(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      this.#pel.set(entry.id, { id: entry.id, sid: entry.sid, owner, deliveredAt: now, deliveries: 1 });
      out[i] = { id: entry.id, fields: entry.fields };
    }
    owner.pending += entries.length;
    this.#entriesRead += entries.length;
    this.#lastDelivered = entries[entries.length - 1]!.sid;
    return out;
  }

  redeliverOwn(
    log: MemoryLog,
    consumer: string,
    options: PendingReadOptions,
    now: number,
  ): RedeliveredEntry[] {
    const owner = this.#consumer(consumer, now);
    const after = parseStreamId(options.after ?? ZERO_ID);
    const out: RedeliveredEntry[] = [];
    for (const p of this.#pel.values()) {
      if (out.length >= options.count) break;
      if (p.owner !== owner || compareIds(p.sid, after) <= 0) continue;
      p.deliveries++;
      p.deliveredAt = now;
      out.push({ id: p.id, fields: log.get(p.sid)?.fields ?? null, deliveries: p.deliveries });
    }
    return out;
  }

  ack(ids: readonly string[]): number {
    let acked = 0;
    for (const id of ids) {
      const pending = this.#pel.get(id);
      if (!pending) continue;
      this.#pel.delete(id);
      pending.owner.pending--;
      acked++;
    }
    return acked;
  }

  pendingInfo(query: PendingQuery, now: number): PendingInfo[] {
    const after = query.after === undefined ? undefined : parseStreamId(query.after);
    const out: PendingInfo[] = [];
    for (const p of this.#pel.values()) {
      if (out.length >= query.count) break;
      if (after && compareIds(p.sid, after) <= 0) continue;
      if (query.consumer !== undefined && p.owner.name !== query.consumer) continue;
      const idleMs = now - p.deliveredAt;
      if (query.minIdleMs !== undefined && idleMs < query.minIdleMs) continue;
      out.push({ id: p.id, consumer: p.owner.name, idleMs, deliveries: p.deliveries });
    }
    return out;
  }

  claimIdle(log: MemoryLog, consumer: string, options: ClaimOptions, now: number): ClaimResult {
    // Like Redis 7.0, the claimer is created (and refreshed) only when it takes an entry.
    const start = rangeStart(options.cursor ?? ZERO_ID);
    const entries: RedeliveredEntry[] = [];
    const deletedIds: string[] = [];
    for (const p of this.#pel.values()) {
      if (compareIds(p.sid, start) < 0 || now - p.deliveredAt < options.minIdleMs) continue;
      if (entries.length >= options.count) return { entries, deletedIds, cursor: p.id };
      const entry = log.get(p.sid);
      if (!entry) {
        // Redis >= 7: a pending entry that no longer exists leaves the PEL and is reported.
        this.ack([p.id]);
        deletedIds.push(p.id);
        continue;
      }
      const claimer = this.#consumer(consumer, now);
      p.owner.pending--;
      claimer.pending++;
      p.owner = claimer;
      p.deliveries++;
      p.deliveredAt = now;
      entries.push({ id: p.id, fields: entry.fields, deliveries: p.deliveries });
    }
    return { entries, deletedIds, cursor: ZERO_ID };
  }

  adopt(log: MemoryLog, consumer: string, now: number): AdoptResult {
    let pending = 0;
    const deletedIds: string[] = [];
    for (const p of [...this.#pel.values()]) {
      if (!log.get(p.sid)) {
        this.ack([p.id]);
        deletedIds.push(p.id);
        continue;
      }
      // Like XCLAIM JUSTID: the owner changes and the idle time restarts; the delivery count stays.
      const adopter = this.#consumer(consumer, now);
      p.owner.pending--;
      adopter.pending++;
      p.owner = adopter;
      p.deliveredAt = now;
      pending++;
    }
    return { pending, deletedIds };
  }

  consumerInfo(now: number): ConsumerInfo[] {
    return [...this.#consumers.values()].map((c) => ({
      name: c.name,
      pending: c.pending,
      idleMs: now - c.seenAt,
    }));
  }

  deleteConsumer(consumer: string): "deleted" | "has-pending" {
    const c = this.#consumers.get(consumer);
    if (c && c.pending > 0) return "has-pending";
    this.#consumers.delete(consumer);
    return "deleted";
  }

  info(log: MemoryLog): GroupInfo {
    const first = this.#pel.values().next();
    return {
      name: this.name,
      consumers: this.#consumers.size,
      pending: this.#pel.size,
      lastDeliveredId: formatStreamId(this.#lastDelivered),
      lag: log.countAfter(this.#lastDelivered),
      entriesRead: this.#entriesRead,
      firstPendingId: first.done ? null : first.value.id,
      length: log.length,
    };
  }

  #consumer(name: string, now: number): Consumer {
    let c = this.#consumers.get(name);
    if (!c) {
      c = { name, seenAt: now, pending: 0 };
      this.#consumers.set(name, c);
    }
    c.seenAt = now;
    return c;
  }
}

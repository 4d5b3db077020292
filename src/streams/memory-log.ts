/**
 * One in-memory stream's entries: an id-ordered array, searched by binary search, with the id rules of Redis
 * (`ms-seq`, strictly increasing even when the clock stalls or steps back). Consumer groups live in
 * `memory-backend.ts`; this module only stores, ranges, deletes and trims entries.
 */
import type { EntryFields, StreamEntry } from "./backend.ts";
import {
  compareIds,
  formatStreamId,
  parseStreamId,
  rangeEnd,
  rangeStart,
  type StreamId,
} from "./stream-id.ts";

export interface LogEntry {
  readonly id: string;
  readonly sid: StreamId;
  readonly fields: EntryFields;
}

export class MemoryLog {
  #entries: LogEntry[] = [];
  #last: StreamId = { ms: 0, seq: 0 };

  get length(): number {
    return this.#entries.length;
  }

  get lastId(): StreamId {
    return this.#last;
  }

  /** The last id becomes `<ms>-0` if it is below. */
  raiseLastId(ms: number): void {
    if (compareIds({ ms, seq: 0 }, this.#last) > 0) this.#last = { ms, seq: 0 };
  }

  /** The entry with exactly this id, if the stream still holds it. */
  get(sid: StreamId): LogEntry | undefined {
    const entry = this.#entries[this.lowerBound(sid)];
    return entry && compareIds(entry.sid, sid) === 0 ? entry : undefined;
  }

  append(now: number, fields: EntryFields): LogEntry {
    const ms = Math.max(now, this.#last.ms);
    const sid = ms === this.#last.ms ? { ms, seq: this.#last.seq + 1 } : { ms, seq: 0 };
    const entry: LogEntry = { id: formatStreamId(sid), sid, fields };
    this.#last = sid;
    this.#entries.push(entry);
    return entry;
  }

  /**
   * Appends under `sid` when it is above the last id; else `duplicate` when the log holds it or it is below
   * the oldest entry (trimmed), `out-of-order` when it falls inside the log but is absent.
   */
  appendAt(sid: StreamId, fields: EntryFields): "appended" | "duplicate" | "out-of-order" {
    if (compareIds(sid, this.#last) > 0) {
      this.#last = sid;
      this.#entries.push({ id: formatStreamId(sid), sid, fields });
      return "appended";
    }
    const oldest = this.#entries[0];
    if (oldest === undefined || compareIds(sid, oldest.sid) < 0 || this.get(sid)) return "duplicate";
    return "out-of-order";
  }

  /** Index of the first entry with id >= `sid`. */
  lowerBound(sid: StreamId): number {
    let lo = 0;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(this.#entries[mid]!.sid, sid) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Entries with id > `after`, oldest first, at most `count`. */
  after(after: StreamId, count: number): LogEntry[] {
    const from = this.lowerBound({ ms: after.ms, seq: after.seq + 1 });
    return this.#entries.slice(from, from + count);
  }

  /** How many entries have an id greater than `after`. */
  countAfter(after: StreamId): number {
    return this.#entries.length - this.lowerBound({ ms: after.ms, seq: after.seq + 1 });
  }

  range(start: string, end: string, count: number, reverse: boolean): StreamEntry[] {
    // XREVRANGE takes the upper bound first.
    const low = rangeStart(reverse ? end : start);
    const high = rangeEnd(reverse ? start : end);
    const out: StreamEntry[] = [];
    if (reverse) {
      for (let i = this.lowerBound(high) + 1; i-- > 0 && out.length < count; ) {
        const entry = this.#entries[i];
        if (!entry || compareIds(entry.sid, high) > 0) continue;
        if (compareIds(entry.sid, low) < 0) break;
        out.push({ id: entry.id, fields: entry.fields });
      }
      return out;
    }
    for (let i = this.lowerBound(low); i < this.#entries.length && out.length < count; i++) {
      const entry = this.#entries[i]!;
      if (compareIds(entry.sid, high) > 0) break;
      out.push({ id: entry.id, fields: entry.fields });
    }
    return out;
  }

  delete(ids: readonly string[]): number {
    let removed = 0;
    for (const id of ids) {
      const sid = parseStreamId(id);
      const at = this.lowerBound(sid);
      const entry = this.#entries[at];
      if (!entry || compareIds(entry.sid, sid) !== 0) continue;
      this.#entries.splice(at, 1);
      removed++;
    }
    return removed;
  }

  /** Removes every entry with id < `minId` (XTRIM MINID). */
  trim(minId: string): number {
    const cut = this.lowerBound(parseStreamId(minId));
    if (cut === 0) return 0;
    this.#entries = this.#entries.slice(cut);
    return cut;
  }
}

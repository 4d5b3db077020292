/**
 * Where a stream's newest N entries start, for retention's `keepLast` floor, found without reading them.
 * Reading them (XREVRANGE + - COUNT N) moved every one of them, each retention tick: for the scanner's tx
 * stream 10,000 entries (3.8 MB) every 5 s, which held Redis for 15–20 ms (every reader and writer waited)
 * and the main thread for the decoding; for the alerts stream, 100,000.
 *
 * A group's read counter (XINFO GROUPS `entries-read`, Redis ≥ 7) is the position of its last-delivered
 * id in the count of entries ever added, and `entries-read + lag` is the stream's head. So each tick
 * records, per group, (position, last-delivered id); the floor is the newest recorded id at least N
 * positions behind its group's head. Only at a start (nothing recorded that far back yet) or when the
 * counters are unknown (Redis after an XDEL) are the entries read, once, and the answer recorded.
 */
import type { GroupInfo, StreamBackend } from "./backend.ts";
import { compareIdStrings } from "./stream-id.ts";

interface Mark {
  /** Entries added up to and including `id`, in the group's counter. */
  readonly position: number;
  readonly id: string;
}

export class KeepLastFloor {
  /** Per group, oldest first; only the newest mark far enough back and the ones after it are kept. */
  readonly #marks = new Map<string, Mark[]>();

  /**
   * The lowest id to keep so that at least the newest `keep` entries stay (MINID keeps it and everything
   * after it); `null` when the stream holds fewer than `keep` entries (nothing may go).
   */
  async floor(
    backend: StreamBackend,
    stream: string,
    groups: readonly GroupInfo[],
    keep: number,
  ): Promise<string | null> {
    if (groups.length === 0 || groups[0]!.length < keep) return null;
    let best: string | null = null;
    for (const group of groups) {
      const id = this.#recorded(group, keep);
      if (id !== null && (best === null || compareIdStrings(id, best) > 0)) best = id;
    }
    if (best !== null) return best;
    const newest = await backend.range(stream, { count: keep, reverse: true });
    if (newest.length < keep) return null;
    const floor = newest.at(-1)!.id;
    // Its position is head - keep + 1 when nothing after it was deleted; a deletion makes it older than
    // that, so the mark can only make a later floor keep more, never fewer.
    for (const group of groups) {
      if (group.entriesRead !== null && group.lag !== null)
        this.#mark(group.name, { position: group.entriesRead + group.lag - keep + 1, id: floor });
    }
    return floor;
  }

  /** Records the group's position and returns the newest mark `keep` behind its head, or null. */
  #recorded(group: GroupInfo, keep: number): string | null {
    if (group.entriesRead === null || group.lag === null) return null;
    this.#mark(group.name, { position: group.entriesRead, id: group.lastDeliveredId });
    const marks = this.#marks.get(group.name)!;
    const limit = group.entriesRead + group.lag - keep;
    let found = -1;
    for (let i = 0; i < marks.length && marks[i]!.position <= limit; i++) found = i;
    if (found < 0) return null;
    marks.splice(0, found);
    return marks[0]!.id;
  }

  /** Keeps the group's marks ordered by position (a cold start's mark lands behind the others). */
  #mark(group: string, mark: Mark): void {
    const marks = this.#marks.get(group) ?? [];
    this.#marks.set(group, marks);
    let at = marks.length;
    while (at > 0 && marks[at - 1]!.position > mark.position) at--;
    if (at > 0 && marks[at - 1]!.position === mark.position) return;
    marks.splice(at, 0, mark);
  }
}

/**
 * What a checkpoint of a stream-fed actor covers: the stream entries its instance handled since the
 * previous checkpoint. The pump hands each entry to the runtime as the message's tag (its held entry in
 * pump-ledger.ts implements {@link CoveredEntry}); the runtime gives the tags back in `Checkpoint.covers`;
 * a stream state store acks them in the same atomic write as the state, and only once their outputs are
 * durable, so an entry is acked exactly when both its effect on the state and its outputs are.
 */

export interface CoveredEntry {
  readonly stream: string;
  readonly group: string;
  readonly id: string;
  /**
   * False for an entry handed to the actor in process before the stream brought it (`Pump.handOver`): it is
   * covered like any other, its outputs written first, but there is nothing to ack (its stream copy is read
   * and acked on its own).
   */
  readonly inStream: boolean;
  /**
   * `null` when the entry's outputs are durable (written, or the entry was dead-lettered), else a promise
   * that resolves once they are. A commit under `epoch` calls it first: outputs refused for an older epoch
   * (its incarnation crashed and this one handled the entry again) are written again under `epoch`; it
   * rejects with `ERR_FENCED` when `epoch` itself is stale.
   */
  untilWritten(epoch: number): Promise<void> | null;
  /** The checkpoint that acked the entry is durable: the pump lets it go and counts it acked. */
  acked(): void;
  /**
   * For the runtime: it will never cover this entry (its instance failed for good, was fenced or
   * stopped); the pump lets it go unacked, pending in the stream for a replay.
   */
  released(): void;
}

export function isCoveredEntry(tag: unknown): tag is CoveredEntry {
  return typeof (tag as Partial<CoveredEntry> | null)?.untilWritten === "function";
}

/** Gives back entries the runtime will never cover (`StateStore.release`): pending, for a replay. */
export function releaseCovers(covers: readonly unknown[]): void {
  for (const tag of covers) if (isCoveredEntry(tag)) tag.released();
}

/** The ids one XACK settles. */
export interface AckGroup {
  readonly stream: string;
  readonly group: string;
  readonly ids: string[];
}

export interface PreparedCovers {
  readonly entries: readonly CoveredEntry[];
  readonly acks: readonly AckGroup[];
}

/**
 * The stream entries among `covers` (other tags, e.g. of plain `tell`s, have nothing to ack), once
 * every one's outputs are durable, with their ids grouped per stream and group in handling order.
 */
export async function prepareCovers(covers: readonly unknown[], epoch: number): Promise<PreparedCovers> {
  const entries: CoveredEntry[] = [];
  const waits: Promise<void>[] = [];
  const acks: AckGroup[] = [];
  const byStream = new Map<string, Map<string, AckGroup>>();
  for (const tag of covers) {
    if (!isCoveredEntry(tag)) continue;
    entries.push(tag);
    const wait = tag.untilWritten(epoch);
    if (wait !== null) waits.push(wait);
    if (tag.inStream === false) continue;
    let groups = byStream.get(tag.stream);
    if (!groups) {
      groups = new Map();
      byStream.set(tag.stream, groups);
    }
    let group = groups.get(tag.group);
    if (!group) {
      group = { stream: tag.stream, group: tag.group, ids: [] };
      groups.set(tag.group, group);
      acks.push(group);
    }
    group.ids.push(tag.id);
  }
  if (waits.length > 0) await Promise.all(waits);
  return { entries, acks };
}

/**
 * The wallet analyzer's forwarding to the keyed stream (issue 14): once it has handled an event with a mint
 * (`mintKeyOf`), the event goes to its mint's partition with what the mint analyzer needs besides it
 * ({@link Keyed}: the watermark, the stream's first event time, a trade's trader facts); a tick goes to
 * every partition. Each is an output of the tx entry that caused it, written under that entry's id (scope
 * `source`: `StreamBackend.appendAt`), so each partition holds its entries in the tx stream's order and a
 * redelivered or replayed entry writes nothing twice, with no dedup marker per event (one a trade, kept an
 * hour, would cost Redis a key per event); a write that would land after a later one is refused, never
 * reordered. Encoded here, in the worker, as Ingest encodes its entries (JSON, marked
 * validated: the event was), so the main thread only moves bytes and the mint actor parses them in its own
 * worker.
 */
import type { WriteFields } from "../streams/backend.ts";
import { partitionKey, partitionOf } from "../streams/partitions.ts";
import type { Analyzer, TxEntry } from "./analyzer.ts";
import { mintKeyOf } from "./mint-analyzer.ts";
import { ingestCodec } from "./tx-entry.ts";

/** Where the keyed stream is: its name and partition count (fixed when it was created). */
export interface KeyedStreamRef {
  stream: string;
  partitions: number;
}

export interface KeyedOutput {
  stream: string;
  dedupId: string;
  scope: "source";
  fields: WriteFields;
}

export class KeyedFeed {
  readonly #keys: readonly string[];

  constructor(ref: KeyedStreamRef) {
    this.#keys = Array.from({ length: ref.partitions }, (_, i) =>
      partitionKey(ref.stream, i, ref.partitions),
    );
  }

  /** The keyed stream's entries for `entry`, which `analyzer` has just handled. */
  outputs(entry: TxEntry, analyzer: Analyzer): KeyedOutput[] {
    if (entry.kind === "tick") {
      const fields = ingestCodec.encode(entry);
      return this.#keys.map((stream, i) => ({ stream, dedupId: `tick:${i}`, scope: "source", fields }));
    }
    const mint = mintKeyOf(entry);
    if (mint === undefined) return [];
    return [
      {
        stream: this.#keys[partitionOf(mint, this.#keys.length)]!,
        dedupId: "keyed",
        scope: "source",
        fields: ingestCodec.encode({ ...entry, ...analyzer.keyedFields(entry) }),
      },
    ];
  }
}

/**
 * One writer of the tx stream at a time among `--role ingest` processes: the writing is the one unit of a
 * `PartitionOwnership` (streams/ownership.ts) under `<prefix>ingest`, so a second ingest process on the same
 * prefix stands by instead of writing every event again, and takes the writing over when the writer stops,
 * dies (its connections close: within a presence check) or freezes past the lease. Each term of writing gets
 * a fresh writer, which reads the stream's newest entries and its last id before its first append, and the
 * sources go on from their marks (a replay's line, the generator's hour and count), so a takeover writes
 * each event once. Kafka Connect assigns a source task to one worker the same way.
 *
 * A writer asks its lease before each batch, resend and mark, by its own clock (the lease's local deadline
 * comes before it can have expired in Redis), so a writer thawed after a freeze sends nothing more; and a
 * writer taking over raises the stream's last id to its clock first (stream-writer.ts), so a batch the old
 * one had named before the freeze and sends on its thaw is refused by Redis.
 */
import type { StreamBackend } from "../streams/backend.ts";
import { PartitionOwnership, type RevokeReason } from "../streams/ownership.ts";
import type { Partitions } from "../streams/partitions.ts";

/** The ingest writing as a unit of ownership: one key inside the prefix's hash tag, if it has one. */
export function ingestUnits(prefix: string): Partitions {
  const name = `${prefix}ingest`;
  return { name, partitions: 1, keys: [`${name}:writer`] };
}

/** This process started or stopped writing: `reason` null for a start, with the lease's generation. */
export interface IngestMove {
  readonly generation: number;
  readonly reason: RevokeReason | null;
}

export interface IngestTerm {
  readonly signal: AbortSignal;
  readonly mayWrite: () => boolean;
}

export interface LeasedIngestOptions<T> {
  backend: StreamBackend;
  prefix: string;
  /** This process among the ingest processes: unique per process. */
  member: string;
  /** Ends the writing, and a stand-by. */
  signal: AbortSignal;
  /**
   * One term of writing, until its signal aborts (the lease lost or given up, or `signal`); `mayWrite` says
   * whether the lease still holds by this process's clock (false also aborts the term's signal), asked
   * before each batch.
   */
  write: (term: IngestTerm) => Promise<T>;
  onMove?: (move: IngestMove) => void;
}

export interface LeasedIngest<T> {
  /**
   * The result of the term that ended by itself (a replay at its end) or by `signal`; null for a process
   * stopped while it stood by. A term cut short by a lost lease does not settle it: the writing goes on in
   * whichever process holds the lease, here again if it comes back.
   */
  readonly done: Promise<T | null>;
  /** This process writes now (its lease holds by its own clock); false: it stands by. */
  writing(): boolean;
  /** Ends the term under way and gives the lease up, so a stand-by takes over at once. */
  stop(): Promise<void>;
}

export async function leasedIngest<T>(options: LeasedIngestOptions<T>): Promise<LeasedIngest<T>> {
  const { promise: done, resolve, reject } = Promise.withResolvers<T | null>();
  let term: { readonly cut: AbortController; readonly running: Promise<void> } | null = null;
  let generation = 0;
  const ownership = new PartitionOwnership(
    options.backend,
    ingestUnits(options.prefix),
    {
      assigned: async (_unit, _key, leaseGeneration) => {
        generation = leaseGeneration;
        const cut = new AbortController();
        const mayWrite = () => {
          if (ownership.holds(0)) return true;
          cut.abort();
          return false;
        };
        const signal = AbortSignal.any([options.signal, cut.signal]);
        const running = options.write({ signal, mayWrite }).then(
          (result) => {
            if (!cut.signal.aborted) resolve(result);
          },
          (error: unknown) => {
            if (!cut.signal.aborted) reject(error);
          },
        );
        term = { cut, running };
        options.onMove?.({ generation, reason: null });
      },
      revoked: async (_unit, _key, reason) => {
        const ending = term;
        term = null;
        ending?.cut.abort();
        await ending?.running;
        options.onMove?.({ generation, reason });
      },
    },
    {
      group: "ingest",
      member: options.member,
      assignment: "sticky",
    },
  );
  // A stop while writing ends the term, which settles `done` with what it wrote; while standing by, nothing will.
  options.signal.addEventListener(
    "abort",
    () => {
      if (!term) resolve(null);
    },
    { once: true },
  );
  if (options.signal.aborted) resolve(null);
  await ownership.start();
  await ownership.settled();
  return {
    done,
    writing: () => ownership.holds(0),
    stop: () => ownership.stop(),
  };
}

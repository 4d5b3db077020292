/**
 * Dead letters: entries the pump gave up on, kept in a stream (default `<stream>:dlq`) with the
 * original fields, source stream, group, entry id, delivery count and reason. The pump writes the
 * record with a deterministic dedup id and only then acks the source entry (one `commit`), so a crash
 * in between leaves the entry pending and the retry writes no second record. Records are plain fields,
 * readable with redis-cli; the original fields are kept under `f:<name>`.
 *
 * A replay appends the original fields to the record's source stream, marked for the record's group
 * ({@link REPLAY_FOR_FIELD}): every group of a stream reads each entry, and the others, which handled the
 * original or dead-lettered it themselves, ack the copy unhandled (pump-ledger.ts). Unmarked, a replay went
 * to every group: an entry that failed again in each came back as a letter per group, so each replay of
 * all of them multiplied them by the groups, and a replay of all kept finding the new letters it caused.
 * A record whose input never was a
 * stream entry (a line an ingest rejected: its `source` names a file, not a stream) is written
 * `replayable: false`: a replay refuses it and keeps it, rather than appending it to a stream named after
 * the file, which nothing reads, and deleting it.
 */
import { InvalidOptionError, optionNames, refuseUnknownOptions } from "../errors.ts";
import {
  dedupPath,
  type EntryFields,
  type OutputWrite,
  type StreamBackend,
  type StreamEntry,
} from "./backend.ts";
import { ZERO_ID } from "./stream-id.ts";

/**
 * Why an entry was dead-lettered: malformed (could not be decoded), max-deliveries (the stream's delivery
 * count passed `maxDeliveries`), handler-failed (the runtime gave up: `ERR_MAX_DELIVERIES`), rejected (the
 * handler rejected it for good: `ERR_MESSAGE_REJECTED`, e.g. an invalid event), deleted-while-pending (only
 * its id survives), invalid-outputs (the handler returned outputs that cannot be written), output-failed
 * (the outputs kept failing past `maxCommitAttempts`).
 */
export const DEAD_LETTER_REASONS = [
  "malformed",
  "max-deliveries",
  "handler-failed",
  "rejected",
  "deleted-while-pending",
  "invalid-outputs",
  "output-failed",
] as const;

export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** An entry a pump gave up on, as its record in the dead-letter stream holds it. */
export interface StreamDeadLetter {
  /** Id of the record in the dead-letter stream. */
  readonly id: string;
  readonly source: string;
  readonly group: string;
  readonly entryId: string;
  readonly deliveries: number;
  readonly reason: DeadLetterReason;
  readonly error: string | null;
  readonly at: number;
  /** The original fields; `null` when the entry was gone before it was dead-lettered. */
  readonly fields: EntryFields | null;
  /**
   * Whether a replay has somewhere to go: false when the fields are gone, or when the record is input
   * rejected before it became a stream entry (its `source` is not a stream).
   */
  readonly replayable: boolean;
}

/** What a pump writes: the record before the stream gives it an id and a time. */
export type DeadLetterInput = Omit<StreamDeadLetter, "id" | "at" | "error" | "replayable"> & {
  readonly error?: string;
  /** False for input that never was an entry of `source` (it is kept for reading, never replayed). @defaultValue true */
  readonly replayable?: boolean;
};

const FIELD_PREFIX = "f:";

/** The field a replayed entry names its group in: only that group handles it. */
export const REPLAY_FOR_FIELD = "troupe-replay-for";

/** The group a replayed entry is for, or undefined for any other entry. */
export function replayedFor(fields: EntryFields): string | undefined {
  return fields[REPLAY_FOR_FIELD]?.toString();
}

/** The entry's own fields, without the replay's mark. */
export function withoutReplayMark(fields: EntryFields): EntryFields {
  const { [REPLAY_FOR_FIELD]: _mark, ...own } = fields;
  return own;
}

/** The idempotent write of one dead letter (same source entry and group → same dedup id). */
export function deadLetterWrite(
  dlq: string,
  letter: DeadLetterInput,
  now: number,
  ttlMs: number,
): OutputWrite {
  const fields: Record<string, string | Uint8Array> = {
    source: letter.source,
    group: letter.group,
    entry: letter.entryId,
    deliveries: String(letter.deliveries),
    reason: letter.reason,
    at: String(now),
  };
  if (letter.error !== undefined) fields.error = letter.error;
  if (letter.replayable === false) fields.replayable = "false";
  for (const [name, value] of Object.entries(letter.fields ?? {})) fields[FIELD_PREFIX + name] = value;
  return {
    stream: dlq,
    dedupId: dedupPath("dlq", letter.source, letter.group, letter.entryId),
    fields,
    ttlMs,
  };
}

/** Reads a record back; `null` for an entry that is not a dead letter. */
export function parseDeadLetter(entry: StreamEntry): StreamDeadLetter | null {
  const f = entry.fields;
  if (!f?.source || !f.group || !f.entry || !f.reason) return null;
  let original: EntryFields | null = null;
  for (const [name, value] of Object.entries(f)) {
    if (!name.startsWith(FIELD_PREFIX)) continue;
    original ??= {};
    original[name.slice(FIELD_PREFIX.length)] = value;
  }
  return {
    id: entry.id,
    source: f.source.toString(),
    group: f.group.toString(),
    entryId: f.entry.toString(),
    deliveries: Number(f.deliveries?.toString() ?? 0),
    reason: f.reason.toString() as DeadLetterReason,
    error: f.error?.toString() ?? null,
    at: Number(f.at?.toString() ?? 0),
    fields: original,
    replayable: original !== null && f.replayable?.toString() !== "false",
  };
}

export interface DeadLetterFilter {
  readonly stream?: string;
  readonly group?: string;
  readonly reason?: DeadLetterReason;
}

export interface DeadLetterPage {
  readonly letters: StreamDeadLetter[];
  /** Pass as `after` for the next page; `null` at the end. */
  readonly next: string | null;
}

export interface DeadLettersOptions {
  /** How long a replay remembers it appended a record's entry, so a retried replay appends it once. @defaultValue 86400000 (a day) */
  replayDedupTtlMs?: number;
}

const DEAD_LETTERS_OPTION_NAMES = optionNames<DeadLettersOptions>({ replayDedupTtlMs: true });
const REPLAY_ALL_OPTION_NAMES = optionNames<{ batchSize?: number }>({ batchSize: true });

function positiveInteger(option: string, value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) <= 0)
    throw new InvalidOptionError(option, `must be a positive integer, got ${String(value)}`);
  return value as number;
}

/** Lists, replays and deletes the records of one dead-letter stream. */
export class DeadLetters {
  readonly #backend: StreamBackend;
  readonly stream: string;
  readonly #replayTtlMs: number;

  constructor(backend: StreamBackend, stream: string, options: DeadLettersOptions = {}) {
    refuseUnknownOptions(options, DEAD_LETTERS_OPTION_NAMES, "", "a DeadLetters option");
    this.#backend = backend;
    this.stream = stream;
    this.#replayTtlMs = positiveInteger("replayDedupTtlMs", options.replayDedupTtlMs ?? 86_400_000);
  }

  /**
   * Oldest first; scans `count` records per page (after `after`, or from `from` included; up to `through`
   * included) and returns those matching the filter.
   */
  async list(
    filter: DeadLetterFilter = {},
    page: { after?: string; from?: string; through?: string; count?: number } = {},
  ): Promise<DeadLetterPage> {
    const count = positiveInteger("count", page.count ?? 100);
    const entries = await this.#backend.range(this.stream, {
      start: page.from ?? `(${page.after ?? ZERO_ID}`,
      ...(page.through !== undefined && { end: page.through }),
      count,
    });
    const letters = entries
      .map(parseDeadLetter)
      .filter((l): l is StreamDeadLetter => l !== null && matches(l, filter));
    return { letters, next: entries.length < count ? null : (entries.at(-1)?.id ?? null) };
  }

  async get(id: string): Promise<StreamDeadLetter | null> {
    const [entry] = await this.#backend.range(this.stream, { start: id, end: id, count: 1 });
    return entry ? parseDeadLetter(entry) : null;
  }

  /**
   * Appends the original entry to its source stream again (a new id, delivery count 1), for the record's
   * group alone, then deletes the record. Idempotent per record: a retried replay does not append twice.
   * Returns false, and keeps the record, when it is missing or not replayable (see
   * {@link StreamDeadLetter.replayable}).
   */
  async replay(id: string): Promise<boolean> {
    const letter = await this.get(id);
    if (!letter) return false;
    return (await this.#replayBatch([letter])) === 1;
  }

  /**
   * Replays every matching replayable record there is when it starts, `batchSize` at a time (the others
   * stay); returns how many. The letters its replays cause (an entry that fails again) are left for the next.
   */
  async replayAll(filter: DeadLetterFilter = {}, options: { batchSize?: number } = {}): Promise<number> {
    refuseUnknownOptions(options, REPLAY_ALL_OPTION_NAMES, "", "a replayAll option");
    const batchSize = positiveInteger("batchSize", options.batchSize ?? 500);
    const last = await this.#backend.lastId(this.stream);
    let replayed = 0;
    let after: string | undefined;
    do {
      const page = await this.list(filter, {
        count: batchSize,
        through: last,
        ...(after && { after }),
      });
      replayed += await this.#replayBatch(page.letters);
      after = page.next ?? undefined;
    } while (after);
    return replayed;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.#backend.delete(this.stream, [id])) === 1;
  }

  async #replayBatch(letters: readonly StreamDeadLetter[]): Promise<number> {
    const replayable = letters.filter((l) => l.replayable);
    // Issued together: ioredis writes them back to back on one connection (one round trip).
    await Promise.all(
      replayable.map((l) =>
        this.#backend.appendUnique(
          l.source,
          `replay/${this.stream}/${l.id}`,
          { ...l.fields!, [REPLAY_FOR_FIELD]: l.group },
          this.#replayTtlMs,
        ),
      ),
    );
    await this.#backend.delete(
      this.stream,
      replayable.map((l) => l.id),
    );
    return replayable.length;
  }
}

function matches(letter: StreamDeadLetter, filter: DeadLetterFilter): boolean {
  return (
    (filter.stream === undefined || letter.source === filter.stream) &&
    (filter.group === undefined || letter.group === filter.group) &&
    (filter.reason === undefined || letter.reason === filter.reason)
  );
}

/**
 * Appends that a resend cannot duplicate: the writer names each entry's stream id itself (after the
 * stream's last, on its clock), so Redis's own id rule, an id at or below the stream's last is refused,
 * tells a write that landed from one that did not (Kafka's idempotent producer, whose sequence numbers the
 * broker checks). Plain XADD `*` cannot: when a stall outlasts the command timeout, ioredis fails appends
 * that Redis then performs, and a resend writes them again (seen: a 1 s SIGSTOP wrote a batch four times).
 *
 * A batch goes out as one pipeline of XADDs under its ids, as fast as `*`. What it reports failed is sent
 * again entry by entry, in order, under the same ids (`appendAt`): written if still above the stream's
 * last, taken as landed if the stream holds that id with the same fields (or trimmed it since), and given a
 * new id at the end if the stream went on without it (a refusal, out of memory, then later entries
 * accepted: it lands after them, the one reordering left). One writer per stream: a second one's entries
 * would sit where this one's ids go; one with the same fields is never taken for this one's, so nothing is
 * lost, but the two refuse each other's ids and slow down.
 */
import { TroupeError } from "../errors.ts";
import { type BackoffOptions, backoffDelay } from "../time/backoff.ts";
import type { Clock } from "../time/clock.ts";
import { sleep } from "../time/timers.ts";
import type { EntryFields, StreamBackend, WriteFields } from "./backend.ts";
import { isOutOfOrder } from "./commit.ts";
import { compareIds, formatStreamId, idAfter, parseStreamId, type StreamId } from "./stream-id.ts";

/** An entry whose write failed, sent again after `retryInMs` (at once after its pipeline's failure). */
export interface AppendRetry {
  /** The entry's id and why its last attempt failed. */
  readonly id: string;
  readonly error: TroupeError;
  /** Consecutive failures of this entry so far. */
  readonly attempt: number;
  readonly retryInMs: number;
}

/** Throws `ERR_FENCED` unless `mayWrite` says the write may go out. */
export function refuseUnless(mayWrite: () => boolean): void {
  if (!mayWrite())
    throw new TroupeError("ERR_FENCED", "this producer may no longer write (its lease lapsed): nothing sent");
}

/** What the appender reports and asks besides its writes. */
export interface AppenderHooks {
  /** A failed entry is sent again. */
  readonly onRetry?: (retry: AppendRetry) => void;
  /** Asked before each write: false ends the append with `ERR_FENCED` (producer.ts `mayWrite`). */
  readonly mayWrite?: () => boolean;
}

export class IdempotentAppender {
  readonly #backend: StreamBackend;
  readonly #stream: string;
  readonly #clock: Clock;
  readonly #backoff: Required<BackoffOptions>;
  readonly #onRetry: (retry: AppendRetry) => void;
  readonly #mayWrite: () => boolean;
  /** The last id given, once read from the stream before the first batch (`#seeded`). */
  #last: StreamId = { ms: 0, seq: 0 };
  #seeded: Promise<void> | null = null;

  constructor(
    backend: StreamBackend,
    stream: string,
    clock: Clock,
    backoff: Required<BackoffOptions>,
    hooks: AppenderHooks = {},
  ) {
    this.#backend = backend;
    this.#stream = stream;
    this.#clock = clock;
    this.#backoff = backoff;
    this.#onRetry = hooks.onRetry ?? (() => {});
    this.#mayWrite = hooks.mayWrite ?? (() => true);
  }

  /**
   * Writes the batch, in order, each entry once; resolves with their ids once all are written. Failures
   * are retried with backoff for as long as they last; an abort of `signal` rejects with its reason,
   * leaving what was written.
   */
  async append(batch: readonly WriteFields[], signal?: AbortSignal): Promise<string[]> {
    const ids = await this.#ids(batch.length);
    let results: Awaited<ReturnType<StreamBackend["appendBatch"]>>;
    refuseUnless(this.#mayWrite);
    try {
      results = await this.#backend.appendBatch(this.#stream, batch, ids);
    } catch (error) {
      results = batch.map(() => ({ ok: false, error: error as TroupeError }));
    }
    for (let i = 0; i < batch.length; i++) {
      const result = results[i];
      if (result === undefined || result.ok) continue;
      this.#onRetry({ id: ids[i] as string, error: result.error, attempt: 1, retryInMs: 0 });
      ids[i] = await this.#resend(ids[i] as string, batch[i] as WriteFields, signal);
    }
    return ids;
  }

  /** Sends one failed entry again, at once, then with backoff while it keeps failing. */
  async #resend(id: string, fields: WriteFields, signal?: AbortSignal): Promise<string> {
    for (let attempt = 1; ; ) {
      signal?.throwIfAborted();
      refuseUnless(this.#mayWrite);
      try {
        if (await this.#landed(id, fields)) return id;
        id = await this.#after();
      } catch (error) {
        const retryInMs = backoffDelay(attempt - 1, this.#backoff);
        this.#onRetry({ id, error: error as TroupeError, attempt: ++attempt, retryInMs });
        await sleep(this.#clock, retryInMs, signal);
      }
    }
  }

  /** Writes the entry under `id` unless it is there already; false when `id` is lost to it (taken, passed). */
  async #landed(id: string, fields: WriteFields): Promise<boolean> {
    try {
      const { duplicate } = await this.#backend.appendAt(this.#stream, id, fields);
      return !duplicate || (await this.#holds(id, fields));
    } catch (error) {
      if (isOutOfOrder(error)) return false;
      throw error;
    }
  }

  /** Whether the stream's entry `id` is this write (or was trimmed, so it landed before). */
  async #holds(id: string, fields: WriteFields): Promise<boolean> {
    const [entry] = await this.#backend.range(this.#stream, { start: id, end: id, count: 1 });
    return entry === undefined || sameFields(fields, entry.fields);
  }

  /** A new id for an entry the stream went on without: after everything it holds. */
  async #after(): Promise<string> {
    const stored = parseStreamId(await this.#backend.lastId(this.#stream));
    if (compareIds(stored, this.#last) > 0) this.#last = stored;
    this.#last = idAfter(this.#last, 0);
    return formatStreamId(this.#last);
  }

  /** The batch's ids, computed without a wait once seeded, so concurrent batches never share one. */
  async #ids(count: number): Promise<string[]> {
    this.#seeded ??= this.#backend.lastId(this.#stream).then(
      (id) => {
        this.#last = parseStreamId(id);
      },
      (error) => {
        this.#seeded = null;
        throw error;
      },
    );
    await this.#seeded;
    const now = this.#clock.now();
    const ids: string[] = new Array(count);
    for (let i = 0; i < count; i++) {
      this.#last = idAfter(this.#last, now);
      ids[i] = formatStreamId(this.#last);
    }
    return ids;
  }
}

function sameFields(written: WriteFields, stored: EntryFields | null): boolean {
  if (stored === null) return false;
  const names = Object.keys(written);
  if (names.length !== Object.keys(stored).length) return false;
  for (const name of names) {
    const value = written[name] as string | Uint8Array;
    const have = stored[name];
    if (have === undefined || !have.equals(typeof value === "string" ? Buffer.from(value) : value))
      return false;
  }
  return true;
}

/**
 * Batches "write outputs, then ack" for the pump. Jobs added in the same tick, or while a round is in
 * flight, go out together in one `backend.commit` (pipelined on Redis). A job whose outputs failed is
 * neither acked nor dropped (the seed's bug B): it is retried with backoff and reported on every
 * failure, and after `maxAttempts` it is turned into a dead letter, which is retried until written.
 * A write refused as `ERR_FENCED` (a durable actor's incarnation that was taken over) is never retried.
 * Jobs that write under their source entries' ids (`OutputWrite.at`) keep their order through a retry: a
 * later job's write to the same stream would make the earlier one's id fall behind the stream's last,
 * refused for good as out of order. So when such a job fails, nothing is committed until its retry is
 * due, and it goes first (Kafka's idempotent producer retries a failed batch before the ones behind it).
 * Nor is such a job dead-lettered past `maxAttempts` while its refusal may pass (out of memory, a lost
 * connection): the entry missing from the ordered stream would change what its readers compute for good,
 * so it holds the commits behind it for as long as it takes (backpressure, as a refused checkpoint does);
 * refused as out of order, which no retry can mend, it is.
 */
import { messageOf, TroupeError } from "../errors.ts";
import { type BackoffOptions, backoffDelay } from "../time/backoff.ts";
import type { Clock, TimerHandle } from "../time/clock.ts";
import type { CommitItem, CommitOutcome, StreamBackend } from "./backend.ts";
import { isOutOfOrder } from "./commit.ts";
import type { DeadLetterInput } from "./dead-letters.ts";

export interface CommitJob {
  /** Rebuilt by {@link Committer.rebuild} while it waits (a newer epoch for a durable entry's outputs). */
  item: CommitItem;
  /** Set when this job writes a dead letter (then acks the source entry). */
  readonly deadLetter: DeadLetterInput | null;
  attempts: number;
}

export interface CommitterHooks {
  committed(done: readonly { job: CommitJob; outcome: CommitOutcome }[]): void;
  failed(jobs: readonly CommitJob[], error: TroupeError, attempt: number, retryInMs: number): void;
  /** Replaces a job that failed `maxAttempts` times (the pump dead-letters it). */
  gaveUp(job: CommitJob, error: TroupeError): CommitJob;
  /** Jobs whose writes were refused as `ERR_FENCED`; they are dropped, not retried. */
  fenced(jobs: readonly CommitJob[], error: TroupeError): void;
}

export interface CommitterOptions {
  stream: string;
  group: string;
  batch: number;
  maxAttempts: number;
  retry: Required<BackoffOptions>;
  clock: Clock;
}

export class Committer {
  readonly #backend: StreamBackend;
  readonly #options: CommitterOptions;
  readonly #hooks: CommitterHooks;
  #queue: CommitJob[] = [];
  #scheduled = false;
  #flushing = false;
  /** Until an ordered job's retry is due, nothing is committed (the jobs behind it wait in the queue). */
  #holding = false;
  #stopped = false;
  readonly #timers = new Set<TimerHandle>();

  constructor(backend: StreamBackend, options: CommitterOptions, hooks: CommitterHooks) {
    this.#backend = backend;
    this.#options = options;
    this.#hooks = hooks;
  }

  add(job: CommitJob): void {
    if (this.#stopped) return;
    this.#queue.push(job);
    this.#kick();
  }

  /** Jobs that go before every queued one (older writes found refused, to be written again first). */
  addFirst(jobs: readonly CommitJob[]): void {
    if (this.#stopped || jobs.length === 0) return;
    this.#queue.unshift(...jobs);
    this.#kick();
  }

  /** Rebuilds the items of the queued jobs, not yet sent: `rebuild` returns the new item, or null to keep it. */
  rebuild(rebuild: (job: CommitJob) => CommitItem | null): void {
    for (const job of this.#queue) job.item = rebuild(job) ?? job.item;
  }

  /** Cancels retries; jobs not yet committed stay pending in the stream. */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) this.#options.clock.clearTimeout(timer);
    this.#timers.clear();
    this.#queue = [];
  }

  #kick(): void {
    if (this.#scheduled || this.#flushing || this.#holding) return;
    this.#scheduled = true;
    // A microtask, so the done callbacks of one tick share a round.
    queueMicrotask(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0 && !this.#stopped && !this.#holding) {
        const batch = this.#queue.splice(0, this.#options.batch);
        await this.#round(batch);
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #round(batch: CommitJob[]): Promise<void> {
    const { stream, group } = this.#options;
    let outcomes: CommitOutcome[];
    try {
      outcomes = await this.#backend.commit(
        stream,
        group,
        batch.map((job) => job.item),
      );
    } catch (error) {
      const failure = new TroupeError("ERR_OUTPUT_WRITE", `commit failed: ${messageOf(error)}`, {
        cause: error,
      });
      outcomes = batch.map((job) => ({ id: job.item.id, acked: false, written: 0, error: failure }));
    }
    if (this.#stopped) return;
    const done: { job: CommitJob; outcome: CommitOutcome }[] = [];
    const failed: { job: CommitJob; error: TroupeError }[] = [];
    const fenced: CommitJob[] = [];
    let fencedError: TroupeError | undefined;
    for (let i = 0; i < batch.length; i++) {
      const job = batch[i]!;
      const outcome = outcomes[i]!;
      if (outcome.acked) done.push({ job, outcome });
      else if (outcome.error?.code === "ERR_FENCED") {
        fenced.push(job);
        fencedError = outcome.error;
      } else failed.push({ job, error: outcome.error ?? new TroupeError("ERR_OUTPUT_WRITE", "not acked") });
    }
    if (done.length > 0) this.#hooks.committed(done);
    if (fencedError) this.#hooks.fenced(fenced, fencedError);
    if (failed.length > 0) this.#retry(failed);
  }

  #retry(failed: { job: CommitJob; error: TroupeError }[]): void {
    const { maxAttempts, retry, clock } = this.#options;
    const ordered = failed.some(({ job }) => writesInOrder(job));
    const later: CommitJob[] = [];
    const letters: CommitJob[] = [];
    let attempt = 0;
    for (const { job, error } of failed) {
      job.attempts++;
      attempt = Math.max(attempt, job.attempts);
      // Dead letters are the last resort: they are retried for as long as it takes.
      if (
        job.deadLetter === null &&
        job.attempts >= maxAttempts &&
        (!writesInOrder(job) || isOutOfOrder(error))
      ) {
        const letter = this.#hooks.gaveUp(job, error);
        // An ordered job's letter keeps its place too: the jobs behind it wait for the retry either way.
        (ordered ? later : letters).push(letter);
      } else later.push(job);
    }
    this.#queue.push(...letters);
    const retryInMs = backoffDelay(attempt - 1, retry);
    this.#hooks.failed(
      failed.map((f) => f.job),
      failed[0]!.error,
      attempt,
      retryInMs,
    );
    if (later.length === 0) return;
    if (ordered) {
      this.#queue.unshift(...later);
      this.#holding = true;
    }
    const timer = clock.setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#stopped) return;
      if (ordered) this.#holding = false;
      else this.#queue.push(...later);
      this.#kick();
    }, retryInMs);
    this.#timers.add(timer);
  }
}

/** Whether the job writes under its source entry's id (`OutputWrite.at`): its place in that stream is fixed. */
function writesInOrder(job: CommitJob): boolean {
  return job.item.outputs.some((output) => output.at !== undefined);
}

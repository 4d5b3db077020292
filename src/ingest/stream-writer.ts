/**
 * The transaction monitor's write side: validated events into the tx stream through the backpressured
 * producer (slows at 80%, pauses at 95% of the analyzers' lag / pending capacity). A bad line or event goes
 * to the tx dead-letter stream with its reason; an append that fails is sent again under the id the writer
 * gave it, so it is never dropped and never written twice (an idempotent producer: one writer per stream).
 *
 * Every wait (the producer paused by backpressure, a retry, the recorded pace) ends when the caller's
 * signal aborts: with the analyzers down a paused producer would otherwise wait for as long as they are
 * down, and the process could not stop. What was appended stays; the batch in hand is not written.
 *
 * A writer goes on where the last one stopped, however it stopped (a SIGKILL prints no summary): before
 * its first write it remembers the event ids of the stream's newest entries, so an event written already
 * is skipped (a restarted live source resending, a batch written but not yet marked), and a replay marks
 * with the stream, after each batch, the last line it wrote, so a replay of the same file resumes after it.
 */
import type { Tick } from "../detection/analyzer.ts";
import { type ChainEvent, type InvalidEventReason, validateEvent } from "../detection/schema.ts";
import { ingestCodec } from "../detection/tx-entry.ts";
import { TroupeError } from "../errors.ts";
import type { EntryFields, StreamBackend } from "../streams/backend.ts";
import { deadLetterWrite } from "../streams/dead-letters.ts";
import { Producer, type ProducerOptions } from "../streams/producer.ts";
import { BACKOFF_DEFAULTS, backoffDelay } from "../time/backoff.ts";
import { systemClock } from "../time/clock.ts";
import { sleep } from "../time/timers.ts";
import { GENERATOR_DEFAULTS, generate } from "./generator.ts";
import { type ReplayOptions, replayJsonl } from "./jsonl.ts";
import { RecentIds } from "./recent-ids.ts";

const BATCH = 500;
const DEAD_LETTER_TTL_MS = 3_600_000;
const HOUR_MS = 3_600_000;
/**
 * The newest entries whose event ids a writer remembers before its first write: retention keeps at least
 * these (retention.ts), and they hold the batches a stopped writer may have written without marking.
 */
const SEED_ENTRIES = 10_000;

/** How far an earlier replay of a source got: its last line written, and that line's last event time. */
export interface ReplayMark {
  readonly line: number;
  readonly ts: number | null;
}

/**
 * How far an earlier live generator of a seed got: the one-hour workload it was in (its index) and how many
 * of that workload's events it had written.
 */
export interface GeneratorMark {
  readonly hour: number;
  readonly events: number;
}

/** What the live generator writes: `seed`'s workloads at `rate` events/s, after `after` if given. */
export interface GeneratorRun {
  readonly seed: number;
  readonly rate: number;
  readonly signal: AbortSignal;
  /** Where an earlier generator of this seed stopped ({@link TxStreamWriter.generatorMark}): goes on after it. */
  readonly after?: GeneratorMark | null;
}

/**
 * The streams the writer feeds, named by the application (the scanner's `Topology` is one): the sources
 * stay free of the scanner's assembly.
 */
export interface TxStreams {
  /** The stream every analyzer group reads. */
  tx: string;
  /** Where rejected input goes, with its reason. */
  txDeadLetters: string;
  /** The groups whose lag and pending gate the producer. */
  analyzers: ReadonlyArray<{ group: string }>;
}

export interface TxStreamWriterStats {
  /** Events written to the tx stream (ticks not counted). */
  sent: number;
  /** Events not written because one with the same id was, lately (recent-ids.ts). */
  duplicates: number;
  rejected: number;
  retries: number;
}

/** What a replay did, for its summary: enough to tell what was written and where to resume. */
export interface ReplaySummary {
  /** What the source is made of: lines (JSON lines), or the elements of one JSON array. */
  unit: "line" | "element";
  /** Lines (or elements) read; blank lines are skipped, not counted. */
  lines: number;
  /** Events appended to the tx stream. */
  events: number;
  /** Events skipped: one with the same id was appended lately (recent-ids.ts). */
  duplicates: number;
  /**
   * Lines (or elements) valid but without an event: a PumpPortal `migrate`, a transaction without a
   * pump.fun event or transfer. With `rejected` and the lines that gave events, they make up `lines`.
   */
  empty: number;
  /** Lines rejected (malformed or invalid), each in the tx dead-letter stream with its reason. */
  rejected: number;
  /** The last line whose events were all appended (or rejected): a stopped replay resumes after it. */
  lastLineWritten: number;
  /** Event time of the last event appended (or, if none was, `ReplayRun.lastTs`); else `null`. */
  lastTs: number | null;
  /** True when the signal stopped the replay before the end of its source. */
  stopped: boolean;
  /** The line (or element) a resumed replay started after (`after`); 0 from the start. */
  resumedAfter: number;
}

export interface ReplayRun extends ReplayOptions {
  /** Stops the replay (between lines, or in any wait); what was appended stays. */
  signal?: AbortSignal;
  /**
   * Marks how far the replay got under this name (the source's identity, say its absolute path), with
   * the stream, after every batch: {@link TxStreamWriter.replayMark} reads it back.
   */
  mark?: string;
  /**
   * The event time of the last event of the lines up to `after` (an earlier replay's mark): the mark keeps
   * it until this run appends an event, so a run that has nothing left still knows its source's last time.
   */
  lastTs?: number | null;
}

/**
 * A writer that takes turns with writers of other processes (scanner/ingest-lease.ts): the counters it
 * shares with the turns before it, and whether its turn still holds.
 */
export interface WriterTurn {
  /** Counted into this object. @defaultValue fresh counters */
  readonly stats?: TxStreamWriterStats;
  /** Asked before each batch, resend and mark is sent; false: it is not, and the write ends (aborted or ERR_FENCED). */
  readonly mayWrite?: () => boolean;
}

/** Counts starting at zero. */
export function writerStats(): TxStreamWriterStats {
  return { sent: 0, duplicates: 0, rejected: 0, retries: 0 };
}

export class TxStreamWriter {
  readonly producer: Producer<unknown>;
  readonly stats: TxStreamWriterStats;
  readonly #recent = new RecentIds();
  readonly #backend: StreamBackend;
  readonly #topology: TxStreams;
  /**
   * The event ids of the stream's newest entries when this writer began, whatever their event times (the
   * recent ids keep a window of event time, which may hold fewer): what an earlier writer wrote last.
   */
  readonly #written = new Set<string>();
  #seeded: Promise<void> | null = null;
  readonly #mayWrite: (() => boolean) | null;

  constructor(
    backend: StreamBackend,
    topology: TxStreams,
    producer: Partial<ProducerOptions> = {},
    turn: WriterTurn = {},
  ) {
    this.stats = turn.stats ?? writerStats();
    this.#mayWrite = turn.mayWrite ?? null;
    this.#backend = backend;
    this.#topology = topology;
    // JSON: the analyzers parse it ~2× faster than msgpack (entry-codec.ts), and operators can read it;
    // marked as validated, so the analyzers do not validate it again (tx-entry.ts).
    this.producer = new Producer(backend, {
      stream: topology.tx,
      groups: topology.analyzers.map((a) => a.group),
      codec: ingestCodec,
      ...producer,
      idempotent: true,
      ...(turn.mayWrite && { mayWrite: turn.mayWrite }),
    });
    this.producer.on("retrying", () => {
      this.stats.retries++;
    });
  }

  /**
   * Validates and appends events in order; invalid ones are dead-lettered with their reason. An abort of
   * `signal` rejects with its reason; the events not yet appended then are not written.
   */
  async send(events: readonly unknown[], source = "ingest", signal?: AbortSignal): Promise<void> {
    const valid: ChainEvent[] = [];
    for (const candidate of events) {
      const validation = validateEvent(candidate);
      if (validation.ok) valid.push(validation.event);
      else
        await this.reject(
          source,
          `event-${this.stats.rejected}`,
          JSON.stringify(candidate) ?? "",
          validation.reason,
        );
    }
    await this.#append(valid, signal);
  }

  /** Appends a tick: event time has reached `ts`, so the analyzers flush what waits for it. */
  tick(ts: number, signal?: AbortSignal): Promise<void> {
    return this.#append([{ kind: "tick", ts }], signal);
  }

  /**
   * Replays a recording (jsonl.ts: canonical events, PumpPortal messages or Solana transactions) in order.
   * An abort of `signal` stops it promptly (`stopped`), keeping what was appended.
   */
  async replay(
    source: ReadableStream<Uint8Array>,
    name: string,
    options: ReplayRun = {},
  ): Promise<ReplaySummary> {
    const { signal, ...pacing } = options;
    const summary: ReplaySummary = {
      unit: "line",
      lines: 0,
      events: 0,
      duplicates: 0,
      empty: 0,
      rejected: 0,
      lastLineWritten: options.after ?? 0,
      lastTs: options.lastTs ?? null,
      stopped: false,
      resumedAfter: options.after ?? 0,
    };
    // Counted by #append once a batch is written whole: a stop while it is resent leaves part of it uncounted.
    const sentBefore = this.stats.sent;
    const duplicatesBefore = this.stats.duplicates;
    let batch: ChainEvent[] = [];
    let batchLine = 0;
    const mark = async () => {
      if (options.mark === undefined) return;
      const value: ReplayMark = { line: summary.lastLineWritten, ts: summary.lastTs };
      this.#checkTurn(signal);
      await this.#backend.writeMark(this.#topology.tx, markName(options.mark), JSON.stringify(value));
    };
    const flush = async () => {
      await this.#append(batch, signal);
      if (batch.length > 0) summary.lastTs = (batch.at(-1) as ChainEvent).ts;
      // Never back: a flush with no line (a run that had nothing left) marked line 0, and the next run
      // replayed the whole file; one after a rejected last line marked the line before it (a spec test).
      summary.lastLineWritten = Math.max(summary.lastLineWritten, batchLine);
      batch = [];
      await mark();
    };
    const replaySleep = (ms: number) => sleep(systemClock, ms, signal);
    try {
      const lines = replayJsonl(source, { ...pacing, ...(signal && { sleep: replaySleep }) });
      for (;;) {
        const next = await lines.next();
        if (next.done) {
          // Asked to go on after a line past the end: mark the end, not lines that were never written.
          if (next.value < summary.lastLineWritten) summary.lastLineWritten = next.value;
          break;
        }
        const line = next.value;
        signal?.throwIfAborted();
        summary.lines++;
        if (line.element) summary.unit = "element";
        if (!line.ok) {
          // Written at once, in line order, so everything before a rejected line must be written first.
          if (batch.length > 0) await flush();
          await this.reject(name, `line-${line.line}`, line.raw, line.reason);
          summary.rejected++;
          summary.lastLineWritten = line.line;
          await mark();
          continue;
        }
        if (line.events.length === 0) summary.empty++;
        batch.push(...line.events);
        batchLine = line.line;
        if (batch.length >= BATCH || pacing.pace === "recorded") await flush();
      }
      await flush();
    } catch (error) {
      if (!signal?.aborted) throw error;
      summary.stopped = true;
    }
    summary.events = this.stats.sent - sentBefore;
    summary.duplicates = this.stats.duplicates - duplicatesBefore;
    return summary;
  }

  /** How far an earlier replay marked `mark` got in this stream, or null when none is marked. */
  async replayMark(mark: string): Promise<ReplayMark | null> {
    return this.#readMark(markName(mark), `the replay mark of ${mark}`, "a line and a time", (value) => {
      const { line, ts } = value as { line?: unknown; ts?: unknown };
      return Number.isInteger(line) && (line as number) >= 0 && (ts === null || typeof ts === "number")
        ? { line: line as number, ts: ts as number | null }
        : null;
    });
  }

  /**
   * The mark `name` read back through `parse` (null for a value of another shape, refused as ERR_DECODE
   * naming `what` it is and `shape` it should have), or null when none is marked.
   */
  async #readMark<M>(
    name: string,
    what: string,
    shape: string,
    parse: (value: object) => M | null,
  ): Promise<M | null> {
    const raw = await this.#backend.readMark(this.#topology.tx, name);
    if (raw === null) return null;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {}
    const mark = typeof value === "object" && value !== null ? parse(value) : null;
    if (mark === null)
      throw new TroupeError("ERR_DECODE", `${what} in ${this.#topology.tx}:marks holds ${raw}, not ${shape}`);
    return mark;
  }

  /**
   * Streams the synthetic generator at `rate` events/s until `signal` aborts. The generator's set-up grows
   * with its duration (a 30-day workload blocked the event loop for ~40 s), so it runs as back-to-back
   * one-hour workloads, each seeded from `seed` and its index and starting where the last one ended. It is
   * a deterministic source: after each batch it marks how far it got in the stream (`generator:<seed>`),
   * so a generator started again on that stream goes on after the mark (`after`) instead of writing the
   * seed's first hour again under the same event ids, which a restarted `--role ingest` on Redis did.
   */
  async generate(options: GeneratorRun): Promise<void> {
    try {
      await this.#generate(options);
    } catch (error) {
      if (!options.signal.aborted) throw error;
    }
  }

  /** How far an earlier live generator of `seed` got in this stream, or null when none is marked. */
  async generatorMark(seed: number): Promise<GeneratorMark | null> {
    const name = generatorMarkName(seed);
    return this.#readMark(name, `the generator mark ${name}`, "an hour and a count", (value) => {
      const { hour, events } = value as { hour?: unknown; events?: unknown };
      const count = (n: unknown) => Number.isInteger(n) && (n as number) >= 0;
      return count(hour) && count(events) ? { hour: hour as number, events: events as number } : null;
    });
  }

  async #generate(options: GeneratorRun): Promise<void> {
    const tickMs = 50;
    const perTick = Math.max(1, Math.round((options.rate * tickMs) / 1000));
    const started = performance.now();
    const markAs = generatorMarkName(options.seed);
    let sent = 0;
    let skip = options.after?.events ?? 0;
    for (let hour = options.after?.hour ?? 0; !options.signal.aborted; hour++) {
      // Each hour starts where the one before ended: at the default start plus its index in hours.
      const workload = generate({
        seed: options.seed * 100_003 + hour,
        durationMs: HOUR_MS,
        t0: GENERATOR_DEFAULTS.t0 + hour * HOUR_MS,
      });
      const events = workload.events();
      let written = 0;
      for (; skip > 0 && !events.next().done; skip--) written++;
      skip = 0;
      for (let done = false; !done && !options.signal.aborted; ) {
        const batch: ChainEvent[] = [];
        while (batch.length < perTick) {
          const next = events.next();
          if (next.done) {
            done = true;
            break;
          }
          batch.push(next.value);
        }
        // Validated like any other input, though the generator's tests hold it to the schema: the analyzers
        // trust what Ingest writes (tx-entry.ts).
        await this.send(batch, "generator", options.signal);
        sent += batch.length;
        written += batch.length;
        const mark: GeneratorMark = { hour, events: written };
        this.#checkTurn(options.signal);
        await this.#backend.writeMark(this.#topology.tx, markAs, JSON.stringify(mark));
        const wait = started + (sent / options.rate) * 1000 - performance.now();
        if (wait > 0) await sleep(systemClock, wait, options.signal);
      }
    }
  }

  /** Writes a rejected input to the tx dead-letter stream with its reason (idempotent per source and line). */
  async reject(source: string, entryId: string, raw: string, reason: InvalidEventReason): Promise<void> {
    this.stats.rejected++;
    const write = deadLetterWrite(
      this.#topology.txDeadLetters,
      {
        source,
        group: "ingest",
        entryId,
        deliveries: 0,
        reason: "malformed",
        error: `${reason.code}${reason.field ? ` ${reason.field}` : ""}: ${reason.message}`,
        fields: { raw: Buffer.from(raw) },
        // `source` names the input (a file, the generator), not a stream: nothing could read it back.
        replayable: false,
      },
      Date.now(),
      DEAD_LETTER_TTL_MS,
    );
    await this.#backend.appendUnique(write.stream, write.dedupId, write.fields, write.ttlMs);
  }

  /**
   * Remembers the event ids of the stream's newest entries (an entry that is not Ingest's is skipped), so
   * that what an earlier writer wrote is not written again; retried until the stream answers.
   */
  async #seed(signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        // A writer that takes turns first refuses the previous one's late batches: one it had named but not
        // yet sent when it froze went out on its thaw, after this writer had read the stream (5,000 events
        // twice in a spec test). Its ids come from its clock before the freeze, below this writer's now.
        if (this.#mayWrite) await this.#backend.raiseLastId(this.#topology.tx, systemClock.now());
        const newest = await this.#backend.range(this.#topology.tx, { count: SEED_ENTRIES, reverse: true });
        for (let i = newest.length - 1; i >= 0; i--) {
          const event = eventOf(newest[i]!.fields);
          if (event) this.#written.add(event.id);
        }
        return;
      } catch (error) {
        if (signal?.aborted) throw error;
        await sleep(systemClock, backoffDelay(attempt, BACKOFF_DEFAULTS), signal);
      }
    }
  }

  /**
   * Asked right before a mark goes out (the producer asks before each batch and resend): after a freeze the
   * code that was waiting resumes at once, before any timer could end this writer's turn, and a thawed
   * writer's mark would take its successor's back.
   */
  #checkTurn(signal: AbortSignal | undefined): void {
    if (!this.#mayWrite || this.#mayWrite()) return;
    signal?.throwIfAborted();
    throw new TroupeError("ERR_FENCED", "this writer's turn is over: nothing more is written");
  }

  /** Appends to the tx stream, in order, each event once (the producer resends what failed). */
  async #append(payloads: readonly (ChainEvent | Tick)[], signal?: AbortSignal): Promise<void> {
    if (!this.#seeded)
      this.#seeded = this.#seed(signal).catch((error) => {
        this.#seeded = null;
        throw error;
      });
    await this.#seeded;
    const fresh = payloads.filter(
      (p) => p.kind === "tick" || (!this.#written.has(p.id) && this.#recent.admit(p.id, p.ts)),
    );
    this.stats.duplicates += payloads.length - fresh.length;
    if (fresh.length === 0) return;
    await this.producer.sendBatch(fresh, signal ? { signal } : {});
    // Ticks are not events: counted, the progress line read one event more than a replay's file holds.
    let events = fresh.length;
    for (const payload of fresh) if (payload.kind === "tick") events--;
    this.stats.sent += events;
  }
}

/** A replay's mark among the stream's marks. */
function markName(source: string): string {
  return `replay:${source}`;
}

/** A live generator's mark among the stream's marks: one per seed (the seed names the sequence). */
function generatorMarkName(seed: number): string {
  return `generator:${seed}`;
}

/** The id and time of the event an entry holds; null for a tick, or an entry that is not Ingest's. */
function eventOf(fields: EntryFields | null): { id: string; ts: number } | null {
  if (fields === null) return null;
  let payload: { kind?: unknown; id?: unknown; ts?: unknown } | null;
  try {
    payload = ingestCodec.decode(fields) as typeof payload;
  } catch {
    return null;
  }
  if (!payload || payload.kind === "tick" || typeof payload.id !== "string" || typeof payload.ts !== "number")
    return null;
  return { id: payload.id, ts: payload.ts };
}

/**
 * The transaction monitor's write side: validated events into the tx stream through the backpressured
 * producer (slows at 80%, pauses at 95% of the analyzers' lag / pending capacity). A bad line or event goes
 * to the tx dead-letter stream with its reason; an append Redis refuses is retried, never dropped.
 */
import { type ChainEvent, type InvalidEventReason, validateEvent } from "../detection/schema.ts";
import { ingestCodec } from "../detection/tx-entry.ts";
import type { StreamBackend } from "../streams/backend.ts";
import { deadLetterWrite } from "../streams/dead-letters.ts";
import { Producer, type ProducerOptions } from "../streams/producer.ts";
import { generate } from "./generator.ts";
import { type ReplayOptions, replayJsonl } from "./jsonl.ts";

const BATCH = 500;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;
const DEAD_LETTER_TTL_MS = 3_600_000;
const HOUR_MS = 3_600_000;

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
  sent: number;
  rejected: number;
  retries: number;
}

export class TxStreamWriter {
  readonly producer: Producer<unknown>;
  readonly stats: TxStreamWriterStats = { sent: 0, rejected: 0, retries: 0 };
  readonly #backend: StreamBackend;
  readonly #topology: TxStreams;

  constructor(backend: StreamBackend, topology: TxStreams, producer: Partial<ProducerOptions> = {}) {
    this.#backend = backend;
    this.#topology = topology;
    this.producer = new Producer(backend, {
      stream: topology.tx,
      groups: topology.analyzers.map((a) => a.group),
      // JSON: the analyzers parse it ~2× faster than msgpack (entry-codec.ts), and operators can read it;
      // marked as validated, so the analyzers do not validate it again (tx-entry.ts).
      codec: ingestCodec,
      ...producer,
    });
  }

  /** Validates and appends events in order; invalid ones are dead-lettered with their reason. */
  async send(events: readonly unknown[], source = "ingest"): Promise<void> {
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
    await this.#append(valid);
  }

  /** Appends a tick: event time has reached `ts`, so the analyzers flush what waits for it. */
  tick(ts: number): Promise<void> {
    return this.#append([{ kind: "tick", ts }]);
  }

  /** Replays a JSONL source (canonical or PumpPortal-shaped lines); returns the last event time seen. */
  async replay(
    source: ReadableStream<Uint8Array>,
    name: string,
    options: ReplayOptions = {},
  ): Promise<number | null> {
    let batch: ChainEvent[] = [];
    let lastTs: number | null = null;
    for await (const line of replayJsonl(source, options)) {
      if (!line.ok) {
        await this.reject(name, `line-${line.line}`, line.raw, line.reason);
        continue;
      }
      for (const event of line.events) {
        batch.push(event);
        lastTs = event.ts;
      }
      if (batch.length >= BATCH || options.pace === "recorded") {
        await this.#append(batch);
        batch = [];
      }
    }
    await this.#append(batch);
    return lastTs;
  }

  /**
   * Streams the synthetic generator at `rate` events/s until `signal` aborts. The generator's set-up grows
   * with its duration (a 30-day workload blocked the event loop for ~40 s), so it runs as back-to-back
   * one-hour workloads, each seeded from `seed` and its index and starting where the last one ended.
   */
  async generate(options: { seed: number; rate: number; signal: AbortSignal }): Promise<void> {
    const tickMs = 50;
    const perTick = Math.max(1, Math.round((options.rate * tickMs) / 1000));
    const started = performance.now();
    let sent = 0;
    let t0: number | undefined;
    for (let hour = 0; !options.signal.aborted; hour++) {
      const workload = generate({
        seed: options.seed * 100_003 + hour,
        durationMs: HOUR_MS,
        ...(t0 ? { t0 } : {}),
      });
      t0 = workload.end;
      const events = workload.events();
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
        await this.send(batch, "generator");
        sent += batch.length;
        const wait = started + (sent / options.rate) * 1000 - performance.now();
        if (wait > 0) await Bun.sleep(wait);
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
      },
      Date.now(),
      DEAD_LETTER_TTL_MS,
    );
    await this.#backend.appendUnique(write.stream, write.dedupId, write.fields, write.ttlMs);
  }

  /** Appends in order, retrying the entries Redis refused (out of memory, a dropped connection). */
  async #append(payloads: readonly unknown[]): Promise<void> {
    let pending = payloads;
    let delay = RETRY_MIN_MS;
    while (pending.length > 0) {
      const results = await this.producer.sendBatch(pending);
      // Resend only what was refused: the pipeline's other appends were written, and a second copy of a
      // trade would count twice in every window. (A refusal can therefore reorder a few entries.)
      const refused = pending.filter((_, index) => !results[index]?.ok);
      this.stats.sent += pending.length - refused.length;
      if (refused.length === 0) return;
      pending = refused;
      this.stats.retries++;
      await Bun.sleep(delay);
      delay = Math.min(RETRY_MAX_MS, delay * 2);
    }
  }
}

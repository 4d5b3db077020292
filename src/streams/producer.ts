/**
 * A producer with backpressure: pipelined XADD batches that watch the consumer groups' lag and pending
 * counts against configured capacities. At the high watermark (80%) each batch is delayed; at the
 * critical one (95%) sending pauses until the pressure falls below the high watermark again. Slowing
 * the source is the only way to keep a stream, and Redis memory, bounded when consumers fall behind.
 *
 * Plain XADD is not idempotent: a batch whose reply was lost (a stall past the command timeout, a
 * reconnect) and that is sent again may be written twice. `idempotent: true` names the entries' ids on
 * the producer's side, so a resend writes nothing twice (idempotent-append.ts), for one producer per stream.
 */
import { createNanoEvents, type Unsubscribe } from "nanoevents";
import { InvalidOptionError, optionNames, refuseUnknownOptions } from "../errors.ts";
import { BACKOFF_DEFAULTS, type BackoffOptions, resolveBackoff } from "../time/backoff.ts";
import { type Clock, checkClock, systemClock } from "../time/clock.ts";
import { sleep } from "../time/timers.ts";
import type { AppendResult, GroupInfo, StreamBackend } from "./backend.ts";
import { checkCodec, defaultCodec, type EntryCodec } from "./entry-codec.ts";
import { type AppendRetry, IdempotentAppender, refuseUnless } from "./idempotent-append.ts";

export type PressureLevel = "normal" | "high" | "critical";

export interface Pressure {
  readonly level: PressureLevel;
  /** Highest of lag / lagCapacity and pending / pendingCapacity over the watched groups. */
  readonly ratio: number;
  readonly lag: number;
  readonly pending: number;
}

export interface ProducerOptions {
  /** Stream to write. Required. */
  stream: string;
  /** Groups to watch; empty means every group of the stream. @defaultValue [] */
  groups?: readonly string[];
  /**
   * Groups of other streams that this stream's consumers feed (the keyed stream the wallet analyzer
   * forwards to): their lag and pending gate the producer as its own groups' do, so a slow stage
   * downstream slows the source rather than letting the stream between them grow. @defaultValue []
   */
  downstream?: ReadonlyArray<{ readonly stream: string; readonly group: string }>;
  /** Undelivered entries a group may have before the producer counts as at 100%. @defaultValue 100000 */
  lagCapacity?: number;
  /** Delivered-but-unacked entries a group may have at 100%. @defaultValue 10000 */
  pendingCapacity?: number;
  /** @defaultValue 0.8 */
  highWatermark?: number;
  /** @defaultValue 0.95 */
  criticalWatermark?: number;
  /** A pressure reading is reused for this long; 0 reads it before every batch. @defaultValue 100 */
  checkIntervalMs?: number;
  /** Delay before each batch while at the high watermark. @defaultValue 10 */
  slowDelayMs?: number;
  /** How often a paused producer re-reads the pressure. @defaultValue 100 */
  pauseCheckMs?: number;
  /** @defaultValue msgpackr in field `d` */
  codec?: EntryCodec;
  /** Time for the pressure readings' age and the delays (tests inject one). @defaultValue systemClock */
  clock?: Clock;
  /**
   * The producer names each entry's id (after the stream's last, on `clock`), and `sendBatch` resends what
   * failed under the same ids until all is written: nothing twice, in order but for an entry Redis refused
   * while it took later ones. For the one producer of a stream (idempotent-append.ts). @defaultValue false
   */
  idempotent?: boolean;
  /** Waits between an idempotent producer's resends. @defaultValue the backoff defaults, maxMs 2000 */
  retry?: BackoffOptions;
  /**
   * Asked right before each write goes to the backend (a batch, and each resend of an idempotent
   * producer's): false refuses it with `ERR_FENCED`, nothing resent. For a producer that writes only while
   * it holds a lease (scanner/ingest-lease.ts): after a freeze, a batch that waited for the consumers or a
   * resend's backoff would otherwise go out before any timer could end the lease's term. @defaultValue always
   */
  mayWrite?: () => boolean;
}

export const PRODUCER_DEFAULTS = {
  groups: [],
  downstream: [],
  lagCapacity: 100_000,
  pendingCapacity: 10_000,
  highWatermark: 0.8,
  criticalWatermark: 0.95,
  checkIntervalMs: 100,
  slowDelayMs: 10,
  pauseCheckMs: 100,
  codec: defaultCodec,
  clock: systemClock,
  idempotent: false,
  retry: { ...BACKOFF_DEFAULTS, maxMs: 2000 },
  mayWrite: () => true,
} satisfies Required<Omit<ProducerOptions, "stream">>;

export type ResolvedProducerOptions = Required<Omit<ProducerOptions, "retry">> & {
  retry: Required<BackoffOptions>;
};

const PRODUCER_OPTION_NAMES = optionNames<ProducerOptions>({
  stream: true,
  groups: true,
  downstream: true,
  lagCapacity: true,
  pendingCapacity: true,
  highWatermark: true,
  criticalWatermark: true,
  checkIntervalMs: true,
  slowDelayMs: true,
  pauseCheckMs: true,
  codec: true,
  clock: true,
  idempotent: true,
  retry: true,
  mayWrite: true,
});

export function resolveProducerOptions(options: ProducerOptions): ResolvedProducerOptions {
  refuseUnknownOptions(options, PRODUCER_OPTION_NAMES, "", "a producer option");
  if (typeof options.stream !== "string" || options.stream === "") {
    throw new InvalidOptionError("stream", "must be a non-empty string");
  }
  const o = {
    ...PRODUCER_DEFAULTS,
    ...options,
    retry: resolveBackoff("retry", { ...PRODUCER_DEFAULTS.retry, ...options.retry }),
  };
  for (const key of ["lagCapacity", "pendingCapacity", "pauseCheckMs"] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1)
      throw new InvalidOptionError(key, `must be an integer >= 1, got ${o[key]}`);
  }
  for (const key of ["checkIntervalMs", "slowDelayMs"] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 0)
      throw new InvalidOptionError(key, `must be an integer >= 0, got ${o[key]}`);
  }
  if (!Array.isArray(o.groups) || o.groups.some((g) => typeof g !== "string" || g === ""))
    throw new InvalidOptionError("groups", "must be an array of group names");
  if (!Array.isArray(o.downstream)) throw new InvalidOptionError("downstream", "must be an array");
  checkCodec("codec", o.codec);
  if (typeof o.mayWrite !== "function") throw new InvalidOptionError("mayWrite", "must be a function");
  for (const key of ["highWatermark", "criticalWatermark"] as const)
    if (typeof o[key] !== "number")
      throw new InvalidOptionError(key, `must be a number, got ${typeof o[key]}`);
  if (!(o.highWatermark > 0 && o.highWatermark < o.criticalWatermark && o.criticalWatermark <= 1)) {
    throw new InvalidOptionError("highWatermark", "must satisfy 0 < highWatermark < criticalWatermark <= 1");
  }
  o.downstream.forEach(({ stream, group }, i) => {
    if (typeof stream !== "string" || stream === "" || typeof group !== "string" || group === "")
      throw new InvalidOptionError(`downstream[${i}]`, "must name a non-empty stream and group");
  });
  checkClock("clock", o.clock);
  if (typeof o.idempotent !== "boolean") throw new InvalidOptionError("idempotent", "must be a boolean");
  return o;
}

export interface ProducerEvents {
  /** The pressure level changed (read before a batch, or while paused). */
  pressureChanged(event: Pressure & { previous: PressureLevel }): void;
  /** Sending stopped at the critical watermark. */
  paused(event: Pressure): void;
  /** Sending resumed once the pressure fell below the high watermark. */
  resumed(event: Pressure): void;
  /** An idempotent producer's entry failed and is sent again after `retryInMs` (0: at once). */
  retrying(event: AppendRetry): void;
}

export interface SendOptions {
  /** Gives up waiting for the consumers (a paused producer may wait for as long as they are down). */
  signal?: AbortSignal;
}

export class Producer<T = unknown> {
  readonly options: ResolvedProducerOptions;
  readonly #backend: StreamBackend;
  readonly #events = createNanoEvents<ProducerEvents>();
  #pressure: Pressure = { level: "normal", ratio: 0, lag: 0, pending: 0 };
  #checkedAt = Number.NEGATIVE_INFINITY;
  /** Shared by every batch waiting at the critical watermark: one poll, one paused/resumed pair. */
  #relief: Promise<void> | null = null;
  readonly #idempotent: IdempotentAppender | null;

  constructor(backend: StreamBackend, options: ProducerOptions) {
    this.#backend = backend;
    this.options = resolveProducerOptions(options);
    const { idempotent, stream, clock, retry, mayWrite } = this.options;
    this.#idempotent = idempotent
      ? new IdempotentAppender(backend, stream, clock, retry, {
          onRetry: (event) => this.#events.emit("retrying", event),
          mayWrite,
        })
      : null;
  }

  get pressure(): Pressure {
    return this.#pressure;
  }

  on<E extends keyof ProducerEvents>(event: E, listener: ProducerEvents[E]): Unsubscribe {
    return this.#events.on(event, listener);
  }

  async send(payload: T, options: SendOptions = {}): Promise<string> {
    const [result] = await this.sendBatch([payload], options);
    if (!result?.ok) throw result?.error;
    return result.id;
  }

  /**
   * Waits while the consumers are at the critical watermark, then writes the batch in one pipeline. An
   * abort while waiting rejects with the signal's reason and writes nothing. Idempotent, it resolves once
   * every entry is written (each result ok), and an abort while it resends rejects, leaving what was written.
   */
  async sendBatch(payloads: readonly T[], options: SendOptions = {}): Promise<AppendResult[]> {
    const { signal } = options;
    signal?.throwIfAborted();
    await (signal ? untilAborted(this.#gate(), signal) : this.#gate());
    signal?.throwIfAborted();
    const codec = this.options.codec;
    const batch = payloads.map((p) => codec.encode(p));
    if (!this.#idempotent) {
      refuseUnless(this.options.mayWrite);
      return this.#backend.appendBatch(this.options.stream, batch);
    }
    const ids = await this.#idempotent.append(batch, signal);
    return ids.map((id) => ({ ok: true, id }));
  }

  /** Reads the watched groups' lag and pending now and updates the level. */
  async checkPressure(): Promise<Pressure> {
    const { stream, groups, downstream, lagCapacity, pendingCapacity, highWatermark, criticalWatermark } =
      this.options;
    const [own, fed] = await Promise.all([
      this.#backend.groups(stream),
      Promise.all(downstream.map((d) => this.#backend.groupInfo(d.stream, d.group))),
    ]);
    const watched = own.filter((g) => groups.length === 0 || groups.includes(g.name));
    for (const g of fed) if (g !== null) watched.push(g);
    let pressure: Pressure = { level: "normal", ratio: 0, lag: 0, pending: 0 };
    for (const g of watched) {
      const lag = lagOf(g);
      const ratio = Math.max(lag / lagCapacity, g.pending / pendingCapacity);
      if (ratio >= pressure.ratio) pressure = { level: "normal", ratio, lag, pending: g.pending };
    }
    const level =
      pressure.ratio >= criticalWatermark ? "critical" : pressure.ratio >= highWatermark ? "high" : "normal";
    pressure = { ...pressure, level };
    const previous = this.#pressure.level;
    this.#pressure = pressure;
    this.#checkedAt = this.options.clock.now();
    if (level !== previous) this.#events.emit("pressureChanged", { ...pressure, previous });
    return pressure;
  }

  async #gate(): Promise<void> {
    const { clock, checkIntervalMs, slowDelayMs } = this.options;
    let pressure = this.#pressure;
    if (clock.now() - this.#checkedAt >= checkIntervalMs) pressure = await this.checkPressure();
    if (this.#relief || pressure.level === "critical") {
      this.#relief ??= this.#waitForRelief(pressure).finally(() => {
        this.#relief = null;
      });
      await this.#relief;
    } else if (pressure.level === "high" && slowDelayMs > 0) {
      await sleep(clock, slowDelayMs);
    }
  }

  async #waitForRelief(pressure: Pressure): Promise<void> {
    this.#events.emit("paused", pressure);
    let current = pressure;
    // Hysteresis: resume only below the high watermark, so the producer does not flap at 95%.
    while (current.ratio >= this.options.highWatermark) {
      await sleep(this.options.clock, this.options.pauseCheckMs);
      current = await this.checkPressure();
    }
    this.#events.emit("resumed", current);
  }
}

/**
 * `work`, or the signal's reason once it aborts. The shared wait for relief keeps polling for the other
 * callers; this one just stops waiting for it.
 */
function untilAborted<V>(work: Promise<V>, signal: AbortSignal): Promise<V> {
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/** Redis reports lag NULL after a delete in the unread range: count the whole stream then (an upper bound). */
function lagOf(group: GroupInfo): number {
  return group.lag ?? group.length;
}

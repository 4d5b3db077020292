/**
 * The engine shared by the three analyzers: books, flush schedule, pruning and the alert gate around
 * a list of detectors. Everything runs on event time (`ts`), so a replay yields the same alerts.
 *
 * Rolling-state design (shared/seeds/003): the books mark keys touched; every `deltaFlushMs` of event
 * time detectors with `onFlush` see only the touched keys, every `fullFlushMs` they see all keys and
 * idle keys are pruned (mints after `mintIdleMs`, wallets after `walletIdleMs`), so memory is bounded
 * by activity within those horizons, not by the length of the stream.
 *
 * Durable state (issue 13): all of it is in durable tables, so a restarted analyzer is the one that
 * crashed; see {@link Analyzer}.
 */
import { InvalidOptionError, MessageRejectedError } from "../errors.ts";
import { memoryTables, type Tables } from "../runtime/durable-table.ts";
import {
  type Alert,
  type AlertCandidate,
  AlertGate,
  type AnalyzerName,
  DETECTOR_NAMES,
  type DetectorName,
} from "./alert.ts";
import {
  type Detector,
  type DetectorContext,
  type DetectorModule,
  type DetectorsConfig,
  type Link,
  resolveDetectorOptions,
} from "./detector.ts";
import type { ChainEvent } from "./schema.ts";
import { MintBook } from "./state/mint-book.ts";
import { Scalars, scopedTables } from "./state/tables.ts";
import { ForwardedWallets, type TraderFacts, traderFactsOf } from "./state/trader-facts.ts";
import { WalletBook } from "./state/wallet-book.ts";

export interface AnalyzerOptions {
  /** Touched-delta flush period, event-time ms. @defaultValue 5_000 */
  deltaFlushMs?: number;
  /** Full flush + prune period, event-time ms. @defaultValue 60_000 */
  fullFlushMs?: number;
  /** A mint without trades for this long is forgotten. @defaultValue 7_200_000 (2 h) */
  mintIdleMs?: number;
  /** A wallet without events for this long is forgotten. @defaultValue 86_400_000 (24 h) */
  walletIdleMs?: number;
  /** Idle horizon for wallets a detector flagged. @defaultValue 604_800_000 (7 d) */
  flaggedWalletIdleMs?: number;
  /**
   * A pruned wallet's summary (age, first funder, event count) is kept this long after its last event,
   * so an aged wallet that paused is not mistaken for a new one. @defaultValue 2_592_000_000 (30 d)
   */
  walletSummaryIdleMs?: number;
  /** Wallet pruning sweeps less often than mints: the horizon is a day, not hours. @defaultValue 600_000 */
  walletPruneIntervalMs?: number;
  /** One alert per (detector, key) per window unless severity rises. @defaultValue 300_000 */
  alertWindowMs?: number;
  /** Positions tracked per mint before new holders go uncounted. @defaultValue 5_000 */
  maxPositionsPerMint?: number;
  /**
   * On the watermark clock, the most event time whose boundaries one entry runs one by one: a partition whose
   * watermark jumps further (its keys idle for a day while others traded, or an event from far in the
   * future) runs the first day's flushes, then one full flush at the last boundary. Exact as long as a day
   * idle leaves a key nothing to flush: a mint's state is pruned after `mintIdleMs`. @defaultValue 86_400_000
   */
  maxCatchUpMs?: number;
}

/** What kind of analyzer a subclass is: how its time moves, and which books its detectors read. */
export interface AnalyzerKind {
  /** @defaultValue "events" */
  clock?: AnalyzerClock;
  /**
   * Where its detectors' `ctx.wallets` comes from. `book`: a wallet book of its own, fed by every event.
   * `forwarded`: for a mint-keyed analyzer, whose partition sees only its mints' trades (a book there would
   * be partial): each trade's trader as the facts that travel with it say ({@link ForwardedWallets}); a
   * detector reading anything else fails, naming itself. @defaultValue "book"
   */
  wallets?: "book" | "forwarded";
}

export const ANALYZER_DEFAULTS = {
  deltaFlushMs: 5_000,
  fullFlushMs: 60_000,
  mintIdleMs: 2 * 3_600_000,
  walletIdleMs: 24 * 3_600_000,
  flaggedWalletIdleMs: 7 * 24 * 3_600_000,
  walletSummaryIdleMs: 30 * 24 * 3_600_000,
  walletPruneIntervalMs: 600_000,
  alertWindowMs: 300_000,
  maxPositionsPerMint: 5_000,
  maxCatchUpMs: 24 * 3_600_000,
} satisfies Required<AnalyzerOptions>;

export function resolveAnalyzerOptions(options: AnalyzerOptions = {}): Required<AnalyzerOptions> {
  const resolved = { ...ANALYZER_DEFAULTS, ...options };
  for (const [key, value] of Object.entries(resolved)) {
    if (!(key in ANALYZER_DEFAULTS)) throw new InvalidOptionError(key, "unknown option");
    if (!(Number.isFinite(value) && value > 0)) throw new InvalidOptionError(key, `must be a number > 0`);
  }
  if (resolved.walletSummaryIdleMs < resolved.walletIdleMs)
    throw new InvalidOptionError(
      "walletSummaryIdleMs",
      "must be >= walletIdleMs (a summary outlives its entry)",
    );
  return resolved;
}

/**
 * Every name in a `detectors` section is a detector, and every value an options object or `false`. A
 * detector of another analyzer may only be turned off (a layout leaves the mint detectors off everywhere
 * with one section): options for it would configure nothing.
 */
function checkDetectorsConfig(
  analyzer: AnalyzerName,
  registry: readonly DetectorModule[],
  detectors: Record<string, object | false | undefined>,
): void {
  for (const [name, value] of Object.entries(detectors)) {
    const option = `detectors.${name}`;
    if (!(DETECTOR_NAMES as readonly string[]).includes(name))
      throw new InvalidOptionError(option, `unknown detector (known: ${DETECTOR_NAMES.join(", ")})`);
    if (value === false || value === undefined) continue;
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new InvalidOptionError(
        option,
        `must be an object of options, or false to turn it off, got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`,
      );
    if (!registry.some((module) => module.name === name))
      throw new InvalidOptionError(
        option,
        `is not a detector of the ${analyzer} analyzer (its detectors: ${registry.map((m) => m.name).join(", ")})`,
      );
  }
}

/** Event time has reached `ts`: whatever flush waits for it is due (a tx entry of its own). */
export interface Tick {
  kind: "tick";
  /** Event time to flush up to. */
  ts: number;
}

/** One tx entry as an analyzer takes it: an event, or a tick. */
export type TxEntry = ChainEvent | Tick;

/**
 * What an event of a keyed stream (a partition of the tx stream by mint) carries besides the event, as the
 * wallet analyzer forwards it after handling it ({@link Analyzer.keyedFields}).
 */
export interface Keyed {
  /**
   * The watermark: the greatest event time of the whole stream up to this event (the forwarding analyzer's
   * clock). See {@link AnalyzerClock}.
   */
  wm: number;
  /** Event time of the stream's first event: what "observed since" means for age checks and warm-ups. */
  since?: number;
  /** A trade's trader, as the forwarding analyzer's wallet book has it right after the trade. */
  facts?: TraderFacts;
}

export type KeyedEvent = ChainEvent & Keyed;

/** One entry of a keyed stream: an event with its watermark, or a tick (sent to every partition). */
export type KeyedEntry = KeyedEvent | Tick;

/**
 * How an analyzer's event time moves and when its flushes run.
 *
 * - `events`: the greatest event time it has seen; a flush runs when an event crosses the next one, and
 *   the one after is scheduled from there. Exact for an analyzer that sees the whole tx stream.
 * - `watermark`: for one partition of a keyed analyzer, which sees only its keys' events. Time is the
 *   watermark each entry carries (Ingest's, over the whole stream), and flushes run at fixed boundaries
 *   (multiples of `deltaFlushMs` since the epoch), each at its boundary's time, every one passed in turn.
 *   An event is handled before the flush at boundary B exactly when its watermark is below B, whatever
 *   partition it went to, so each key meets the same flushes, at the same times, between the same events
 *   of its own, with 1 partition or with 16 (Flink's event-time timers fire on the watermark, not on a
 *   partition's own events).
 */
export type AnalyzerClock = "events" | "watermark";

/**
 * What an analyzer reads from other analyzers' alerts (the findings stream): per detector whose alerts it
 * takes, the edges of the wallet graph one such alert stands for. Alerts of any other detector are ignored.
 */
export type FindingEdges = Readonly<Partial<Record<DetectorName, (alert: Alert) => Link[]>>>;

export type AnalyzerConfig<R extends readonly DetectorModule[]> = AnalyzerOptions & {
  detectors?: DetectorsConfig<R>;
};

export interface StateSize {
  mints: number;
  positions: number;
  wallets: number;
  /** Pruned wallets remembered by their summary (age, first funder, event count) only. */
  walletSummaries: number;
  openAlertWindows: number;
  detectors: Record<string, number>;
}

/** Small and structured-clone safe: what the control API shows for an analyzer. */
export interface AnalyzerSnapshot {
  analyzer: AnalyzerName;
  events: number;
  observedSince: number | null;
  lastTs: number | null;
  deltaFlushes: number;
  fullFlushes: number;
  alertsByDetector: Record<string, number>;
  state: StateSize;
}

interface Slot {
  name: DetectorName;
  detector: Detector;
  ctx: { -readonly [K in keyof DetectorContext]: DetectorContext[K] };
}

/** The analyzer's own scalars, one durable value (table `analyzer`). */
interface Clock {
  observedSince: number | null;
  now: number | null;
  events: number;
  nextDelta: number;
  nextFull: number;
  nextWalletPrune: number;
  deltaFlushes: number;
  fullFlushes: number;
  alertCounts: Record<string, number>;
}

/**
 * Every piece of an analyzer's state lives in the `tables` it is given: the books, the alert gate, its
 * scalars and each detector's maps (under the detector's name). Given an actor's durable tables, restored
 * from the last checkpoint, the analyzer continues where the one that crashed stopped; by default the tables
 * are in memory only.
 */
export class Analyzer {
  readonly name: AnalyzerName;
  /** Detectors of other analyzers whose alerts `handleFinding` uses; empty when it reads no findings. */
  readonly findingDetectors: readonly DetectorName[];
  readonly #findings: FindingEdges;
  readonly #options: Required<AnalyzerOptions>;
  readonly #mints: MintBook;
  readonly #wallets: WalletBook | null;
  readonly #forwarded: ForwardedWallets | null;
  readonly #clockKind: AnalyzerClock;
  readonly #gate: AlertGate;
  readonly #slots: Slot[] = [];
  readonly #scalars: Scalars<Clock>;
  readonly #clock: Clock;
  #out: Alert[] = [];

  constructor(
    name: AnalyzerName,
    registry: readonly DetectorModule[],
    config: AnalyzerOptions & { detectors?: Record<string, object | false | undefined> } = {},
    findings: FindingEdges = {},
    tables: Tables = memoryTables(),
    kind: AnalyzerKind = {},
  ) {
    const { detectors = {}, ...options } = config;
    this.#clockKind = kind.clock ?? "events";
    this.name = name;
    this.#findings = findings;
    this.findingDetectors = Object.keys(findings) as DetectorName[];
    this.#options = resolveAnalyzerOptions(options);
    this.#mints = new MintBook(tables, this.#options.maxPositionsPerMint);
    const forwarded = kind.wallets === "forwarded";
    this.#wallets = forwarded ? null : new WalletBook(tables);
    this.#forwarded = forwarded ? new ForwardedWallets() : null;
    this.#gate = new AlertGate(tables, name, this.#options.alertWindowMs);
    this.#scalars = new Scalars<Clock>(tables, "analyzer", {
      observedSince: null,
      now: null,
      events: 0,
      nextDelta: 0,
      nextFull: 0,
      nextWalletPrune: 0,
      deltaFlushes: 0,
      fullFlushes: 0,
      alertCounts: {},
    });
    this.#clock = this.#scalars.value;
    checkDetectorsConfig(name, registry, detectors);
    for (const module of registry) {
      const overrides = detectors[module.name];
      if (overrides === false) continue;
      const detector = module.create(
        resolveDetectorOptions(module, overrides),
        scopedTables(tables, module.name),
      );
      const ctx = this.#context(module.name);
      ctx.observedSince = this.#clock.observedSince ?? 0;
      this.#slots.push({ name: module.name, detector, ctx });
    }
  }

  #context(name: DetectorName): Slot["ctx"] {
    return {
      mints: this.#mints,
      // A plain property either way: detectors read it on every event.
      wallets: this.#wallets ?? (this.#forwarded as ForwardedWallets).bookFor(this.name, name),
      observedSince: 0,
      emit: (candidate: AlertCandidate) => {
        const alert = this.#gate.admit(name, candidate);
        if (alert === undefined) return;
        const counts = this.#clock.alertCounts;
        counts[name] = (counts[name] ?? 0) + 1;
        this.#scalars.changed();
        this.#out.push(alert);
      },
      link: (link: Link) => this.#dispatchLink(link, name),
    };
  }

  /** Hands an edge to every detector with `onLink` except the one that reported it. */
  #dispatchLink(link: Link, from: DetectorName | undefined): void {
    for (const slot of this.#slots) {
      if (slot.name !== from && slot.detector.onLink !== undefined) slot.detector.onLink(link, slot.ctx);
    }
  }

  /**
   * Takes one alert of another analyzer as a finding and hands the edges it stands for (`FindingEdges`) to
   * the detectors with `onLink`. They are recorded at the finding's event time without moving the
   * analyzer's clock: findings lag the events, and the next event or `flush` runs whatever evaluation is
   * due. Returns the alerts that caused at once (usually none).
   */
  handleFinding(alert: Alert): Alert[] {
    const links = this.#findings[alert.detector]?.(alert);
    if (links === undefined || links.length === 0) return [];
    for (const link of links) this.#dispatchLink(link, undefined);
    return this.#take();
  }

  /**
   * Processes one validated event; returns the alerts it (and any flush it crossed) produced. A
   * `watermark` analyzer takes what the keyed stream's entry carries too ({@link Keyed}).
   */
  handle(event: ChainEvent, keyed?: Keyed): Alert[] {
    const clock = this.#clock;
    const time = this.#clockKind === "watermark" ? watermarkOf(event, keyed?.wm) : event.ts;
    if (clock.observedSince === null) {
      const since = keyed?.since ?? event.ts;
      clock.observedSince = since;
      for (const slot of this.#slots) slot.ctx.observedSince = since;
      this.#schedule(time);
    }
    clock.events++;
    this.#scalars.changed();
    this.#advance(time);
    this.#wallets?.observe(event);
    this.#forwarded?.set(event, keyed?.facts);
    this.#mints.observe(event);
    for (const slot of this.#slots) slot.detector.onEvent(event, slot.ctx);
    return this.#take();
  }

  /** One tx entry: an event (`handle`) or a tick (`flush`); a keyed stream's events carry {@link Keyed}. */
  handleEntry(entry: TxEntry | KeyedEntry): Alert[] {
    if (entry.kind === "tick") return this.flush(entry.ts);
    return this.handle(entry, entry as Partial<Keyed> as Keyed);
  }

  /**
   * What `event`, just handled here, carries on a keyed stream: this analyzer's clock as the watermark (it
   * sees the whole stream in order), its first event's time, and for a trade the trader's facts as its
   * wallet book has them now (after the book recorded the trade, as a detector reads them).
   */
  keyedFields(event: ChainEvent): Keyed {
    const { now, observedSince } = this.#clock;
    if (this.#wallets === null)
      throw new InvalidOptionError(
        "keyed",
        `the ${this.name} analyzer cannot forward: it keeps no wallet book`,
      );
    if (now === null || observedSince === null)
      throw new InvalidOptionError("keyed", `the ${this.name} analyzer forwards only events it has handled`);
    const facts = event.kind === "trade" ? traderFactsOf(this.#wallets, event.trader) : undefined;
    return facts ? { wm: now, since: observedSince, facts } : { wm: now, since: observedSince };
  }

  /** Runs whatever flush is due at `nowTs` (event time): for ticks, and for the end of a batch run. */
  flush(nowTs: number): Alert[] {
    if (this.#clock.now === null) return [];
    this.#advance(nowTs);
    return this.#take();
  }

  /** Event time has reached `time`: the flushes due run first. */
  #advance(time: number): void {
    const clock = this.#clock;
    if (clock.now === null || time > clock.now) {
      clock.now = time;
      this.#scalars.changed();
    }
    if (this.#clockKind === "events") {
      if (clock.now >= clock.nextDelta) this.#flush(clock.now);
      return;
    }
    const o = this.#options;
    for (let due = 1; clock.now >= clock.nextDelta; due++) {
      if (due > o.maxCatchUpMs / o.deltaFlushMs) {
        // The rest are flushes of keys idle for that long: go on from the last boundary, a full flush.
        clock.nextDelta = Math.floor(clock.now / o.deltaFlushMs) * o.deltaFlushMs;
        clock.nextFull = clock.nextDelta;
      }
      this.#flush(clock.nextDelta);
    }
  }

  #schedule(ts: number): void {
    const clock = this.#clock;
    const o = this.#options;
    clock.nextDelta = this.#next(ts, o.deltaFlushMs);
    clock.nextFull = this.#next(ts, o.fullFlushMs);
    clock.nextWalletPrune = this.#next(ts, o.walletPruneIntervalMs);
    this.#scalars.changed();
  }

  /** The time of the next flush of period `periodMs` after one at `ts`: aligned to the epoch on a watermark. */
  #next(ts: number, periodMs: number): number {
    return this.#clockKind === "events" ? ts + periodMs : (Math.floor(ts / periodMs) + 1) * periodMs;
  }

  #flush(now: number): void {
    const clock = this.#clock;
    const full = now >= clock.nextFull;
    const o = this.#options;
    const touchedMints = this.#mints.drainTouched();
    const touchedWallets = this.#wallets?.drainTouched() ?? [];
    const info = { nowTs: now, full, mints: touchedMints, wallets: touchedWallets };
    for (const slot of this.#slots) slot.detector.onFlush?.(slot.ctx, info);
    clock.nextDelta = this.#next(now, o.deltaFlushMs);
    this.#scalars.changed();
    if (full) {
      clock.fullFlushes++;
      clock.nextFull = this.#next(now, o.fullFlushMs);
      this.#mints.prune(now, o.mintIdleMs);
      if (this.#wallets && now >= clock.nextWalletPrune) {
        this.#wallets.prune(now, o.walletIdleMs, o.flaggedWalletIdleMs, o.walletSummaryIdleMs);
        clock.nextWalletPrune = this.#next(now, o.walletPruneIntervalMs);
      }
      for (const slot of this.#slots) slot.detector.prune(now);
      this.#gate.prune(now);
    } else {
      clock.deltaFlushes++;
    }
  }

  #take(): Alert[] {
    if (this.#out.length === 0) return [];
    const out = this.#out;
    this.#out = [];
    return out;
  }

  stateSize(): StateSize {
    const detectors: Record<string, number> = {};
    for (const slot of this.#slots) detectors[slot.name] = slot.detector.size();
    return {
      mints: this.#mints.size,
      positions: this.#mints.positionCount(),
      wallets: this.#wallets?.size ?? 0,
      walletSummaries: this.#wallets?.summaries ?? 0,
      openAlertWindows: this.#gate.size,
      detectors,
    };
  }

  snapshot(): AnalyzerSnapshot {
    const clock = this.#clock;
    return {
      analyzer: this.name,
      events: clock.events,
      observedSince: clock.observedSince,
      lastTs: clock.now,
      deltaFlushes: clock.deltaFlushes,
      fullFlushes: clock.fullFlushes,
      alertsByDetector: { ...clock.alertCounts },
      state: this.stateSize(),
    };
  }
}

/** A keyed event's watermark; an entry without one is refused (dead-lettered by the analyzer actor). */
function watermarkOf(event: ChainEvent, watermark: number | undefined): number {
  if (watermark === undefined || !Number.isSafeInteger(watermark))
    throw new MessageRejectedError(`wm: an event of a keyed stream needs its watermark (event ${event.id})`);
  return watermark;
}

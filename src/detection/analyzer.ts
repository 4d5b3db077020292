/**
 * The engine shared by the three analyzers: books, flush schedule, pruning and the alert gate around
 * a list of detectors. Everything runs on event time (`ts`), so a replay yields the same alerts.
 *
 * Rolling-state design (shared/seeds/003): the books mark keys touched; every `deltaFlushMs` of event
 * time detectors with `onFlush` see only the touched keys, every `fullFlushMs` they see all keys and
 * idle keys are pruned (mints after `mintIdleMs`, wallets after `walletIdleMs`), so memory is bounded
 * by activity within those horizons, not by the length of the stream.
 */
import { InvalidOptionError } from "../errors.ts";
import { type Alert, type AlertCandidate, AlertGate, type AnalyzerName, type DetectorName } from "./alert.ts";
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
  /** Wallet pruning sweeps less often than mints: the horizon is a day, not hours. @defaultValue 600_000 */
  walletPruneIntervalMs?: number;
  /** One alert per (detector, key) per window unless severity rises. @defaultValue 300_000 */
  alertWindowMs?: number;
  /** Positions tracked per mint before new holders go uncounted. @defaultValue 5_000 */
  maxPositionsPerMint?: number;
}

export const ANALYZER_DEFAULTS = {
  deltaFlushMs: 5_000,
  fullFlushMs: 60_000,
  mintIdleMs: 2 * 3_600_000,
  walletIdleMs: 24 * 3_600_000,
  flaggedWalletIdleMs: 7 * 24 * 3_600_000,
  walletPruneIntervalMs: 600_000,
  alertWindowMs: 300_000,
  maxPositionsPerMint: 5_000,
} satisfies Required<AnalyzerOptions>;

export function resolveAnalyzerOptions(options: AnalyzerOptions = {}): Required<AnalyzerOptions> {
  const resolved = { ...ANALYZER_DEFAULTS, ...options };
  for (const [key, value] of Object.entries(resolved)) {
    if (!(Number.isFinite(value) && value > 0)) throw new InvalidOptionError(key, `must be a number > 0`);
  }
  return resolved;
}

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

export class Analyzer {
  readonly name: AnalyzerName;
  /** Detectors of other analyzers whose alerts `handleFinding` uses; empty when it reads no findings. */
  readonly findingDetectors: readonly DetectorName[];
  readonly #findings: FindingEdges;
  readonly #options: Required<AnalyzerOptions>;
  readonly #mints: MintBook;
  readonly #wallets = new WalletBook();
  readonly #gate: AlertGate;
  readonly #slots: Slot[] = [];
  readonly #alertCounts: Record<string, number> = {};
  #out: Alert[] = [];
  #observedSince: number | null = null;
  #now: number | null = null;
  #events = 0;
  #nextDelta = 0;
  #nextFull = 0;
  #nextWalletPrune = 0;
  #deltaFlushes = 0;
  #fullFlushes = 0;

  constructor(
    name: AnalyzerName,
    registry: readonly DetectorModule[],
    config: AnalyzerOptions & { detectors?: Record<string, object | false | undefined> } = {},
    findings: FindingEdges = {},
  ) {
    const { detectors = {}, ...options } = config;
    this.name = name;
    this.#findings = findings;
    this.findingDetectors = Object.keys(findings) as DetectorName[];
    this.#options = resolveAnalyzerOptions(options);
    this.#mints = new MintBook(this.#options.maxPositionsPerMint);
    this.#gate = new AlertGate(name, this.#options.alertWindowMs);
    for (const module of registry) {
      const overrides = detectors[module.name];
      if (overrides === false) continue;
      const detector = module.create(resolveDetectorOptions(module, overrides));
      this.#slots.push({ name: module.name, detector, ctx: this.#context(module.name) });
    }
  }

  #context(name: DetectorName): Slot["ctx"] {
    return {
      mints: this.#mints,
      wallets: this.#wallets,
      observedSince: 0,
      emit: (candidate: AlertCandidate) => {
        const alert = this.#gate.admit(name, candidate);
        if (alert === undefined) return;
        this.#alertCounts[name] = (this.#alertCounts[name] ?? 0) + 1;
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

  /** Processes one validated event; returns the alerts it (and any flush it crossed) produced. */
  handle(event: ChainEvent): Alert[] {
    if (this.#observedSince === null) {
      this.#observedSince = event.ts;
      for (const slot of this.#slots) slot.ctx.observedSince = event.ts;
      this.#schedule(event.ts);
    }
    this.#events++;
    if (this.#now === null || event.ts > this.#now) this.#now = event.ts;
    if (this.#now >= this.#nextDelta) this.#flush(this.#now);
    this.#wallets.observe(event);
    this.#mints.observe(event);
    for (const slot of this.#slots) slot.detector.onEvent(event, slot.ctx);
    return this.#take();
  }

  /** Runs whatever flush is due at `nowTs` (event time); for an actor's idle timer. */
  flush(nowTs: number): Alert[] {
    if (this.#now === null) return [];
    if (nowTs > this.#now) this.#now = nowTs;
    if (this.#now >= this.#nextDelta) this.#flush(this.#now);
    return this.#take();
  }

  #schedule(ts: number): void {
    this.#nextDelta = ts + this.#options.deltaFlushMs;
    this.#nextFull = ts + this.#options.fullFlushMs;
    this.#nextWalletPrune = ts + this.#options.walletPruneIntervalMs;
  }

  #flush(now: number): void {
    const full = now >= this.#nextFull;
    const o = this.#options;
    const touchedMints = this.#mints.drainTouched();
    const touchedWallets = this.#wallets.drainTouched();
    const info = { nowTs: now, full, mints: touchedMints, wallets: touchedWallets };
    for (const slot of this.#slots) slot.detector.onFlush?.(slot.ctx, info);
    this.#nextDelta = now + o.deltaFlushMs;
    if (full) {
      this.#fullFlushes++;
      this.#nextFull = now + o.fullFlushMs;
      this.#mints.prune(now, o.mintIdleMs);
      if (now >= this.#nextWalletPrune) {
        this.#wallets.prune(now, o.walletIdleMs, o.flaggedWalletIdleMs);
        this.#nextWalletPrune = now + o.walletPruneIntervalMs;
      }
      for (const slot of this.#slots) slot.detector.prune(now);
      this.#gate.prune(now);
    } else {
      this.#deltaFlushes++;
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
      wallets: this.#wallets.size,
      openAlertWindows: this.#gate.size,
      detectors,
    };
  }

  snapshot(): AnalyzerSnapshot {
    return {
      analyzer: this.name,
      events: this.#events,
      observedSince: this.#observedSince,
      lastTs: this.#now,
      deltaFlushes: this.#deltaFlushes,
      fullFlushes: this.#fullFlushes,
      alertsByDetector: { ...this.#alertCounts },
      state: this.stateSize(),
    };
  }
}

/**
 * The detector contract. A detector is one module: its options with defaults in one place, its own
 * bounded state (in the durable tables it is given), and `onEvent`, which reports candidates through
 * `ctx.emit`. The analyzer owns the shared books (mints, wallets), the flush schedule and the alert gate,
 * so adding a detector means writing its module and listing it in its analyzer's registry, nothing else.
 *
 * @example
 * export const myDetector = defineDetector({
 *   name: "whale_dominance", analyzer: "wallet", defaults: { minSol: 3e9 },
 *   create: (options, tables) => new WhaleDominance(options, tables),
 * });
 */
import { InvalidOptionError } from "../errors.ts";
import type { Tables } from "../runtime/durable-table.ts";
import type { AlertCandidate, AnalyzerName, DetectorName } from "./alert.ts";
import type { ChainEvent } from "./schema.ts";
import type { MintBook } from "./state/mint-book.ts";
import type { WalletBook } from "./state/wallet-book.ts";

/**
 * An edge of the wallet graph: "these two wallets are controlled together", with the evidence it
 * came from. Sybil detectors report the edges they find (S1 hub → recipient, S2 co-entry pairs) and
 * the analyzer turns other analyzers' findings (P4 chains, W4 sweeps) into edges too; detectors with
 * `onLink` (S3) receive every one of them.
 */
export interface Link {
  a: string;
  b: string;
  source: DetectorName;
  /** Event time of the evidence. */
  ts: number;
  /** Strength of the edge where the source has one (S2: distinct mints shared). @defaultValue 1 */
  weight: number;
  /** A mint the evidence was seen on, for detectors that re-evaluate per mint. */
  mint: string | undefined;
}

export interface DetectorContext {
  readonly mints: MintBook;
  readonly wallets: WalletBook;
  /** Event time of the first event the analyzer saw: age checks mean little before a warm-up. */
  readonly observedSince: number;
  emit(candidate: AlertCandidate): void;
  /** Reports an edge to every other detector of the analyzer that has `onLink`. */
  link(link: Link): void;
}

export interface FlushInfo {
  nowTs: number;
  /** True on the periodic full flush: `mints` / `wallets` then hold every key, not only touched ones. */
  full: boolean;
  mints: readonly string[];
  wallets: readonly string[];
}

export interface Detector {
  /** Called after the analyzer's books have recorded the event. */
  onEvent(event: ChainEvent, ctx: DetectorContext): void;
  /** Optional periodic evaluation over touched keys (every 5 s) or all keys (every 60 s). */
  onFlush?(ctx: DetectorContext, flush: FlushInfo): void;
  /** Receives the edges other detectors (and other analyzers' findings) report. */
  onLink?(link: Link, ctx: DetectorContext): void;
  /** Drops state older than the detector's windows; called on every full flush. */
  prune(nowTs: number): void;
  /** Number of entries the detector holds, for the state-size report. */
  size(): number;
}

export interface DetectorModule<O extends object = object, N extends DetectorName = DetectorName> {
  readonly name: N;
  readonly analyzer: AnalyzerName;
  readonly defaults: Required<O>;
  /**
   * `tables`: where the detector keeps every piece of its state (already restored after a restart), under
   * names of its own. A value taken from a table and changed in place is `touch`ed; values never share
   * objects across keys or tables (each key is stored on its own): they refer to each other by key.
   */
  create(options: Required<O>, tables: Tables): Detector;
}

export function defineDetector<O extends object, N extends DetectorName>(
  module: DetectorModule<O, N>,
): DetectorModule<O, N> {
  return module;
}

type OptionsOf<M> = M extends DetectorModule<infer O, DetectorName> ? O : never;

/** Per-detector configuration for an analyzer: partial options, or `false` to disable the detector. */
export type DetectorsConfig<R extends readonly DetectorModule[]> = {
  [M in R[number] as M["name"]]?: Partial<OptionsOf<M>> | false;
};

/**
 * Merges overrides onto a module's defaults. Every option is a number or boolean, so a value of the
 * wrong type, or a negative / non-finite number, is rejected by name at start-up.
 */
export function resolveDetectorOptions<O extends object>(
  module: DetectorModule<O, DetectorName>,
  overrides: Partial<O> | undefined,
): Required<O> {
  const resolved = { ...module.defaults, ...overrides } as Record<string, unknown>;
  const defaults = module.defaults as Record<string, unknown>;
  for (const key of Object.keys(resolved)) {
    const option = `${module.name}.${key}`;
    if (!(key in defaults)) throw new InvalidOptionError(option, "unknown option");
    const value = resolved[key];
    if (typeof value !== typeof defaults[key]) {
      throw new InvalidOptionError(option, `must be a ${typeof defaults[key]}, got ${typeof value}`);
    }
    if (typeof value === "number" && !(Number.isFinite(value) && value >= 0)) {
      throw new InvalidOptionError(option, `must be a finite number >= 0, got ${value}`);
    }
  }
  return resolved as Required<O>;
}

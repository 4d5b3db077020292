/**
 * A scope's changelog as the in-process stores keep it: a base (the compacted state, in chunks) and the
 * segments committed since. When the segments outweigh the base (`compactRatio`, and at least
 * `compactMinBytes`), they are folded into a new base, so a restore reads at most about
 * (1 + compactRatio) × the state and never an unbounded log (Akka Persistence's snapshot every N events,
 * sized by bytes). The Redis store keeps the same shape in Redis and applies the same policy.
 */
import { InvalidOptionError } from "../errors.ts";
import { SegmentCompaction } from "./state-compaction.ts";
import { SegmentReplay } from "./state-replay.ts";

export interface CompactionOptions {
  /** Compact when the segments since the base reach this many times the base's bytes. @defaultValue 1 */
  compactRatio?: number;
  /** ... and at least this many bytes (small states are not rewritten at every checkpoint). @defaultValue 4 MiB */
  compactMinBytes?: number;
}

export const COMPACTION_DEFAULTS = {
  compactRatio: 1,
  compactMinBytes: 4 * 1024 * 1024,
} satisfies Required<CompactionOptions>;

export function resolveCompaction(options: CompactionOptions): Required<CompactionOptions> {
  const resolved = { ...COMPACTION_DEFAULTS, ...options };
  if (!(Number.isFinite(resolved.compactRatio) && resolved.compactRatio > 0))
    throw new InvalidOptionError("compactRatio", `must be a number > 0, got ${resolved.compactRatio}`);
  if (!(Number.isInteger(resolved.compactMinBytes) && resolved.compactMinBytes >= 0))
    throw new InvalidOptionError(
      "compactMinBytes",
      `must be an integer >= 0, got ${resolved.compactMinBytes}`,
    );
  return resolved;
}

/** Whether segments of `logBytes` on a base of `baseBytes` are due to be folded into a new base. */
export function compactionDue(
  baseBytes: number,
  logBytes: number,
  options: Required<CompactionOptions>,
): boolean {
  return logBytes >= Math.max(options.compactMinBytes, baseBytes * options.compactRatio);
}

export class SegmentLog {
  readonly #options: Required<CompactionOptions>;
  #base: Uint8Array[] = [];
  #baseBytes = 0;
  #log: Uint8Array[] = [];
  #logBytes = 0;
  #compactions = 0;

  constructor(options: Required<CompactionOptions>) {
    this.#options = options;
  }

  get compactions(): number {
    return this.#compactions;
  }

  /** Appends a checkpoint's segments (kept as given: the caller hands them over). */
  append(segments: readonly Uint8Array[]): void {
    for (const segment of segments) {
      this.#log.push(segment);
      this.#logBytes += segment.byteLength;
    }
    if (compactionDue(this.#baseBytes, this.#logBytes, this.#options)) this.compact();
  }

  /** Folds the base and every segment into a new base. */
  compact(): void {
    const compaction = new SegmentCompaction();
    for (const segment of this.#base) compaction.feed(segment);
    for (const segment of this.#log) compaction.feed(segment);
    this.#base = [...compaction.chunks()];
    this.#baseBytes = this.#base.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    this.#log = [];
    this.#logBytes = 0;
    this.#compactions++;
  }

  /** Everything a restore replays, in order (a snapshot: later appends are not in it). */
  segments(): Uint8Array[] {
    return [...this.#base, ...this.#log];
  }

  /** The live keys per table (a replay: for tests and inspection). */
  keys(): Record<string, number> {
    const replay = new SegmentReplay();
    for (const segment of this.segments()) replay.feed(segment);
    const out: Record<string, number> = {};
    for (const [table, values] of replay.tables) if (values.size > 0) out[table] = values.size;
    return out;
  }
}

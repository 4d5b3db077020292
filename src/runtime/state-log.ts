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

/** Work a compaction does between two turns of the event loop: about this many segment bytes. */
const SLICE_BYTES = 2 * 1024 * 1024;

export class SegmentLog {
  readonly #options: Required<CompactionOptions>;
  #base: Uint8Array[] = [];
  #baseBytes = 0;
  #log: Uint8Array[] = [];
  #logBytes = 0;
  #compacting: Promise<void> | null = null;

  constructor(options: Required<CompactionOptions>) {
    this.#options = options;
  }

  /** Appends a checkpoint's segments (kept as given: the caller hands them over). */
  append(segments: readonly Uint8Array[]): void {
    for (const segment of segments) {
      this.#log.push(segment);
      this.#logBytes += segment.byteLength;
    }
    if (!this.#compacting && compactionDue(this.#baseBytes, this.#logBytes, this.#options)) {
      this.#compacting = this.#compact().finally(() => {
        this.#compacting = null;
      });
    }
  }

  /** Resolves once no compaction is under way. */
  async idle(): Promise<void> {
    await this.#compacting;
  }

  /**
   * Folds the base and the segments there are now into a new base, in slices of ~2 MiB with a turn of the
   * event loop between them: folding a large state at once would stall the process's pumps (it runs on
   * the main thread). Segments appended meanwhile stay after the new base.
   */
  async #compact(): Promise<void> {
    const base = this.#base;
    const folded = this.#log.length;
    const segments = [...base, ...this.#log.slice(0, folded)];
    const compaction = new SegmentCompaction();
    let slice = 0;
    for (const segment of segments) {
      compaction.feed(segment);
      slice += segment.byteLength;
      if (slice >= SLICE_BYTES) {
        slice = 0;
        await nextTurn();
      }
    }
    const chunks: Uint8Array[] = [];
    for (const chunk of compaction.chunks()) {
      chunks.push(chunk);
      slice += chunk.byteLength;
      if (slice >= SLICE_BYTES) {
        slice = 0;
        await nextTurn();
      }
    }
    let foldedBytes = 0;
    for (let i = 0; i < folded; i++) foldedBytes += (this.#log[i] as Uint8Array).byteLength;
    this.#base = chunks;
    this.#baseBytes = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    this.#log = this.#log.slice(folded);
    this.#logBytes -= foldedBytes;
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

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A scope's changelog as the in-process stores keep it: a base (the compacted state, in chunks) and the
 * segments committed since. When the segments outweigh the base (`compactRatio`, and at least
 * `compactMinBytes`), they are folded into a new base, so a restore reads at most about
 * (1 + compactRatio) × the state and never an unbounded log (Akka Persistence's snapshot every N events,
 * sized by bytes). The Redis store keeps the same shape in Redis and applies the same policy.
 */
import { InvalidOptionError } from "../errors.ts";
import { compactionThread } from "./compaction-thread.ts";
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

/** Segment bytes a compaction copies to its thread between two turns of the event loop. */
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
    this.#compactIfDue();
  }

  /** Resolves once no compaction is under way. */
  async idle(): Promise<void> {
    while (this.#compacting) await this.#compacting;
  }

  /** Starts a compaction if the log is due for one; one that leaves it due (appends outran it) is followed by another. */
  #compactIfDue(): void {
    if (this.#compacting || !compactionDue(this.#baseBytes, this.#logBytes, this.#options)) return;
    this.#compacting = this.#compact().finally(() => {
      this.#compacting = null;
      this.#compactIfDue();
    });
  }

  /**
   * Folds the base and the segments there are now into a new base on the compaction thread; what it is
   * fed is copied from here in slices of ~2 MiB with a turn of the event loop between them, so the process's
   * pumps are never held up for long. Segments appended meanwhile stay after the new base. A compaction
   * that fails changes nothing (the log stays, a later append retries).
   */
  async #compact(): Promise<void> {
    const folded = this.#log.length;
    const segments = [...this.#base, ...this.#log.slice(0, folded)];
    const compaction = compactionThread.begin();
    const chunks: Uint8Array[] = [];
    try {
      let slice = 0;
      for (const segment of segments) {
        compaction.feed(segment);
        slice += segment.byteLength;
        if (slice >= SLICE_BYTES) {
          slice = 0;
          await nextTurn();
        }
      }
      for await (const chunk of compaction.chunks()) chunks.push(chunk);
    } catch {
      compaction.abort();
      return;
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

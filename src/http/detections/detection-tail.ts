/**
 * Follows a detections stream while anyone listens: reads what was written since the last look every
 * `pollMs`, hands each new detection to the listeners, and keeps the counts by detector and severity and a
 * bounded index from alert id to entry id. When it starts it reads the whole retained stream once, counting
 * and indexing quietly, so the counts cover history and only detections written afterwards go out as new
 * (not those written while nobody listened: a dashboard that connects lists them from `/alerts`).
 * Polling (not a consumer group) leaves the stream's groups alone and works for detections written by any
 * process; a failed read (Redis down) is retried at the next poll.
 */
import { compareIdStrings } from "../../streams/stream-id.ts";
import type { DetectionCounts, DetectionView } from "./source.ts";

/** What the tail reads through: entries after an id (exclusive), oldest first. */
export interface TailReader {
  /** The newest entry id, `null` for an empty stream. */
  newestId(): Promise<string | null>;
  /**
   * Up to `count` entries after `after` (`null`: from the start), decoded; `read` counts the entries and
   * `lastId` is the last one, decodable or not, so the tail moves past records it cannot show.
   */
  readAfter(
    after: string | null,
    count: number,
  ): Promise<{ views: DetectionView[]; read: number; lastId: string | null }>;
}

const BATCH = 1_000;

export class DetectionTail {
  readonly #reader: TailReader;
  readonly #pollMs: number;
  readonly #indexSize: number;
  readonly #listeners = new Set<(detection: DetectionView) => void>();
  readonly #index = new Map<string, string>();
  readonly #byDetector: Record<string, number> = {};
  readonly #bySeverity: Record<string, number> = {};
  #total = 0;
  #last: string | null = null;
  /** Bumped by every start and stop: a loop still awaiting a read when it was stopped then exits. */
  #generation = 0;
  #running = false;
  #wake: (() => void) | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(reader: TailReader, options: { pollMs: number; indexSize: number }) {
    this.#reader = reader;
    this.#pollMs = options.pollMs;
    this.#indexSize = options.indexSize;
  }

  subscribe(listener: (detection: DetectionView) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#running) {
      this.#running = true;
      void this.#follow(++this.#generation);
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /** The entry id of an alert id seen lately; `undefined` past the index's bound. */
  entryOf(alertId: string): string | undefined {
    return this.#index.get(alertId);
  }

  counts(): DetectionCounts {
    return { total: this.#total, byDetector: { ...this.#byDetector }, bySeverity: { ...this.#bySeverity } };
  }

  async #follow(generation: number): Promise<void> {
    const live = () => this.#generation === generation;
    // Entries up to the newest one at start are history: counted, never sent as new. `null` (the stream
    // was empty) is an answer: asked again, the first detections written would have been taken for history.
    let boundary: string | null | undefined;
    while (live()) {
      let more = false;
      try {
        if (boundary === undefined) boundary = await this.#reader.newestId();
        const { views, read, lastId } = await this.#reader.readAfter(this.#last, BATCH);
        if (!live()) return;
        for (const view of views) {
          this.#record(view);
          if (boundary === null || compareIdStrings(view.entryId, boundary) > 0) this.#emit(view);
        }
        if (lastId !== null) this.#last = lastId;
        more = read >= BATCH;
      } catch {
        // The backend did not answer: the next poll tries again from the same place.
      }
      if (!more && live()) await this.#pause();
    }
  }

  #record(view: DetectionView): void {
    this.#total++;
    this.#byDetector[view.detector] = (this.#byDetector[view.detector] ?? 0) + 1;
    this.#bySeverity[view.severity] = (this.#bySeverity[view.severity] ?? 0) + 1;
    this.#index.set(view.alertId, view.entryId);
    if (this.#index.size > this.#indexSize) {
      const oldest = this.#index.keys().next();
      if (!oldest.done) this.#index.delete(oldest.value);
    }
  }

  #emit(view: DetectionView): void {
    for (const listener of this.#listeners) {
      try {
        listener(view);
      } catch {
        // One listener's failure must not stop the others or the tail.
      }
    }
  }

  #pause(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, this.#pollMs);
      // Following detections must never be what keeps a finished program alive.
      this.#timer.unref?.();
    });
  }

  #stop(): void {
    this.#running = false;
    this.#generation++;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#wake?.();
    this.#wake = null;
  }
}

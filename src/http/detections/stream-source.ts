/**
 * The {@link DetectionsSource} over a stream of detections (the scanner's alerts stream), on any
 * `StreamBackend`. Listing reads the stream newest first (XREVRANGE) from the cursor down to `since`, a
 * bounded number of entries per request; lookups by alert id go through the tail's index, then a bounded
 * scan; live detections and counts come from the tail (detection-tail.ts).
 *
 * @example
 * ```ts
 * const detections = createDetectionsSource({ backend, stream: "troupe:alerts", detectors: ["dev_dump"] });
 * const api = createControlApi({ system, streams, detections });
 * ```
 */
import { z } from "zod";
import type { StreamBackend, StreamEntry } from "../../streams/backend.ts";
import { replayedFor } from "../../streams/dead-letters.ts";
import { defaultCodec, type EntryCodec } from "../../streams/entry-codec.ts";
import { isEntryId, parseStreamId } from "../../streams/stream-id.ts";
import { parseOptions } from "../validate.ts";
import { DetectionTail } from "./detection-tail.ts";
import type {
  DetectionCounts,
  DetectionFilter,
  DetectionPage,
  DetectionRecord,
  DetectionsSource,
  DetectionView,
} from "./source.ts";

export interface DetectionsSourceOptions {
  /** Required. */
  backend: StreamBackend;
  /** The stream the detectors write to. Required. */
  stream: string;
  /** Detector names: filters naming another are refused, the dashboard draws one series each. @defaultValue [] (any) */
  detectors?: readonly string[];
  /** Severity names, lowest first. @defaultValue [] (any) */
  severities?: readonly string[];
  /** How the entries are encoded. @defaultValue defaultCodec */
  codec?: EntryCodec;
  /** How often the stream is read for new detections while someone listens. @defaultValue 500 */
  pollMs?: number;
  /** Most entries one list or lookup reads (so a narrow filter never scans the whole stream at once). @defaultValue 10000 */
  scanLimit?: number;
  /** Alert ids remembered for lookups without a scan. @defaultValue 20000 */
  indexSize?: number;
}

export const DETECTIONS_SOURCE_DEFAULTS = {
  detectors: [],
  severities: [],
  codec: defaultCodec,
  pollMs: 500,
  scanLimit: 10_000,
  indexSize: 20_000,
} satisfies Required<Omit<DetectionsSourceOptions, "backend" | "stream">>;

const positive = (max: number) =>
  z
    .number()
    .int({ error: `must be an integer from 1 to ${max}` })
    .min(1, { error: `must be an integer from 1 to ${max}` })
    .max(max, { error: `must be an integer from 1 to ${max}` });
const names = z.array(z.string().min(1, { error: "must not be empty" }));

const SCHEMA = z
  .object({
    backend: z.custom<StreamBackend>((v) => typeof (v as StreamBackend | null)?.range === "function", {
      error: "must be a StreamBackend",
    }),
    stream: z.string().min(1, { error: "must not be empty" }),
    detectors: names,
    severities: names,
    codec: z.custom<EntryCodec>((v) => typeof (v as EntryCodec | null)?.decode === "function", {
      error: "must be an EntryCodec",
    }),
    pollMs: positive(60_000),
    scanLimit: positive(1_000_000),
    indexSize: positive(10_000_000),
  })
  .strict();

type Resolved = Required<DetectionsSourceOptions>;

export function createDetectionsSource(options: DetectionsSourceOptions): DetectionsSource {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return new StreamDetections(
    parseOptions(SCHEMA, { ...DETECTIONS_SOURCE_DEFAULTS, ...defined }) as Resolved,
  );
}

/** Entries per range call while listing. */
const BATCH = 500;

class StreamDetections implements DetectionsSource {
  readonly #o: Resolved;
  readonly #tail: DetectionTail;
  readonly detectors: readonly string[];
  readonly severities: readonly string[];

  constructor(options: Resolved) {
    this.#o = options;
    this.detectors = options.detectors;
    this.severities = options.severities;
    this.#tail = new DetectionTail(
      {
        newestId: async () =>
          (await options.backend.range(options.stream, { start: "+", end: "-", count: 1, reverse: true }))[0]
            ?.id ?? null,
        readAfter: async (after, count) => {
          const start = after === null ? "-" : `(${after}`;
          const entries = await options.backend.range(options.stream, { start, end: "+", count });
          return {
            views: entries.map((e) => this.#view(e)).filter((v) => v !== null),
            read: entries.length,
            lastId: entries.at(-1)?.id ?? null,
          };
        },
      },
      { pollMs: options.pollMs, indexSize: options.indexSize },
    );
  }

  async list(filter: DetectionFilter, page: { cursor?: string; count: number }): Promise<DetectionPage> {
    const alerts: DetectionView[] = [];
    let next: string | null = null;
    const scanned = await this.#scanNewestFirst(page.cursor, filter.since, (entry) => {
      next = entry.id;
      const view = this.#view(entry);
      if (view && matches(view, filter)) alerts.push(view);
      return alerts.length < page.count;
    });
    return { alerts, next: scanned.exhausted ? null : next, scanned: scanned.read };
  }

  async get(id: string): Promise<DetectionView | null> {
    const { backend, stream } = this.#o;
    const entryId = isEntryId(id) ? id : this.#tail.entryOf(id);
    if (entryId !== undefined) {
      const [entry] = await backend.range(stream, { start: entryId, end: entryId, count: 1 });
      const view = entry ? this.#view(entry) : null;
      if (view && (view.entryId === id || view.alertId === id)) return view;
      if (isEntryId(id)) return null;
    }
    let found: DetectionView | null = null;
    await this.#scanNewestFirst(undefined, undefined, (entry) => {
      const view = this.#view(entry);
      if (view?.alertId === id) found = view;
      return found === null;
    });
    return found;
  }

  subscribe(listener: (detection: DetectionView) => void): () => void {
    return this.#tail.subscribe(listener);
  }

  counts(): DetectionCounts {
    return this.#tail.counts();
  }

  /**
   * Reads newest first below `cursor` (exclusive) down to `since`, handing each entry to `visit` until it
   * returns false or `scanLimit` entries were read. `exhausted`: nothing older is left to read.
   */
  async #scanNewestFirst(
    cursor: string | undefined,
    since: number | undefined,
    visit: (entry: StreamEntry) => boolean,
  ): Promise<{ read: number; exhausted: boolean }> {
    const { backend, stream, scanLimit } = this.#o;
    const low = since === undefined ? "-" : `${since}-0`;
    let high = cursor === undefined ? "+" : `(${cursor}`;
    let read = 0;
    while (read < scanLimit) {
      const count = Math.min(BATCH, scanLimit - read);
      const entries = await backend.range(stream, { start: high, end: low, count, reverse: true });
      for (const entry of entries) {
        read++;
        if (!visit(entry)) return { read, exhausted: false };
      }
      if (entries.length < count) return { read, exhausted: true };
      high = `(${entries.at(-1)?.id}`;
    }
    return { read, exhausted: false };
  }

  /**
   * The entry as a detection; `null` for an entry that is not one (undecodable, or missing the fields) or
   * that repeats one for a single group (a dead letter's replay for a sink: dead-letters.ts).
   */
  #view(entry: StreamEntry): DetectionView | null {
    if (!entry.fields || replayedFor(entry.fields) !== undefined) return null;
    let record: unknown;
    try {
      record = this.#o.codec.decode(entry.fields);
    } catch {
      return null;
    }
    if (!isDetection(record)) return null;
    return { ...record, entryId: entry.id, writtenAt: parseStreamId(entry.id).ms };
  }
}

function isDetection(value: unknown): value is DetectionRecord {
  const r = value as Partial<DetectionRecord> | null;
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.alertId === "string" &&
    typeof r.detector === "string" &&
    typeof r.severity === "string"
  );
}

function matches(view: DetectionView, filter: DetectionFilter): boolean {
  if (filter.detectors && !filter.detectors.includes(view.detector)) return false;
  if (filter.severities && !filter.severities.includes(view.severity)) return false;
  if (filter.mint !== undefined && view.mint !== filter.mint) return false;
  if (filter.wallet !== undefined && !(view.wallets ?? []).includes(filter.wallet)) return false;
  return true;
}

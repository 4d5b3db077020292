/**
 * What the control API needs to show detections: the records an application's detectors write to a stream
 * (the scanner's alerts), listed newest first with filters, looked up one at a time with the evidence they
 * carry, followed live, and counted by detector. The HTTP code depends on this interface only;
 * `createDetectionsSource()` (stream-source.ts) implements it over a `StreamBackend` stream.
 */

/**
 * The fields the API reads from a detection; everything else the detector recorded (score, evidence, the
 * events that made it fire) is passed through as it is.
 */
export interface DetectionRecord {
  /** Stable id of the detection (the scanner's deterministic `alertId`). */
  readonly alertId: string;
  readonly detector: string;
  readonly severity: string;
  readonly mint?: string;
  readonly wallets?: readonly string[];
  readonly [field: string]: unknown;
}

/** A detection as the API shows it: the record, where it is in the stream, and when it was written. */
export type DetectionView = DetectionRecord & {
  /** The stream entry that holds it: the paging cursor. */
  readonly entryId: string;
  /** Write time, ms since the epoch (from the entry id). */
  readonly writtenAt: number;
};

export interface DetectionFilter {
  /** Any of these detectors. */
  readonly detectors?: readonly string[];
  /** Any of these severities. */
  readonly severities?: readonly string[];
  readonly mint?: string;
  /** Detections that name this wallet. */
  readonly wallet?: string;
  /** Written at or after this time (ms since the epoch). */
  readonly since?: number;
}

export interface DetectionPage {
  /** Newest first. */
  readonly alerts: DetectionView[];
  /**
   * Pass as `cursor` for the next (older) page; `null` once the stream is exhausted. A page may hold
   * fewer than `count` matches while `next` is set: at most `scanLimit` entries are read per request.
   */
  readonly next: string | null;
  /** Entries read for this page. */
  readonly scanned: number;
}

export interface DetectionCounts {
  /** Since the source started following the stream, the entries it held then included. */
  readonly total: number;
  readonly byDetector: Readonly<Record<string, number>>;
  readonly bySeverity: Readonly<Record<string, number>>;
}

export interface DetectionsSource {
  /** Detector names, for validating filters and drawing one series per detector (may be empty: any name). */
  readonly detectors: readonly string[];
  /** Severity names, lowest first (may be empty: any name). */
  readonly severities: readonly string[];
  /** Newest first, after `cursor` (an entry id, exclusive), matching `filter`. */
  list(filter: DetectionFilter, page: { cursor?: string | undefined; count: number }): Promise<DetectionPage>;
  /** By `alertId` or by entry id; `null` when the stream no longer holds it. */
  get(id: string): Promise<DetectionView | null>;
  /** Every detection written from now on, in stream order; returns the unsubscribe function. */
  subscribe(listener: (detection: DetectionView) => void): () => void;
  /** Counts of what the source has seen while someone was subscribed (the API always is). */
  counts(): DetectionCounts;
}

/**
 * The producer side of the findings stream: what the wallet and pattern analyzers write for the sybil
 * analyzer, whose result must not depend on when their findings reach it (issue 13). Two records:
 *
 * - a **finding**: one alert the sybil analyzer uses (P4 daisy_chain, W4 sweep_back), numbered by the
 *   producer (`seq`, 1, 2, ...) and stamped with its cause, the producer's tx position when it raised
 *   it (the count of tx entries it had handled, that entry included);
 * - a **progress** mark: "I have handled the tx stream up to `position`, and had raised `seq` findings
 *   by then". It is a watermark: with every finding up to `seq` in hand, the consumer knows the findings
 *   of every entry up to `position` (aligned-findings.ts).
 *
 * Every analyzer reads the same tx stream in the same order, so a tx position names the same entry in
 * each of them; the position and the numbering are in the analyzer's durable tables, so a producer that
 * crashed and handles entries again raises the same findings under the same numbers (the stream's
 * deduplication then writes each once). Marks need no such care, as a mark only says how far the producer
 * got: one is written at the end of every burst (the last entry the worker holds), after every tick, and
 * at least every `markEvery` entries.
 */
import type { Tables } from "../runtime/durable-table.ts";
import type { Alert, AnalyzerName, DetectorName } from "./alert.ts";
import { Scalars } from "./state/tables.ts";

export interface FindingRecord {
  kind: "finding";
  from: AnalyzerName;
  /** 1 for the producer's first finding, then one more for each. */
  seq: number;
  /** The producer's tx position when it raised this finding. */
  cause: number;
  alert: Alert;
}

export interface ProgressRecord {
  kind: "progress";
  from: AnalyzerName;
  /** Every tx entry up to here is handled... */
  position: number;
  /** ...and these are all the findings it raised. */
  seq: number;
}

export type FeedRecord = FindingRecord | ProgressRecord;

export interface FindingsFeedOptions {
  /** A progress mark at least every this many entries, however long the burst. @defaultValue 1_024 */
  markEvery?: number;
}

/**
 * A burst is what the worker received at once (a few hundred entries at 5,000 events/s), so a mark per
 * burst costs a few dozen small entries a second and the consumer waits for little more than the
 * producer's own lag; the count bounds that wait when the producer is behind and bursts are long.
 */
export const FINDINGS_FEED_DEFAULTS = { markEvery: 1_024 } satisfies Required<FindingsFeedOptions>;

interface Counters {
  position: number;
  seq: number;
}

export class FindingsFeed {
  readonly #from: AnalyzerName;
  readonly #detectors: ReadonlySet<DetectorName>;
  readonly #options: Required<FindingsFeedOptions>;
  readonly #scalars: Scalars<Counters>;
  readonly #counters: Counters;
  /** Where the last mark stood; worker-local, since marks need not be the same after a restart. */
  #markedPosition = 0;

  /** `detectors`: the alerts the consumer uses; `tables`: the producer's durable tables. */
  constructor(
    from: AnalyzerName,
    detectors: readonly DetectorName[],
    tables: Tables,
    options: FindingsFeedOptions = {},
  ) {
    this.#from = from;
    this.#detectors = new Set(detectors);
    this.#options = { ...FINDINGS_FEED_DEFAULTS, ...options };
    this.#scalars = new Scalars<Counters>(tables, "findings-feed", { position: 0, seq: 0 });
    this.#counters = this.#scalars.value;
    this.#markedPosition = this.#counters.position;
  }

  get position(): number {
    return this.#counters.position;
  }

  /**
   * After the producer handled one tx entry (an event, or a tick when `tick`) that raised `alerts`, with
   * `queued` entries still waiting in its worker: the records to write, findings first, then a mark when
   * one is due.
   */
  handled(alerts: readonly Alert[], tick: boolean, queued: number): FeedRecord[] {
    const counters = this.#counters;
    counters.position++;
    this.#scalars.changed();
    const records: FeedRecord[] = [];
    for (const alert of alerts) {
      if (!this.#detectors.has(alert.detector)) continue;
      counters.seq++;
      records.push({ kind: "finding", from: this.#from, seq: counters.seq, cause: counters.position, alert });
    }
    const o = this.#options;
    if (tick || queued === 0 || counters.position - this.#markedPosition >= o.markEvery) {
      this.#markedPosition = counters.position;
      records.push({ kind: "progress", from: this.#from, position: counters.position, seq: counters.seq });
    }
    return records;
  }
}

/**
 * A stable id for a record on the findings stream: its writes deduplicate on it. A finding's names its
 * alert too: a producer without durable state numbers its findings from 1 again after a restart, and its
 * new findings must not be taken for the old ones.
 */
export function feedRecordId(record: FeedRecord): string {
  return record.kind === "finding"
    ? `${record.from}:f:${record.seq}:${record.alert.alertId}`
    : `${record.from}:p:${record.position}:${record.seq}`;
}

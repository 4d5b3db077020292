/**
 * The consumer side of the findings stream (findings-feed.ts): an analyzer fed by two inputs, the tx
 * stream and other analyzers' findings, whose result does not depend on how the two interleave in time
 * (issue 13). It applies its tx entries in order and, right after entry `p`, the findings whose cause is
 * `p` (in the order of the producers given, then by number): the order the inline evaluation runs them in
 * (src/eval/run-inline.ts).
 * Entry `p` may only be applied once every producer's findings up to `p` are in hand, which a producer's
 * progress mark tells (a watermark, as Flink's; aligned like its multi-input barriers): until then the
 * entries wait, in memory, and in a durable table once a checkpoint comes (most wait a few milliseconds,
 * and a table write each would cost more than the wait), in the checkpoint with the findings received
 * and the marks, so a restarted analyzer waits for exactly what the crashed one waited for.
 *
 * Findings may arrive in any order (a write retried after a Redis error lands behind newer ones): a mark
 * counts only once every finding it counts has arrived, and a redelivered finding is recognised by its
 * number. Two things give up exactness for liveness, each counted: more than `maxHeld` entries waiting
 * (a producer stopped, or a finding it counts not come) applies the oldest at once (`unaligned`), and a
 * finding for an entry already applied (only after that) is applied when it arrives (`late`).
 */
import { Deque } from "../runtime/deque.ts";
import type { DurableTable, Tables } from "../runtime/durable-table.ts";
import type { Alert, AnalyzerName } from "./alert.ts";
import type { Analyzer, TxEntry } from "./analyzer.ts";
import type { FindingRecord, ProgressRecord } from "./findings-feed.ts";
import { Scalars } from "./state/tables.ts";

export interface AlignedFindingsOptions {
  /**
   * Entries that may wait for the producers' marks; past it the oldest is applied without them.
   * @defaultValue 200_000
   */
  maxHeld?: number;
}

/**
 * 200,000 entries: 40 s at 5,000 events/s, far beyond a producer's lag while it runs, and ~100 MB of
 * held events at most; a producer down for longer costs exactness (counted), not memory.
 */
export const ALIGNED_FINDINGS_DEFAULTS = { maxHeld: 200_000 } satisfies Required<AlignedFindingsOptions>;

interface ProducerState {
  /** Every finding numbered up to here has arrived. */
  seqs: number;
  /** Entries up to here may be applied, as far as this producer is concerned. */
  watermark: number;
  /** Marks that count findings not all arrived yet: [position, seq], oldest first. */
  waiting: [number, number][];
}

interface Alignment {
  /** Tx entries received. */
  received: number;
  /** Tx entries applied (handed to the analyzer); those in between are held. */
  applied: number;
  producers: Record<string, ProducerState>;
  /** Entries applied without every producer's mark (more than `maxHeld` waited). */
  unaligned: number;
  /** Findings that arrived after their entry was applied. */
  late: number;
}

export interface AlignmentStats {
  held: number;
  unaligned: number;
  late: number;
}

type Received = Pick<FindingRecord, "from" | "seq" | "alert">;

export class AlignedFindings {
  readonly #analyzer: Analyzer;
  /** A producer's place in the order findings of one entry apply in. */
  readonly #rank: ReadonlyMap<string, number>;
  readonly #maxHeld: number;
  readonly #scalars: Scalars<Alignment>;
  readonly #state: Alignment;
  /** Tx entries that were waiting when a checkpoint came, by position. */
  readonly #held: DurableTable<TxEntry>;
  /** Tx entries waiting since the last checkpoint, from position `#memoryFrom` on. */
  readonly #memory = new Deque<TxEntry>();
  #memoryFrom: number;
  /** Findings waiting for their cause to be applied, by cause. */
  readonly #found: DurableTable<Received[]>;
  /** Numbers of findings received ahead of an earlier one (`from:seq`). */
  readonly #ahead: DurableTable<true>;
  /** Numbers of findings given up on (`from:seq`): one that comes after all is applied late. */
  readonly #missing: DurableTable<true>;
  #out: Alert[] = [];

  /**
   * `producers`: the analyzers whose marks every entry waits for, in the order their findings of one entry
   * apply; none: findings apply as they arrive.
   */
  constructor(
    analyzer: Analyzer,
    producers: readonly AnalyzerName[],
    tables: Tables,
    options: AlignedFindingsOptions = {},
  ) {
    this.#analyzer = analyzer;
    this.#rank = new Map(producers.map((from, i) => [from, i]));
    this.#maxHeld = { ...ALIGNED_FINDINGS_DEFAULTS, ...options }.maxHeld;
    this.#scalars = new Scalars<Alignment>(tables, "aligned", {
      received: 0,
      applied: 0,
      producers: {},
      unaligned: 0,
      late: 0,
    });
    this.#state = this.#scalars.value;
    for (const from of producers) this.#state.producers[from] ??= { seqs: 0, watermark: 0, waiting: [] };
    this.#held = tables.table("aligned.held");
    this.#found = tables.table("aligned.found");
    this.#ahead = tables.table("aligned.ahead");
    this.#missing = tables.table("aligned.missing");
    this.#memoryFrom = this.#state.received + 1;
    tables.beforeCheckpoint(() => this.#persistWaiting());
  }

  /** One tx entry, in stream order. Returns the alerts of whatever it let through. */
  entry(entry: TxEntry): Alert[] {
    const state = this.#state;
    state.received++;
    this.#scalars.changed();
    if (state.applied === state.received - 1 && state.received <= this.#watermark()) {
      this.#memoryFrom = state.received + 1;
      this.#apply(entry);
    } else {
      this.#memory.push(entry);
      this.#drain();
    }
    return this.#take();
  }

  finding(record: FindingRecord): Alert[] {
    const producer = this.#state.producers[record.from];
    if (producer === undefined) return this.#analyzer.handleFinding(record.alert);
    const key = `${record.from}:${record.seq}`;
    if (record.seq <= producer.seqs) {
      // A redelivery, unless it is one given up on.
      if (!this.#missing.delete(key)) return [];
      this.#state.late++;
      this.#scalars.changed();
      return this.#analyzer.handleFinding(record.alert);
    }
    if (this.#ahead.has(key)) return [];
    const received: Received = { from: record.from, seq: record.seq, alert: record.alert };
    if (record.cause <= this.#state.applied) {
      this.#state.late++;
      this.#out.push(...this.#analyzer.handleFinding(record.alert));
    } else {
      const cause = String(record.cause);
      const list = this.#found.get(cause);
      if (list === undefined) this.#found.set(cause, [received]);
      else {
        list.push(received);
        this.#found.touch(cause);
      }
    }
    if (record.seq === producer.seqs + 1) {
      producer.seqs++;
      while (this.#ahead.delete(`${record.from}:${producer.seqs + 1}`)) producer.seqs++;
      this.#settleMarks(producer);
    } else this.#ahead.set(key, true);
    this.#scalars.changed();
    this.#drain();
    return this.#take();
  }

  progress(record: ProgressRecord): Alert[] {
    const producer = this.#state.producers[record.from];
    if (producer === undefined) return [];
    if (record.position > producer.watermark) {
      producer.waiting.push([record.position, record.seq]);
      producer.waiting.sort((a, b) => a[0] - b[0]);
      this.#settleMarks(producer);
      this.#scalars.changed();
      this.#drain();
    }
    return this.#take();
  }

  stats(): AlignmentStats {
    const state = this.#state;
    return { held: state.received - state.applied, unaligned: state.unaligned, late: state.late };
  }

  /** Marks whose findings have all arrived move the watermark; so does any older mark. */
  #settleMarks(producer: ProducerState): void {
    const waiting = producer.waiting;
    let settled = -1;
    for (let i = 0; i < waiting.length; i++) if (waiting[i]![1] <= producer.seqs) settled = i;
    if (settled < 0) return;
    producer.watermark = Math.max(producer.watermark, waiting[settled]![0]);
    waiting.splice(0, settled + 1);
  }

  /**
   * Too much waits: findings some mark counts that have not come no longer hold that mark back, so the
   * entries flow again once the producers' marks pass; one that comes after all is applied late.
   */
  #giveUpMissing(): void {
    for (const from in this.#state.producers) {
      const producer = this.#state.producers[from]!;
      const last = producer.waiting.at(-1);
      if (last === undefined || last[1] <= producer.seqs) continue;
      for (let seq = producer.seqs + 1; seq <= last[1]; seq++) {
        const key = `${from}:${seq}`;
        if (!this.#ahead.delete(key)) this.#missing.set(key, true);
      }
      producer.seqs = last[1];
      this.#settleMarks(producer);
    }
  }

  #watermark(): number {
    let low = Number.POSITIVE_INFINITY;
    for (const from in this.#state.producers) low = Math.min(low, this.#state.producers[from]!.watermark);
    return low;
  }

  #drain(): void {
    const state = this.#state;
    while (state.applied < state.received) {
      const next = state.applied + 1;
      if (next > this.#watermark()) {
        if (state.received - state.applied <= this.#maxHeld) break;
        state.unaligned++;
        this.#giveUpMissing();
      }
      let entry: TxEntry;
      if (next < this.#memoryFrom) {
        const key = String(next);
        entry = this.#held.get(key) as TxEntry;
        this.#held.delete(key);
      } else {
        entry = this.#memory.shift() as TxEntry;
        this.#memoryFrom = next + 1;
      }
      this.#apply(entry);
    }
  }

  /** A checkpoint completes: the entries waiting in memory go into the table, for it to hold them. */
  #persistWaiting(): void {
    const memory = this.#memory;
    for (let position = this.#memoryFrom; memory.length > 0; position++)
      this.#held.set(String(position), memory.shift() as TxEntry);
    this.#memoryFrom = this.#state.received + 1;
  }

  /** Entry `applied + 1`, then the findings it caused, in an order of their own. */
  #apply(entry: TxEntry): void {
    const state = this.#state;
    const analyzer = this.#analyzer;
    state.applied++;
    this.#scalars.changed();
    for (const alert of analyzer.handleEntry(entry)) this.#out.push(alert);
    const cause = String(state.applied);
    const found = this.#found.get(cause);
    if (found === undefined) return;
    this.#found.delete(cause);
    const rank = this.#rank;
    found.sort((a, b) => rank.get(a.from)! - rank.get(b.from)! || a.seq - b.seq);
    for (const finding of found)
      for (const alert of analyzer.handleFinding(finding.alert)) this.#out.push(alert);
  }

  #take(): Alert[] {
    if (this.#out.length === 0) return [];
    const out = this.#out;
    this.#out = [];
    return out;
  }
}

/**
 * The actor that runs one analyzer (wallet, pattern, sybil, or a partition of the mint analyzer) in its
 * worker. Each message is a tx entry (a chain event, or a tick: event time passed, flush) or a record of
 * the findings stream (another analyzer's finding, or its progress mark, read by the sybil actor's own
 * consumer group). A tx entry Ingest wrote
 * arrives as its raw JSON bytes: parsing here, in parallel in each worker, keeps that work off the main
 * thread, which every entry of every group crosses, and Ingest validated it already (tx-entry.ts). Any
 * other tx entry arrives decoded and is validated here: an invalid one, or bytes that are not JSON, is
 * rejected (dead-lettered at once, with the reason). The reply is the alerts as stream outputs,
 * deduplicated by their deterministic alertId across the whole alerts stream, so a redelivered or
 * re-derived alert is written once; a producer of findings adds its findings-stream records
 * (findings-feed.ts), and the sybil actor applies the findings in step with its tx entries
 * (aligned-findings.ts). The analyzer keeps all its state in the instance's durable tables, so a
 * restarted instance continues where the crashed one stopped.
 */
import { heapSize } from "bun:jsc";
import { MessageRejectedError } from "../errors.ts";
import { defineActor } from "../runtime/define-actor.ts";
import type { Tables } from "../runtime/durable-table.ts";
import type { Alert, AnalyzerName, DetectorName } from "./alert.ts";
import { AlignedFindings, type AlignmentStats } from "./aligned-findings.ts";
import type { Analyzer, AnalyzerSnapshot, Keyed, KeyedEntry, Tick, TxEntry } from "./analyzer.ts";
import { type FeedRecord, FindingsFeed, feedRecordId } from "./findings-feed.ts";
import { KeyedFeed, type KeyedOutput, type KeyedStreamRef } from "./keyed-feed.ts";
import { MintAnalyzer } from "./mint-analyzer.ts";
import { PatternAnalyzer } from "./pattern-analyzer.ts";
import { type ChainEvent, validateEvent } from "./schema.ts";
import { isTraderFacts } from "./state/trader-facts.ts";
import { SybilAnalyzer } from "./sybil-analyzer.ts";
import { decodeIngested } from "./tx-entry.ts";
import { WalletAnalyzer } from "./wallet-analyzer.ts";
import { WalletStage } from "./wallet-stage.ts";

/**
 * A tx entry Ingest wrote, still encoded (its JSON bytes); any other tx entry, decoded (and not yet
 * validated); or a record of the findings stream (not yet validated).
 */
export type AnalyzerMessage = Uint8Array | ChainEvent | Tick | FeedRecord;

export interface AnalyzerInit {
  analyzer: AnalyzerName;
  /** Stream the alerts are written to. */
  alerts: string;
  /** Thresholds and detector options, passed to the analyzer's constructor. */
  config?: Record<string, unknown>;
  /** A producer of findings: these detectors' alerts go to `stream` too, with progress marks. */
  feed?: { stream: string; detectors: DetectorName[] };
  /**
   * A consumer of findings (the sybil analyzer): the producers whose marks its tx entries wait for. Empty
   * when the state is not durable (a producer restarted from nothing would number its findings again):
   * findings then apply as they arrive.
   */
  aligned?: { producers: AnalyzerName[] };
  /**
   * The forwarder to the keyed stream (the wallet analyzer, with partitions): keyed-feed.ts. It then runs
   * as the wallet stage (wallet-stage.ts), `config` being its `walletStageConfig`.
   */
  keyed?: KeyedStreamRef;
}

export type AnalyzerOutput =
  | { stream: string; dedupId: string; scope: "global"; payload: Alert | FeedRecord }
  | KeyedOutput;

interface State {
  analyzer: Analyzer;
  alerts: string;
  feed: { stream: string; records: FindingsFeed } | null;
  aligned: AlignedFindings | null;
  keyed: KeyedFeed | null;
}

type Build = (config: Record<string, unknown> | undefined, tables: Tables) => Analyzer;

const ANALYZERS = {
  wallet: (config, tables) => new WalletAnalyzer(config, tables),
  pattern: (config, tables) => new PatternAnalyzer(config, tables),
  sybil: (config, tables) => new SybilAnalyzer(config, tables),
  mint: (config, tables) => new MintAnalyzer(config, tables),
} satisfies Record<AnalyzerName, Build>;

export default defineActor({
  /**
   * The analyzer's whole state is in the instance's durable tables: spawned with a state store, it is
   * restored from the last checkpoint before this runs, and the analyzer continues from there.
   */
  initialState: ({ init, tables }: { init: AnalyzerInit; tables: Tables }): State => {
    // The forwarder to the keyed stream is the keyed layout's wallet stage: it runs P4 and P6 too.
    const analyzer: Analyzer = init.keyed
      ? new WalletStage(init.config, tables)
      : ANALYZERS[init.analyzer](init.config, tables);
    return {
      analyzer,
      alerts: init.alerts,
      feed: init.feed
        ? { stream: init.feed.stream, records: new FindingsFeed(analyzer.name, init.feed.detectors, tables) }
        : null,
      aligned: init.aligned ? new AlignedFindings(analyzer, init.aligned.producers, tables) : null,
      keyed: init.keyed ? new KeyedFeed(init.keyed) : null,
    };
  },
  handle: (state, message: AnalyzerMessage, ctx): AnalyzerOutput[] | undefined => {
    if (message instanceof Uint8Array) return onTxEntry(state, parseIngested(message), ctx.queued);
    if ("kind" in message && (message.kind === "finding" || message.kind === "progress"))
      return alertOutputs(state, onFeedRecord(state, validateFeedRecord(message)));
    return onTxEntry(state, toEvent(message), ctx.queued);
  },
  queries: {
    stateSize: (state) => state.analyzer.stateSize(),
    /**
     * This worker's JS heap in bytes; after a full collection when `collect` is true (it pauses the actor
     * for as long as the collection takes, so it is for benches and diagnosis, not for a dashboard poll).
     */
    heapBytes: (_state, collect = false) => {
      if (collect) Bun.gc(true);
      return heapSize();
    },
  },
  snapshot: (state): AnalyzerSnapshot & { alignment?: AlignmentStats } =>
    state.aligned
      ? { ...state.analyzer.snapshot(), alignment: state.aligned.stats() }
      : state.analyzer.snapshot(),
});

function onTxEntry(state: State, entry: TxEntry | KeyedEntry, queued: number): AnalyzerOutput[] | undefined {
  const { analyzer, aligned, feed, keyed } = state;
  const alerts = aligned ? aligned.entry(entry) : analyzer.handleEntry(entry);
  let outputs = alertOutputs(state, alerts);
  if (keyed) {
    const forwarded = keyed.outputs(entry, analyzer);
    if (forwarded.length > 0) outputs = outputs ? [...outputs, ...forwarded] : forwarded;
  }
  if (feed === null) return outputs;
  const records = feed.records.handled(alerts, entry.kind === "tick", queued);
  if (records.length === 0) return outputs;
  const all = outputs ?? [];
  for (const record of records)
    all.push({ stream: feed.stream, dedupId: feedRecordId(record), scope: "global", payload: record });
  return all;
}

function onFeedRecord(state: State, record: FeedRecord): Alert[] {
  const { analyzer, aligned } = state;
  if (record.kind === "progress") return aligned ? aligned.progress(record) : [];
  return aligned ? aligned.finding(record) : analyzer.handleFinding(record.alert);
}

function alertOutputs(state: State, alerts: Alert[]): AnalyzerOutput[] | undefined {
  if (alerts.length === 0) return undefined;
  return alerts.map((alert) => ({
    stream: state.alerts,
    dedupId: alert.alertId,
    scope: "global",
    payload: alert,
  }));
}

const POSITION_FIELDS = { finding: ["seq", "cause"], progress: ["seq", "position"] } as const;

/** A findings-stream record as a producer writes it; anything else is rejected (dead-lettered). */
function validateFeedRecord(message: FeedRecord): FeedRecord {
  const record = message as Partial<FeedRecord> & Record<string, unknown>;
  const kind = record.kind as FeedRecord["kind"];
  if (typeof record.from !== "string")
    throw new MessageRejectedError(`${kind}: from must be an analyzer name`);
  for (const field of POSITION_FIELDS[kind]) {
    const value = record[field];
    if (!Number.isSafeInteger(value) || (value as number) < 0)
      throw new MessageRejectedError(`${kind}: ${field} must be an integer >= 0`);
  }
  if (kind === "finding") {
    const alert = record.alert as Partial<Alert> | undefined;
    if (typeof alert?.detector !== "string" || !Array.isArray(alert.wallets))
      throw new MessageRejectedError("finding: alert must be an alert with a detector and wallets");
  }
  return message;
}

function parseIngested(bytes: Uint8Array): TxEntry | KeyedEntry {
  try {
    return decodeIngested(bytes) as TxEntry | KeyedEntry;
  } catch (error) {
    throw new MessageRejectedError(`bad_json: ${(error as Error).message}`);
  }
}

/**
 * Validates a tx entry's payload; anything that is not a valid event or tick is rejected. An event of a
 * keyed stream keeps what it carries ({@link Keyed}: the analyzer checks the watermark).
 */
function toEvent(payload: unknown): TxEntry | KeyedEntry {
  const candidate = payload as ({ kind?: unknown; ts?: unknown } & Partial<Keyed>) | null;
  if (candidate?.kind === "tick") {
    if (!Number.isSafeInteger(candidate.ts))
      throw new MessageRejectedError("tick: ts must be a safe integer");
    return { kind: "tick", ts: candidate.ts as number };
  }
  const validation = validateEvent(payload);
  if (!validation.ok) {
    const { code, field, message } = validation.reason;
    throw new MessageRejectedError(`${code}${field ? ` ${field}` : ""}: ${message}`);
  }
  if (candidate?.wm === undefined) return validation.event;
  const { since, facts } = candidate;
  if (since !== undefined && !Number.isSafeInteger(since))
    throw new MessageRejectedError("since: must be a safe integer");
  if (facts !== undefined && !isTraderFacts(facts))
    throw new MessageRejectedError("facts: must be a trader's firstSeen, events and funders");
  return { ...validation.event, wm: candidate.wm, since, facts } as KeyedEntry;
}

/**
 * The actor that runs one analyzer (wallet, pattern or sybil) in its worker. Each message is a tx entry (a
 * chain event, or a tick: event time passed, flush) or a finding (another analyzer's alert, read from the
 * alerts stream by the sybil actor's own consumer group). A tx entry Ingest wrote arrives as its raw JSON
 * bytes: parsing here, in parallel in each worker, keeps that work off the main thread, which every entry of
 * every group crosses, and Ingest validated it already (tx-entry.ts). Any other tx entry arrives decoded and
 * is validated here: an invalid one, or bytes that are not JSON, is rejected (dead-lettered at once, with the
 * reason). The reply is the alerts as stream outputs, deduplicated by their deterministic alertId across the
 * whole alerts stream, so a redelivered or re-derived alert is written once. The analyzer keeps all its
 * state in the instance's durable tables, so a restarted instance continues where the crashed one stopped.
 */
import { heapSize } from "bun:jsc";
import { MessageRejectedError } from "../errors.ts";
import { defineActor } from "../runtime/define-actor.ts";
import type { Tables } from "../runtime/durable-table.ts";
import type { Alert, AnalyzerName } from "./alert.ts";
import type { Analyzer } from "./analyzer.ts";
import { PatternAnalyzer } from "./pattern-analyzer.ts";
import { type ChainEvent, validateEvent } from "./schema.ts";
import { SybilAnalyzer } from "./sybil-analyzer.ts";
import { decodeIngested } from "./tx-entry.ts";
import { WalletAnalyzer } from "./wallet-analyzer.ts";

export interface Tick {
  kind: "tick";
  /** Event time to flush up to. */
  ts: number;
}

export interface Finding {
  kind: "finding";
  alert: Alert;
}

/**
 * A tx entry Ingest wrote, still encoded (its JSON bytes); any other tx entry, decoded (and not yet
 * validated); or a finding.
 */
export type AnalyzerMessage = Uint8Array | ChainEvent | Tick | Finding;

export interface AnalyzerInit {
  analyzer: AnalyzerName;
  /** Stream the alerts are written to. */
  alerts: string;
  /** Thresholds and detector options, passed to the analyzer's constructor. */
  config?: Record<string, unknown>;
}

export interface AlertOutput {
  stream: string;
  dedupId: string;
  scope: "global";
  payload: Alert;
}

type Build = (config: Record<string, unknown> | undefined, tables: Tables) => Analyzer;

const ANALYZERS = {
  wallet: (config, tables) => new WalletAnalyzer(config, tables),
  pattern: (config, tables) => new PatternAnalyzer(config, tables),
  sybil: (config, tables) => new SybilAnalyzer(config, tables),
} satisfies Record<AnalyzerName, Build>;

export default defineActor({
  /**
   * The analyzer's whole state is in the instance's durable tables: spawned with a state store, it is
   * restored from the last checkpoint before this runs, and the analyzer continues from there.
   */
  initialState: ({ init, tables }: { init: AnalyzerInit; tables: Tables }) => ({
    analyzer: ANALYZERS[init.analyzer](init.config, tables) as Analyzer,
    alerts: init.alerts,
  }),
  handle: (state, message: AnalyzerMessage): AlertOutput[] | undefined => {
    const alerts = react(state.analyzer, message);
    if (alerts.length === 0) return undefined;
    return alerts.map((alert) => ({
      stream: state.alerts,
      dedupId: alert.alertId,
      scope: "global",
      payload: alert,
    }));
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
  snapshot: (state) => state.analyzer.snapshot(),
});

function react(analyzer: Analyzer, message: AnalyzerMessage): Alert[] {
  if (message instanceof Uint8Array) return onTxEntry(analyzer, parseIngested(message));
  if ("kind" in message && message.kind === "finding") return analyzer.handleFinding(message.alert);
  return onTxEntry(analyzer, toEvent(message));
}

function onTxEntry(analyzer: Analyzer, entry: ChainEvent | Tick): Alert[] {
  return entry.kind === "tick" ? analyzer.flush(entry.ts) : analyzer.handle(entry);
}

function parseIngested(bytes: Uint8Array): ChainEvent | Tick {
  try {
    return decodeIngested(bytes) as ChainEvent | Tick;
  } catch (error) {
    throw new MessageRejectedError(`bad_json: ${(error as Error).message}`);
  }
}

/** Validates a tx entry's payload; anything that is not a valid event or tick is rejected. */
function toEvent(payload: unknown): ChainEvent | Tick {
  const candidate = payload as { kind?: unknown; ts?: unknown } | null;
  if (candidate?.kind === "tick") {
    if (!Number.isSafeInteger(candidate.ts))
      throw new MessageRejectedError("tick: ts must be a safe integer");
    return { kind: "tick", ts: candidate.ts as number };
  }
  const validation = validateEvent(payload);
  if (validation.ok) return validation.event;
  const { code, field, message } = validation.reason;
  throw new MessageRejectedError(`${code}${field ? ` ${field}` : ""}: ${message}`);
}

/**
 * The scanner's streams, groups and actors, named in one place. Every name derives from the stream prefix
 * (TROUPE_STREAM_PREFIX), so several scanners can share one Redis without touching each other.
 */
import type { AnalyzerName } from "../detection/alert.ts";

export interface Topology {
  /** Trades, creates and transfers from the transaction monitor. */
  tx: string;
  /** Alerts from the three analyzers. */
  alerts: string;
  /**
   * What the sybil analyzer reads from the others: their findings (P4, W4 alerts) and progress marks
   * (src/detection/findings-feed.ts).
   */
  findings: string;
  /** Dead letters of the tx stream (malformed events, entries that kept failing). */
  txDeadLetters: string;
  /** Dead letters of the alerts stream (alerts a sink could not deliver). */
  alertDeadLetters: string;
  /** Dead letters of the findings stream (records the sybil analyzer rejected). */
  findingDeadLetters: string;
  /** One consumer group (and actor) per analyzer on the tx stream (no pattern analyzer when keyed). */
  analyzers: ReadonlyArray<{ analyzer: AnalyzerName; actor: string; group: string }>;
  /** The sybil analyzer's second group, on `findings`. */
  findingsGroup: string;
  /** The actor that reads `findingsGroup`: one of `analyzers`, the sybil analyzer's. */
  findingsActor: string;
  sinkGroups: { jsonl: string; webhook: string };
  /** Under which name the analyze processes share the analyzers by lease (their members, the leases' keys). */
  analyzerUnits: string;
  /**
   * The mint analyzer (mint-analyzer.ts): `stream` is the tx stream keyed by mint, in `TROUPE_PARTITIONS`
   * partitions, each read by `group` and analyzed by an actor of its own (`<actor>-p<i>`); the analyze
   * processes share the partitions by lease.
   */
  mints: { stream: string; group: string; actor: string };
}

/**
 * `keyed`: the layout with the mint analyzer's partitions (TROUPE_PARTITIONS set), where the wallet analyzer
 * is the wallet stage (detection/wallet-stage.ts) and no pattern analyzer runs, so it has no group.
 */
export function topology(prefix: string, { keyed = false }: { keyed?: boolean } = {}): Topology {
  const sybil = { analyzer: "sybil", actor: "sybil-detection", group: "sybil-detection" } as const;
  const pattern = {
    analyzer: "pattern",
    actor: "pattern-recognition",
    group: "pattern-recognition",
  } as const;
  return {
    tx: `${prefix}tx`,
    alerts: `${prefix}alerts`,
    txDeadLetters: `${prefix}tx:dlq`,
    alertDeadLetters: `${prefix}alerts:dlq`,
    findings: `${prefix}findings`,
    findingDeadLetters: `${prefix}findings:dlq`,
    analyzers: [
      { analyzer: "wallet", actor: "wallet-analyzer", group: "wallet-analyzer" },
      ...(keyed ? [] : [pattern]),
      sybil,
    ],
    findingsGroup: `${sybil.group}-findings`,
    findingsActor: sybil.actor,
    sinkGroups: { jsonl: "sink-jsonl", webhook: "sink-webhook" },
    analyzerUnits: `${prefix}analyzers`,
    mints: { stream: `${prefix}tx:mint`, group: "mint-analyzer", actor: "mint-analyzer" },
  };
}

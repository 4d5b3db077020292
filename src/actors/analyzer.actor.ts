/**
 * The actor that runs one analyzer (wallet, pattern or sybil) in its worker. Each message is a chain event,
 * a tick (event time passed: flush), or a finding (another analyzer's alert, read from the alerts stream by
 * the sybil actor's own consumer group). The reply is the alerts as stream outputs, deduplicated by their
 * deterministic alertId across the whole alerts stream, so a redelivered or re-derived alert is written once.
 */
import { defineActor } from "../runtime/define-actor.ts";
import type { Alert, AnalyzerName } from "./alert.ts";
import type { Analyzer } from "./analyzer.ts";
import { PatternAnalyzer } from "./pattern-analyzer.ts";
import type { ChainEvent } from "./schema.ts";
import { SybilAnalyzer } from "./sybil-analyzer.ts";
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

export type AnalyzerMessage = ChainEvent | Tick | Finding;

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

/** A sybil analyzer takes other analyzers' findings when it knows how (S3's edges from P4 and W4). */
interface TakesFindings {
  handleFinding?(alert: Alert): Alert[];
}

const ANALYZERS = {
  wallet: (config?: Record<string, unknown>) => new WalletAnalyzer(config),
  pattern: (config?: Record<string, unknown>) => new PatternAnalyzer(config),
  sybil: (config?: Record<string, unknown>) => new SybilAnalyzer(config),
} satisfies Record<AnalyzerName, (config?: Record<string, unknown>) => Analyzer>;

export default defineActor({
  initialState: ({ init }: { init: AnalyzerInit }) => ({
    analyzer: ANALYZERS[init.analyzer](init.config) as Analyzer & TakesFindings,
    alerts: init.alerts,
  }),
  handle: (state, message: AnalyzerMessage): AlertOutput[] | undefined => {
    const alerts =
      message.kind === "tick"
        ? state.analyzer.flush(message.ts)
        : message.kind === "finding"
          ? (state.analyzer.handleFinding?.(message.alert) ?? [])
          : state.analyzer.handle(message);
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
  },
  snapshot: (state) => state.analyzer.snapshot(),
});

/**
 * The detectors against DETECTORS.md: these tests were written from the specification alone (2026-12-06),
 * by an author who did not read the detectors' code, to catch what the code's own tests share its blind
 * spots on (they found S1 counting fundings for wallets, P6 round trips of nothing, repeated event ids).
 * Where the docs deliberately deviate (docs/detection.md), the tests follow the docs. Repeated event ids
 * are Ingest's to drop (test/ingest/duplicates.test.ts), not the analyzers'.
 *
 * Spec-driven harness: the three analyzers in one process as src/eval/run-inline.ts drives them
 * (findings of P4 / W4 fed to the sybil analyzer right after the event that raised them), then a flush.
 */
import type { Alert, DetectorName } from "../../../src/detection/alert.ts";
import { PatternAnalyzer } from "../../../src/detection/pattern-analyzer.ts";
import type { ChainEvent } from "../../../src/detection/schema.ts";
import { SYBIL_FINDING_DETECTORS, SybilAnalyzer } from "../../../src/detection/sybil-analyzer.ts";
import { WalletAnalyzer } from "../../../src/detection/wallet-analyzer.ts";

import { type Script, SUPPLY } from "../../fixtures/scenarios/kit.ts";

export { DAY, HOUR, MINUTE, Script, SECOND, SLOT_MS, SOL, SUPPLY, T0 } from "../../fixtures/scenarios/kit.ts";

/** The share of the supply the named wallets of `s` hold after its trades. */
export function held(s: Script, names: string[]): number {
  const ids = new Set(names.map((n) => s.id(n)));
  let tok = 0;
  for (const e of s.events)
    if (e.kind === "trade" && ids.has(e.trader)) tok += e.side === "buy" ? e.tok : -e.tok;
  return tok / SUPPLY;
}

export function sorted(events: readonly ChainEvent[]): ChainEvent[] {
  return events
    .map((event, i) => ({ event, i }))
    .sort((a, b) => a.event.ts - b.event.ts || a.i - b.i)
    .map(({ event }) => event);
}

export interface RunOpts {
  /** Keep the given order (no sort by ts). */
  raw?: boolean;
  /** Extra time after the last event at which to flush. @defaultValue 60 s */
  flushAfter?: number;
  wallet?: ConstructorParameters<typeof WalletAnalyzer>[0];
  pattern?: ConstructorParameters<typeof PatternAnalyzer>[0];
  sybil?: ConstructorParameters<typeof SybilAnalyzer>[0];
}

export function runAll(events: readonly ChainEvent[], o: RunOpts = {}): Alert[] {
  const list = o.raw ? [...events] : sorted(events);
  const wallet = new WalletAnalyzer(o.wallet);
  const pattern = new PatternAnalyzer(o.pattern);
  const sybil = new SybilAnalyzer(o.sybil);
  const findings = new Set(SYBIL_FINDING_DETECTORS);
  const alerts: Alert[] = [];
  let lastTs = 0;
  for (const event of list) {
    lastTs = Math.max(lastTs, event.ts);
    const before = alerts.length;
    for (const a of [wallet, pattern, sybil]) for (const alert of a.handle(event)) alerts.push(alert);
    for (let i = before, n = alerts.length; i < n; i++) {
      const alert = alerts[i]!;
      if (findings.has(alert.detector)) for (const more of sybil.handleFinding(alert)) alerts.push(more);
    }
  }
  const flushAt = lastTs + (o.flushAfter ?? 60_000);
  for (const a of [wallet, pattern, sybil]) for (const alert of a.flush(flushAt)) alerts.push(alert);
  return alerts;
}

export function of(alerts: readonly Alert[], detector: DetectorName): Alert[] {
  return alerts.filter((a) => a.detector === detector);
}

const RANK = { low: 0, med: 1, high: 2 } as const;
/** The highest-severity alert of a detector (or undefined). */
export function top(alerts: readonly Alert[], detector: DetectorName): Alert | undefined {
  let best: Alert | undefined;
  for (const a of of(alerts, detector)) if (!best || RANK[a.severity] > RANK[best.severity]) best = a;
  return best;
}

export function summary(alerts: readonly Alert[]): string[] {
  return alerts.map((a) => `${a.detector}:${a.severity}:${a.mint ?? a.key}:${a.wallets.join(",")}`);
}

import type { Alert } from "../../src/detection/alert.ts";
import type { TxEntry } from "../../src/detection/analyzer.ts";
import { PatternAnalyzer } from "../../src/detection/pattern-analyzer.ts";
import { SYBIL_FINDING_DETECTORS, SybilAnalyzer } from "../../src/detection/sybil-analyzer.ts";
import { WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";

/**
 * The three analyzers' alerts in the inline order, the reference for any delivery of the findings: every
 * analyzer handles entry p, then the sybil analyzer takes the findings p raised (as src/eval/run-inline.ts).
 */
export function inlineOrderAlerts(entries: Iterable<TxEntry>): Alert[] {
  const producers = [new WalletAnalyzer(), new PatternAnalyzer()];
  const sybil = new SybilAnalyzer();
  const findings = new Set(SYBIL_FINDING_DETECTORS);
  const out: Alert[] = [];
  for (const entry of entries) {
    const raised = producers.flatMap((producer) => producer.handleEntry(entry));
    for (const alert of raised) out.push(alert);
    for (const alert of sybil.handleEntry(entry)) out.push(alert);
    for (const alert of raised)
      if (findings.has(alert.detector)) for (const more of sybil.handleFinding(alert)) out.push(more);
  }
  return out;
}

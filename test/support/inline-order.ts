import type { Alert } from "../../src/detection/alert.ts";
import type { TxEntry } from "../../src/detection/analyzer.ts";
import { MintAnalyzer, mintKeyOf } from "../../src/detection/mint-analyzer.ts";
import { PatternAnalyzer } from "../../src/detection/pattern-analyzer.ts";
import { SYBIL_FINDING_DETECTORS, SybilAnalyzer } from "../../src/detection/sybil-analyzer.ts";
import { WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";

/**
 * The analyzers' alerts in the inline order, the reference for any delivery of the findings: every
 * analyzer handles entry p, then the sybil analyzer takes the findings p raised (as src/eval/run-inline.ts);
 * the mint analyzer (one partition) takes the entries with a mint, with the watermark.
 */
export function inlineOrderAlerts(entries: Iterable<TxEntry>): Alert[] {
  const producers = [new WalletAnalyzer(), new PatternAnalyzer()];
  const sybil = new SybilAnalyzer();
  const mint = new MintAnalyzer();
  const findings = new Set(SYBIL_FINDING_DETECTORS);
  const out: Alert[] = [];
  let watermark = Number.NEGATIVE_INFINITY;
  for (const entry of entries) {
    if (entry.kind === "tick") out.push(...mint.flush(entry.ts));
    else {
      watermark = Math.max(watermark, entry.ts);
      if (mintKeyOf(entry) !== undefined) out.push(...mint.handle(entry, watermark));
    }
    const raised = producers.flatMap((producer) => producer.handleEntry(entry));
    for (const alert of raised) out.push(alert);
    for (const alert of sybil.handleEntry(entry)) out.push(alert);
    for (const alert of raised)
      if (findings.has(alert.detector)) for (const more of sybil.handleFinding(alert)) out.push(more);
  }
  return out;
}

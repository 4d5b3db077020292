/**
 * sybil-detection: detectors about groups of wallets controlled by one operator (funding hubs, ...).
 * Same API as {@link WalletAnalyzer}: `handle`, `flush`, `stateSize`, `snapshot`.
 */
import { Analyzer, type AnalyzerConfig } from "./analyzer.ts";
import { fundingHub } from "./sybil/funding-hub.ts";

/** Adding a sybil detector: write its module, list it here. */
export const SYBIL_DETECTORS = [fundingHub] as const;

export type SybilAnalyzerConfig = AnalyzerConfig<typeof SYBIL_DETECTORS>;

export class SybilAnalyzer extends Analyzer {
  constructor(config: SybilAnalyzerConfig = {}) {
    super("sybil", SYBIL_DETECTORS, config);
  }
}

/**
 * pattern-recognition: detectors about what happens on one mint (launch bundles, dev dumps, ...).
 * Same API as {@link WalletAnalyzer}: `handle`, `flush`, `stateSize`, `snapshot`.
 */
import { memoryTables, type Tables } from "../runtime/durable-table.ts";
import { Analyzer, type AnalyzerConfig } from "./analyzer.ts";
import { coordinatedDump } from "./pattern/coordinated-dump.ts";
import { daisyChain } from "./pattern/daisy-chain.ts";
import { devDump } from "./pattern/dev-dump.ts";
import { flashRoundtrip } from "./pattern/flash-roundtrip.ts";
import { launchBundle } from "./pattern/launch-bundle.ts";
import { washTrading } from "./pattern/wash-trading.ts";

/** Adding a pattern detector: write its module, list it here. */
export const PATTERN_DETECTORS = [
  launchBundle,
  devDump,
  coordinatedDump,
  daisyChain,
  washTrading,
  flashRoundtrip,
] as const;

export type PatternAnalyzerConfig = AnalyzerConfig<typeof PATTERN_DETECTORS>;

export class PatternAnalyzer extends Analyzer {
  /** `tables`: where its state lives (an actor's durable tables); in memory only by default. */
  constructor(config: PatternAnalyzerConfig = {}, tables: Tables = memoryTables()) {
    super("pattern", PATTERN_DETECTORS, config, {}, tables);
  }
}

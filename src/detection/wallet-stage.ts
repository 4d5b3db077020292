/**
 * The wallet stage of the keyed layout (issue 14): with the mint-keyed detectors in the mint analyzer's
 * partitions, the pattern analyzer has two detectors left, P4 daisy_chain and P6 flash_roundtrip, whose
 * state is keyed by wallet and which read the wallet and mint books only for the event in hand. They run in
 * the wallet analyzer, which sees the whole stream in order, keeps those books and forwards each event to
 * its mint's partition; the pattern analyzer then has nothing to do and does not run. That saves a copy of
 * the books (updated by every event, and checkpointed), a read of every tx entry, and a producer of
 * findings: the sybil analyzer's tx entries wait on the wallet analyzer's progress marks alone.
 *
 * Their alerts are those the pattern analyzer gives (the same ids; `analyzer` names the one that raised
 * them, "wallet", as the mint analyzer's do). The wallet analyzer's options (book horizons, alert window)
 * apply to them; a `pattern` section's analyzer options have no detector left to apply to.
 *
 * @example
 * const wallet = new WalletStage(walletStageConfig({}, { detectors: { daisy_chain: { minHops: 4 } } }));
 */
import { memoryTables, type Tables } from "../runtime/durable-table.ts";
import { Analyzer, type AnalyzerConfig } from "./analyzer.ts";
import { withoutMintDetectors } from "./mint-analyzer.ts";
import { PATTERN_DETECTORS, type PatternAnalyzerConfig } from "./pattern-analyzer.ts";
import { WALLET_DETECTORS, type WalletAnalyzerConfig } from "./wallet-analyzer.ts";

/**
 * The wallet and pattern detectors, in that order: a tx entry's W4 findings then its P4 ones, the order the
 * sybil analyzer applies them in when two analyzers produce them. The mint-keyed ones are turned off by
 * {@link walletStageConfig}.
 */
export const WALLET_STAGE_DETECTORS = [...WALLET_DETECTORS, ...PATTERN_DETECTORS] as const;

export type WalletStageConfig = AnalyzerConfig<typeof WALLET_STAGE_DETECTORS>;

/**
 * The wallet stage's configuration: the wallet analyzer's, with the pattern analyzer's detector options
 * (P4, P6), and the mint-keyed detectors off.
 */
export function walletStageConfig(
  wallet: WalletAnalyzerConfig = {},
  pattern: PatternAnalyzerConfig = {},
): WalletStageConfig {
  return withoutMintDetectors({ ...wallet, detectors: { ...pattern.detectors, ...wallet.detectors } });
}

export class WalletStage extends Analyzer {
  /** `config`: see {@link walletStageConfig}; `tables`: where its state lives. */
  constructor(config: WalletStageConfig = walletStageConfig(), tables: Tables = memoryTables()) {
    super("wallet", WALLET_STAGE_DETECTORS, config, {}, tables);
  }
}

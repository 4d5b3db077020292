/**
 * wallet-analyzer: detectors about what single wallets do (DETECTORS.md section B). The actor
 * wrapper calls `handle(event)` per validated event, `flush(nowTs)` for a tick, and writes
 * the returned alerts before acking.
 *
 * @example
 * const analyzer = new WalletAnalyzer({ detectors: { fresh_sniper: { medSupplyFraction: 0.12 } } });
 * for (const event of events) for (const alert of analyzer.handle(event)) sink(alert);
 */
import { memoryTables, type Tables } from "../runtime/durable-table.ts";
import { Analyzer, type AnalyzerConfig } from "./analyzer.ts";
import { creatorReputation } from "./wallet/creator-reputation.ts";
import { freshSniper } from "./wallet/fresh-sniper.ts";
import { liquidityInjection } from "./wallet/liquidity-injection.ts";
import { sweepBack } from "./wallet/sweep-back.ts";
import { whaleDominance } from "./wallet/whale-dominance.ts";

/** Adding a wallet detector: write its module, list it here. */
export const WALLET_DETECTORS = [
  liquidityInjection,
  freshSniper,
  whaleDominance,
  sweepBack,
  creatorReputation,
] as const;

export type WalletAnalyzerConfig = AnalyzerConfig<typeof WALLET_DETECTORS>;

export class WalletAnalyzer extends Analyzer {
  /** `tables`: where its state lives (an actor's durable tables); in memory only by default. */
  constructor(config: WalletAnalyzerConfig = {}, tables: Tables = memoryTables()) {
    super("wallet", WALLET_DETECTORS, config, {}, tables);
  }
}

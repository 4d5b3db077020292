/**
 * mint-analyzer: the detectors whose state is keyed by a mint (DETECTORS.md W2 fresh_sniper, W3
 * whale_dominance, P1 launch_bundle, P2 dev_dump, P3 coordinated_dump, P5 wash_trading), run as P
 * partitions of the tx stream keyed by mint, each partition an instance of its own, spread over the analyze
 * processes (issue 14). The wallet analyzer forwards each event with a mint to its partition once it has
 * handled it, with its clock as the watermark and, for a trade, the trader's facts from its wallet book
 * (age, event count, recent funders, first funder and its fan-out: all W2, P1, P2 and P3 read of a
 * wallet). A partition keeps only the mint book and runs on the watermark clock, so its alerts are the
 * same with 1 partition or 16 ({@link AnalyzerClock}), and the same as those detectors give in the wallet
 * and pattern analyzers, which leave them off when the mint analyzer runs ({@link withoutMintDetectors}).
 *
 * @example
 * const wallet = new WalletAnalyzer(withoutMintDetectors());
 * const mint = new MintAnalyzer();
 * for (const event of events) {
 *   for (const alert of wallet.handle(event)) sink(alert);
 *   if (mintKeyOf(event) === undefined) continue;
 *   for (const alert of mint.handle(event, wallet.keyedFields(event))) sink(alert);
 * }
 */
import { memoryTables, type Tables } from "../runtime/durable-table.ts";
import type { AnalyzerName } from "./alert.ts";
import { Analyzer, type AnalyzerConfig } from "./analyzer.ts";
import { coordinatedDump } from "./pattern/coordinated-dump.ts";
import { devDump } from "./pattern/dev-dump.ts";
import { launchBundle } from "./pattern/launch-bundle.ts";
import { washTrading } from "./pattern/wash-trading.ts";
import type { ChainEvent } from "./schema.ts";
import { freshSniper } from "./wallet/fresh-sniper.ts";
import { whaleDominance } from "./wallet/whale-dominance.ts";

/**
 * Adding a mint-keyed detector: its state keyed by mint only, reading the mint book and, of the wallet book,
 * only its trade's trader's forwarded facts (`TraderFacts`); list it here.
 */
export const MINT_DETECTORS = [
  freshSniper,
  whaleDominance,
  launchBundle,
  devDump,
  coordinatedDump,
  washTrading,
] as const;

/** The analyzer that forwards its events to the mint analyzer's partitions (keyed-feed.ts). */
export const MINT_FORWARDER: AnalyzerName = "wallet";

export type MintAnalyzerConfig = AnalyzerConfig<typeof MINT_DETECTORS>;

export class MintAnalyzer extends Analyzer {
  /** `tables`: where its state lives (an actor's durable tables); in memory only by default. */
  constructor(config: MintAnalyzerConfig = {}, tables: Tables = memoryTables()) {
    super("mint", MINT_DETECTORS, config, {}, tables, { clock: "watermark", wallets: "forwarded" });
  }
}

/**
 * A whole-stream analyzer's configuration with the mint-keyed detectors off: they run in the mint analyzer.
 */
export function withoutMintDetectors<C extends { detectors?: Record<string, unknown> }>(
  config: C = {} as C,
): C {
  const detectors: Record<string, unknown> = { ...config.detectors };
  for (const module of MINT_DETECTORS) detectors[module.name] = false;
  return { ...config, detectors };
}

/**
 * The mint an event is keyed by, or undefined for an event no mint-keyed detector reads (a SOL
 * transfer): a trade's and a create's mint, a token transfer's asset (it moves a mint's holdings).
 */
export function mintKeyOf(event: ChainEvent): string | undefined {
  if (event.kind === "transfer") return event.asset === "SOL" ? undefined : event.asset;
  return event.mint;
}

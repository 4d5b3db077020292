/**
 * mint-analyzer: the detectors whose whole state is keyed by a mint (DETECTORS.md W3 and P5), run as P
 * partitions of the tx stream keyed by mint, each partition an instance of its own, spread over the analyze
 * processes (issue 14). It keeps only the mint book (a partition sees only its mints' events: a wallet book
 * there would be partial) and runs on the watermark clock, so its alerts are the same with 1 partition or
 * 16 ({@link AnalyzerClock}), and the same as those detectors give in the wallet and pattern analyzers,
 * which leave them off when the mint analyzer runs ({@link withoutMintDetectors}).
 *
 * @example
 * const analyzer = new MintAnalyzer();
 * let wm = 0;
 * for (const event of events) {
 *   wm = Math.max(wm, event.ts);
 *   for (const alert of analyzer.handle(event, wm)) sink(alert);
 * }
 */
import { memoryTables, type Tables } from "../runtime/durable-table.ts";
import { Analyzer, type AnalyzerConfig } from "./analyzer.ts";
import { washTrading } from "./pattern/wash-trading.ts";
import type { ChainEvent } from "./schema.ts";
import { whaleDominance } from "./wallet/whale-dominance.ts";

/** Adding a mint-keyed detector: its state keyed by mint only, reading the mint book only; list it here. */
export const MINT_DETECTORS = [whaleDominance, washTrading] as const;

export type MintAnalyzerConfig = AnalyzerConfig<typeof MINT_DETECTORS>;

export class MintAnalyzer extends Analyzer {
  /** `tables`: where its state lives (an actor's durable tables); in memory only by default. */
  constructor(config: MintAnalyzerConfig = {}, tables: Tables = memoryTables()) {
    super("mint", MINT_DETECTORS, config, {}, tables, { clock: "watermark", wallets: false });
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

/**
 * W2 fresh_sniper: non-creator wallets that buy within a few slots of the create slot while being
 * fresh (young and nearly unused), holding together a large share of supply ([DOOM], [MOB], [NOE]).
 * Aged sniper bots are the hard negative: they snipe too, but they are old, so they are not fresh.
 *
 * State: one small entry per mint, only for its first `maxSlotDelta` slots (state/launch-tracker.ts),
 * with the set of fresh snipers seen so far. O(1) per event plus O(snipers) on a snipe.
 */
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import { type EarlyBuy, type LaunchTracker, launchDetector } from "../state/launch-tracker.ts";

export interface FreshSniperOptions {
  /** A buy within this many slots of the create slot is a snipe. @defaultValue 5 */
  maxSlotDelta?: number;
  /** A wallet younger than this (as observed) is fresh. @defaultValue 3_600_000 */
  freshMaxAgeMs?: number;
  /** ...and must have fewer events than this. @defaultValue 100 */
  freshMaxEvents?: number;
  /** Fresh-sniper holdings at or above this fraction of supply → med. @defaultValue 0.1 */
  medSupplyFraction?: number;
  /** ... → high. @defaultValue 0.25 */
  highSupplyFraction?: number;
  /** Cap on snipers remembered per mint (bounded state under a snipe storm). @defaultValue 256 */
  maxSnipersPerMint?: number;
}

export const FRESH_SNIPER_DEFAULTS = {
  maxSlotDelta: 5,
  freshMaxAgeMs: 3_600_000,
  freshMaxEvents: 100,
  medSupplyFraction: 0.1,
  highSupplyFraction: 0.25,
  maxSnipersPerMint: 256,
} satisfies Required<FreshSniperOptions>;

export const freshSniper = defineDetector({
  name: "fresh_sniper",
  analyzer: "wallet",
  defaults: FRESH_SNIPER_DEFAULTS,
  create: (o, tables) =>
    launchDetector(
      tables,
      {
        windowSlots: o.maxSlotDelta,
        medSupplyFraction: o.medSupplyFraction,
        highSupplyFraction: o.highSupplyFraction,
        maxWallets: o.maxSnipersPerMint,
      },
      () => null,
      (buy, ctx, launches) => onBuy(o, buy, ctx, launches),
    ),
});

/** A fresh wallet's buy is a snipe; the launch's snipers are the tracker's counted wallets. */
function onBuy(
  o: Required<FreshSniperOptions>,
  buy: EarlyBuy<null>,
  ctx: DetectorContext,
  launches: LaunchTracker<null>,
): void {
  const { launch, trade } = buy;
  const wallet = ctx.wallets.get(trade.trader);
  if (wallet === undefined) return;
  const fresh = trade.ts - wallet.firstSeen < o.freshMaxAgeMs && wallet.events < o.freshMaxEvents;
  if (!fresh || !launches.count(launch, trade.trader)) return;
  launches.reportHeldShare(ctx, buy, () => ({
    snipers: launch.wallets.size,
    slotDelta: buy.slotDelta,
    // Before a full freshness horizon has been watched, every wallet looks young.
    warmup: trade.ts - ctx.observedSince < o.freshMaxAgeMs,
  }));
}

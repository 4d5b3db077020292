/**
 * P1 launch_bundle: wallets that buy as part of the launch itself, either inside the create
 * transaction, within Δslot 0–1 of it, or as one of ≥ 4 buys by young wallets landing in one slot
 * during the first 20 slots ([INT]); alert when those wallets hold ≥ 10% of supply (med) or ≥ 25%
 * (high) ([NOE]).
 *
 * Wallets of any age count in the create tx and slots 0–1, as DETECTORS.md has it (it exempts aged
 * wallets from W2 only): a bundle may be bought with aged wallets (issue 18), and leaving them out
 * bought no precision on the generator's seeds. The same-slot rush counts young wallets only
 * (`burstMaxAgeMs`): there established wallets are a crowd on a hot launch (with them the rule's
 * precision on seed 2 falls to 0.52).
 *
 * State: per mint, only for its first `burstWindowSlots` slots (state/launch-tracker.ts).
 */
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import { type EarlyBuy, type LaunchTracker, launchDetector } from "../state/launch-tracker.ts";

export interface LaunchBundleOptions {
  /** Non-creator buys within this many slots of the create slot are bundled. @defaultValue 1 */
  maxSlotDelta?: number;
  /** This many buys in one slot mark a bundle... @defaultValue 4 */
  burstMinBuys?: number;
  /** ...if the slot is within this many slots of creation... @defaultValue 20 */
  burstWindowSlots?: number;
  /**
   * ...counting only wallets observed for less than this: a same-slot rush of established wallets
   * is a crowd on a hot launch, of wallets made for the launch a bundle. @defaultValue 3_600_000
   */
  burstMaxAgeMs?: number;
  /** Bundle holdings at or above this fraction of supply → med. @defaultValue 0.1 */
  medSupplyFraction?: number;
  /** ... → high. @defaultValue 0.25 */
  highSupplyFraction?: number;
  /** Cap on bundle wallets remembered per mint. @defaultValue 256 */
  maxBundlePerMint?: number;
}

export const LAUNCH_BUNDLE_DEFAULTS = {
  maxSlotDelta: 1,
  burstMinBuys: 4,
  burstWindowSlots: 20,
  burstMaxAgeMs: 3_600_000,
  medSupplyFraction: 0.1,
  highSupplyFraction: 0.25,
  maxBundlePerMint: 256,
} satisfies Required<LaunchBundleOptions>;

/** Per launch, the wallets buying in each early slot, to spot ≥ burstMinBuys in one slot. */
type SlotBuyers = Map<number, string[]>;

export const launchBundle = defineDetector({
  name: "launch_bundle",
  analyzer: "pattern",
  defaults: LAUNCH_BUNDLE_DEFAULTS,
  create: (o, tables) =>
    launchDetector(
      tables,
      {
        windowSlots: o.burstWindowSlots,
        medSupplyFraction: o.medSupplyFraction,
        highSupplyFraction: o.highSupplyFraction,
        maxWallets: o.maxBundlePerMint,
      },
      (): SlotBuyers => new Map(),
      (buy, ctx, launches) => onBuy(o, buy, ctx, launches),
    ),
});

/** A young wallet's buy in the create tx or the next slots, or in a same-slot rush, joins the bundle. */
function onBuy(
  o: Required<LaunchBundleOptions>,
  buy: EarlyBuy<SlotBuyers>,
  ctx: DetectorContext,
  launches: LaunchTracker<SlotBuyers>,
): void {
  const { launch, trade, slot, slotDelta } = buy;
  const bundle = launch.wallets;
  const age = ctx.wallets.ageAt(trade.trader, trade.ts);
  const before = bundle.size;
  if (trade.inCreateTx || slotDelta <= o.maxSlotDelta) launches.count(launch, trade.trader);
  let buyers = launch.extra.get(slot);
  if (buyers === undefined) {
    buyers = [];
    launch.extra.set(slot, buyers);
    launches.changed(launch);
  }
  if (age < o.burstMaxAgeMs) {
    buyers.push(trade.trader);
    launches.changed(launch);
  }
  if (buyers.length >= o.burstMinBuys) for (const wallet of buyers) launches.count(launch, wallet);
  // Only a bundle member's buy can raise bundle holdings.
  if (bundle.size === before && !bundle.has(trade.trader)) return;
  const slotBuys = buyers.length;
  launches.reportHeldShare(ctx, buy, () => ({
    bundleWallets: bundle.size,
    slotDelta,
    inCreateTx: trade.inCreateTx,
    slotBuys,
    // The same-slot rush counts young wallets: before that age has been watched, every wallet looks young.
    warmup: trade.ts - ctx.observedSince < o.burstMaxAgeMs,
  }));
}

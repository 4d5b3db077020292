/**
 * P1 launch_bundle: wallets that buy as part of the launch itself, either inside the create
 * transaction, within Δslot 0–1 of it, or as one of ≥ 4 buys by young wallets landing in one slot
 * during the first 20 slots ([INT]); alert when those wallets hold ≥ 10% of supply (med) or ≥ 25%
 * (high) ([NOE]).
 *
 * Aged wallets (observed ≥ `agedMs`) are left out of the bundle set: they are the independent sniper
 * bots that also land in slot 1 ([DOOM] "bundlers vs snipers"), and a bundler's wallets are made for
 * the launch. A bundle built from aged wallets is therefore a known blind spot.
 *
 * State: per mint, only for its first `burstWindowSlots` slots.
 */
import { round4 } from "../alert.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { SLOT_MS, slotOf, timingOf } from "../state/slots.ts";

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
  /** Wallets observed for at least this long are treated as independent snipers. @defaultValue 604_800_000 */
  agedMs?: number;
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
  agedMs: 7 * 24 * 3_600_000,
  medSupplyFraction: 0.1,
  highSupplyFraction: 0.25,
  maxBundlePerMint: 256,
} satisfies Required<LaunchBundleOptions>;

interface Launch {
  createSlot: number;
  createTs: number;
  creator: string;
  payer: string;
  bundle: Set<string>;
  /** Wallets buying in each early slot, to spot ≥ burstMinBuys in one slot. */
  slotBuyers: Map<number, string[]>;
}

class LaunchBundle {
  readonly #o: Required<LaunchBundleOptions>;
  readonly #launches = new Map<string, Launch>();

  constructor(options: Required<LaunchBundleOptions>) {
    this.#o = options;
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind === "create") {
      this.#launches.set(event.mint, {
        createSlot: slotOf(event),
        createTs: event.ts,
        creator: event.creator,
        payer: event.payer,
        bundle: new Set(),
        slotBuyers: new Map(),
      });
    } else if (event.kind === "trade" && event.side === "buy") {
      const launch = this.#launches.get(event.mint);
      if (launch !== undefined) this.#onBuy(launch, event, ctx);
    }
  }

  #onBuy(launch: Launch, trade: Trade, ctx: DetectorContext): void {
    const o = this.#o;
    const slot = slotOf(trade);
    const slotDelta = slot - launch.createSlot;
    if (slotDelta > o.burstWindowSlots) {
      this.#launches.delete(trade.mint);
      return;
    }
    if (trade.trader === launch.creator || trade.trader === launch.payer) return;
    const age = ctx.wallets.ageAt(trade.trader, trade.ts);
    if (age >= o.agedMs) return;
    const before = launch.bundle.size;
    if (trade.inCreateTx || slotDelta <= o.maxSlotDelta) this.#add(launch, trade.trader);
    let buyers = launch.slotBuyers.get(slot);
    if (buyers === undefined) {
      buyers = [];
      launch.slotBuyers.set(slot, buyers);
    }
    if (age < o.burstMaxAgeMs) buyers.push(trade.trader);
    if (buyers.length >= o.burstMinBuys) for (const wallet of buyers) this.#add(launch, wallet);
    // Only a bundle member's buy can raise bundle holdings.
    if (launch.bundle.size === before && !launch.bundle.has(trade.trader)) return;
    const mint = ctx.mints.get(trade.mint);
    if (mint === undefined) return;
    const fraction = ctx.mints.heldFraction(mint, launch.bundle);
    if (fraction < o.medSupplyFraction) return;
    ctx.emit({
      severity: fraction >= o.highSupplyFraction ? "high" : "med",
      score: Math.min(1, fraction / o.highSupplyFraction),
      mint: trade.mint,
      key: trade.mint,
      wallets: [...launch.bundle],
      detectedAt: trade.ts,
      triggerId: trade.id,
      timing: timingOf(trade),
      evidence: {
        supplyFraction: round4(fraction),
        bundleWallets: launch.bundle.size,
        slotDelta,
        inCreateTx: trade.inCreateTx,
        slotBuys: buyers.length,
      },
    });
  }

  #add(launch: Launch, wallet: string): void {
    if (launch.bundle.size < this.#o.maxBundlePerMint) launch.bundle.add(wallet);
  }

  prune(nowTs: number): void {
    const horizon = (this.#o.burstWindowSlots + 1) * SLOT_MS;
    for (const [mint, launch] of this.#launches) {
      if (nowTs - launch.createTs > horizon) this.#launches.delete(mint);
    }
  }

  size(): number {
    return this.#launches.size;
  }
}

export const launchBundle = defineDetector({
  name: "launch_bundle",
  analyzer: "pattern",
  defaults: LAUNCH_BUNDLE_DEFAULTS,
  create: (options) => new LaunchBundle(options),
});

/**
 * W2 fresh_sniper: non-creator wallets that buy within a few slots of the create slot while being
 * fresh (young and nearly unused), holding together a large share of supply ([DOOM], [MOB], [NOE]).
 * Aged sniper bots are the hard negative: they snipe too, but they are old, so they are not fresh.
 *
 * State: one small entry per mint, only for its first `maxSlotDelta` slots (dropped on the next
 * prune), with the set of fresh snipers seen so far. O(1) per event plus O(snipers) on a snipe.
 */
import { round4 } from "../alert.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { SLOT_MS, slotOf, timingOf } from "../state/slots.ts";

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

interface Launch {
  createSlot: number;
  createTs: number;
  creator: string;
  payer: string;
  snipers: Set<string>;
}

class FreshSniper {
  readonly #o: Required<FreshSniperOptions>;
  readonly #launches = new Map<string, Launch>();

  constructor(options: Required<FreshSniperOptions>) {
    this.#o = options;
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind === "create") {
      this.#launches.set(event.mint, {
        createSlot: slotOf(event),
        createTs: event.ts,
        creator: event.creator,
        payer: event.payer,
        snipers: new Set(),
      });
    } else if (event.kind === "trade" && event.side === "buy") {
      const launch = this.#launches.get(event.mint);
      if (launch !== undefined) this.#onBuy(launch, event, ctx);
    }
  }

  #onBuy(launch: Launch, trade: Trade, ctx: DetectorContext): void {
    const o = this.#o;
    const slotDelta = slotOf(trade) - launch.createSlot;
    if (slotDelta > o.maxSlotDelta) {
      this.#launches.delete(trade.mint);
      return;
    }
    if (trade.trader === launch.creator || trade.trader === launch.payer) return;
    const wallet = ctx.wallets.get(trade.trader);
    if (wallet === undefined) return;
    const fresh = trade.ts - wallet.firstSeen < o.freshMaxAgeMs && wallet.events < o.freshMaxEvents;
    if (!fresh || launch.snipers.size >= o.maxSnipersPerMint) return;
    launch.snipers.add(trade.trader);
    const mint = ctx.mints.get(trade.mint);
    if (mint === undefined) return;
    const fraction = ctx.mints.heldFraction(mint, launch.snipers);
    if (fraction < o.medSupplyFraction) return;
    ctx.emit({
      severity: fraction >= o.highSupplyFraction ? "high" : "med",
      score: Math.min(1, fraction / o.highSupplyFraction),
      mint: trade.mint,
      key: trade.mint,
      wallets: [...launch.snipers],
      detectedAt: trade.ts,
      triggerId: trade.id,
      timing: timingOf(trade),
      evidence: {
        supplyFraction: round4(fraction),
        snipers: launch.snipers.size,
        slotDelta,
        // Before a full freshness horizon has been watched, every wallet looks young.
        warmup: trade.ts - ctx.observedSince < o.freshMaxAgeMs,
      },
    });
  }

  prune(nowTs: number): void {
    const horizon = (this.#o.maxSlotDelta + 1) * SLOT_MS;
    for (const [mint, launch] of this.#launches) {
      if (nowTs - launch.createTs > horizon) this.#launches.delete(mint);
    }
  }

  size(): number {
    return this.#launches.size;
  }
}

export const freshSniper = defineDetector({
  name: "fresh_sniper",
  analyzer: "wallet",
  defaults: FRESH_SNIPER_DEFAULTS,
  create: (options) => new FreshSniper(options),
});

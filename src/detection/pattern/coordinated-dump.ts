/**
 * P3 coordinated_dump: within 10 s on one mint, ≥ 3 distinct sellers (5 for high) each dumping
 * ≥ 50% of their position, together ≥ 5% of supply, while the price falls ≥ 30% across the window
 * ([RK], [CON] MultiSell, [MAR]).
 *
 * A crowd panicking out of a hot launch does that too: on the generator's seeds the literal rule's
 * precision is about 0.83. What tells a crew from a crowd is how the positions were built and left: the
 * crew liquidates positions it built minutes before and exits them whole, the crowd is momentum traders
 * flipping what they bought seconds ago, often in part, or holders following one whale out. So ≥
 * `minSellers` of the dumpers must be "exits": ≥ `exitFraction` of a position whose last buy is ≥
 * `minHoldMs` old, none of them more than `maxExitShare` of the exits' tokens. Dumpers who share a
 * private first funder (one that funded at most `maxFunderFanout` wallets: the local stand-in for a
 * cluster root) qualify without that, and raise the severity: the funder is evidence, not a condition
 * (issue 18; it was one, `requireSharedFunder`, which missed crews funded from exchanges).
 *
 * A seller's first funder and that funder's fan-out are taken as of the seller's sell, with the sell (issue
 * 14): facts of the trading wallet at its trade, which travel with the trade to a mint's partition, where
 * the wallet book is not. They were read at each evaluation before; seeds 1–3 (10 h) give the same alerts
 * either way (the funder never changes, and a fan-out rarely crosses the threshold within 10 s).
 *
 * State: per mint, the sells of the last `windowMs` (the durable table `sells`).
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { round4 } from "../alert.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { timingOf } from "../state/slots.ts";

export interface CoordinatedDumpOptions {
  /** @defaultValue 10_000 */
  windowMs?: number;
  /** @defaultValue 3 */
  minSellers?: number;
  /** @defaultValue 5 */
  highSellers?: number;
  /** Each seller sells at least this fraction of its position. @defaultValue 0.5 */
  minPositionFraction?: number;
  /** Qualifying sellers together, fraction of supply. @defaultValue 0.05 */
  minSupplyFraction?: number;
  /** Price drop across the window. @defaultValue 0.3 */
  minPriceDrop?: number;
  /** An exit sells at least this fraction of the position. @defaultValue 0.9 */
  exitFraction?: number;
  /** ...of a position whose last buy is at least this old, ms. @defaultValue 120_000 */
  minHoldMs?: number;
  /** No exit may be more than this share of the exits' tokens: a crew splits its dump. @defaultValue 0.5 */
  maxExitShare?: number;
  /** A funder that sent more transfers than this is exchange-like, not private. @defaultValue 200 */
  maxFunderFanout?: number;
}

export const COORDINATED_DUMP_DEFAULTS = {
  windowMs: 10_000,
  minSellers: 3,
  highSellers: 5,
  minPositionFraction: 0.5,
  minSupplyFraction: 0.05,
  minPriceDrop: 0.3,
  exitFraction: 0.9,
  minHoldMs: 120_000,
  maxExitShare: 0.5,
  maxFunderFanout: 200,
} satisfies Required<CoordinatedDumpOptions>;

interface Sell {
  ts: number;
  wallet: string;
  tok: number;
  /** Holdings before this sell. */
  heldBefore: number;
  priceBefore: number;
  /** Event time of the seller's last buy of the mint before this sell (absent in older state). */
  lastBuyTs?: number;
  /** The sell's event id (absent in state kept before events were). */
  id?: string;
  /** The seller's first funder at the sell, if any (absent in state kept before issue 14's facts). */
  funder?: string;
  /** Transfers that funder had sent at the sell. */
  fanout?: number;
}

class CoordinatedDump {
  readonly #o: Required<CoordinatedDumpOptions>;
  readonly #sells: DurableTable<Sell[]>;

  constructor(options: Required<CoordinatedDumpOptions>, tables: Tables) {
    this.#o = options;
    this.#sells = tables.table("sells");
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind !== "trade" || event.side !== "sell") return;
    const mint = ctx.mints.get(event.mint);
    if (mint === undefined) return;
    const position = ctx.mints.positions(event.mint).get(event.trader);
    const held = position?.held ?? 0;
    let sells = this.#sells.get(event.mint);
    if (sells === undefined) {
      sells = [];
      this.#sells.set(event.mint, sells);
    }
    const funder = ctx.wallets.get(event.trader)?.firstFunder;
    sells.push({
      ts: event.ts,
      wallet: event.trader,
      tok: event.tok,
      heldBefore: held + event.tok,
      priceBefore: mint.prevPrice,
      lastBuyTs: position?.lastBuyTs ?? 0,
      id: event.id,
      ...(funder !== undefined && { funder, fanout: ctx.wallets.sent(funder) }),
    });
    while (sells.length > 0 && event.ts - sells[0]!.ts > this.#o.windowMs) sells.shift();
    this.#sells.touch(event.mint);
    if (sells.length >= this.#o.minSellers)
      this.#evaluate(event, sells, mint.vSol / mint.vTok, mint.totalSupply, ctx);
  }

  #evaluate(trigger: Trade, sells: Sell[], price: number, supply: number, ctx: DetectorContext): void {
    const o = this.#o;
    const startPrice = sells[0]!.priceBefore;
    const drop = startPrice > 0 ? 1 - price / startPrice : 0;
    if (!(drop >= o.minPriceDrop)) return;
    // Per seller: tokens sold in the window against what it held before its first sell in it.
    const per = new Map<
      string,
      { sold: number; heldBefore: number; firstSellTs: number; lastBuyTs: number }
    >();
    for (const s of sells) {
      const p = per.get(s.wallet);
      if (p === undefined)
        per.set(s.wallet, {
          sold: s.tok,
          heldBefore: s.heldBefore,
          firstSellTs: s.ts,
          lastBuyTs: s.lastBuyTs ?? s.ts,
        });
      else p.sold += s.tok;
    }
    const dumpers: string[] = [];
    const exits: string[] = [];
    let sold = 0;
    let exited = 0;
    let largestExit = 0;
    for (const [wallet, p] of per) {
      if (p.heldBefore > 0 && p.sold >= o.minPositionFraction * p.heldBefore) {
        dumpers.push(wallet);
        sold += p.sold;
        if (p.sold >= o.exitFraction * p.heldBefore && p.firstSellTs - p.lastBuyTs >= o.minHoldMs) {
          exits.push(wallet);
          exited += p.sold;
          largestExit = Math.max(largestExit, p.sold);
        }
      }
    }
    if (dumpers.length < o.minSellers || sold < o.minSupplyFraction * supply) return;
    const funded = sharedFunderGroup(dumpers, o.maxFunderFanout, sells);
    const sharedFunder = funded.length >= o.minSellers;
    const crew = exits.length >= o.minSellers && largestExit <= o.maxExitShare * exited;
    if (!sharedFunder && !crew) return;
    const group = sharedFunder ? [...new Set([...funded, ...(crew ? exits : [])])] : exits;
    ctx.emit({
      severity: group.length >= o.highSellers || sharedFunder ? "high" : "med",
      score: Math.min(1, sharedFunder ? drop + 0.25 : drop),
      mint: trigger.mint,
      key: trigger.mint,
      wallets: group,
      detectedAt: trigger.ts,
      triggerId: trigger.id,
      timing: timingOf(trigger),
      // The window's sells by the group: the dump itself.
      events: sells.filter((s) => group.includes(s.wallet)).map((s) => s.id),
      evidence: {
        sellers: dumpers.length,
        exits: exits.length,
        sharedFunder: funded.length,
        supplyFraction: round4(sold / supply),
        priceDrop: round4(drop),
      },
    });
  }

  prune(nowTs: number): void {
    for (const [mint, sells] of this.#sells) {
      if (sells.length === 0 || nowTs - sells[sells.length - 1]!.ts > this.#o.windowMs)
        this.#sells.delete(mint);
    }
  }

  size(): number {
    return this.#sells.size;
  }
}

/** The largest set of wallets with one private first funder, as of each one's latest sell in the window. */
function sharedFunderGroup(wallets: string[], maxFanout: number, sells: readonly Sell[]): string[] {
  const latest = new Map<string, Sell>();
  for (const sell of sells) latest.set(sell.wallet, sell);
  const groups = new Map<string, string[]>();
  let best: string[] = [];
  for (const wallet of wallets) {
    const { funder, fanout = 0 } = latest.get(wallet) as Sell;
    if (funder === undefined || fanout > maxFanout) continue;
    const group = groups.get(funder) ?? [];
    group.push(wallet);
    groups.set(funder, group);
    if (group.length > best.length) best = group;
  }
  return best;
}

export const coordinatedDump = defineDetector({
  name: "coordinated_dump",
  analyzer: "pattern",
  defaults: COORDINATED_DUMP_DEFAULTS,
  create: (options, tables) => new CoordinatedDump(options, tables),
});

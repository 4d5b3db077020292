/**
 * P5 wash_trading: one wallet trading one mint both ways over 10 min, ≥ 3 buys and ≥ 3 sells, with
 * balanced SOL (min/max ≥ 0.9), a position that ends near flat (|net tokens| ≤ 10% of bought) and
 * ≥ 0.5 SOL of volume; high when that wallet makes ≥ 50% of the mint's volume ([BQ], [VW], [AMM]: on
 * a curve the counterparty is the pool, so the test is position neutrality, not matched trades).
 * A market maker accumulating (+30%) is not neutral and stays quiet.
 *
 * State: per (wallet, mint) and per mint, the trades of the last `windowMs` with running sums:
 * amortised O(1) per trade.
 */
import { round4 } from "../alert.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { timingOf } from "../state/slots.ts";

export interface WashTradingOptions {
  /** @defaultValue 600_000 */
  windowMs?: number;
  /** @defaultValue 3 */
  minBuys?: number;
  /** @defaultValue 3 */
  minSells?: number;
  /** min(buySol, sellSol) / max(...) at least. @defaultValue 0.9 */
  minBalance?: number;
  /** |bought − sold| / bought at most. @defaultValue 0.1 */
  maxNetFraction?: number;
  /** Wallet volume in the window, lamports. @defaultValue 500_000_000 */
  minVolumeLamports?: number;
  /** Share of the mint's volume for high. @defaultValue 0.5 */
  highVolumeShare?: number;
}

export const WASH_TRADING_DEFAULTS = {
  windowMs: 600_000,
  minBuys: 3,
  minSells: 3,
  minBalance: 0.9,
  maxNetFraction: 0.1,
  minVolumeLamports: 500_000_000,
  highVolumeShare: 0.5,
} satisfies Required<WashTradingOptions>;

interface Entry {
  ts: number;
  buy: boolean;
  sol: number;
  tok: number;
}

/** A time window of trades with running sums. */
class Window {
  readonly entries: Entry[] = [];
  buys = 0;
  sells = 0;
  buySol = 0;
  sellSol = 0;
  buyTok = 0;
  sellTok = 0;

  add(e: Entry, windowMs: number): void {
    this.entries.push(e);
    this.#apply(e, 1);
    let expired = 0;
    while (expired < this.entries.length && e.ts - this.entries[expired]!.ts > windowMs) {
      this.#apply(this.entries[expired]!, -1);
      expired++;
    }
    if (expired > 0) this.entries.splice(0, expired);
  }

  #apply(e: Entry, sign: 1 | -1): void {
    if (e.buy) {
      this.buys += sign;
      this.buySol += sign * e.sol;
      this.buyTok += sign * e.tok;
    } else {
      this.sells += sign;
      this.sellSol += sign * e.sol;
      this.sellTok += sign * e.tok;
    }
  }

  leadingSells(): { count: number; sol: number; tok: number } {
    const lead = { count: 0, sol: 0, tok: 0 };
    for (const e of this.entries) {
      if (e.buy) break;
      lead.count++;
      lead.sol += e.sol;
      lead.tok += e.tok;
    }
    return lead;
  }

  get volume(): number {
    return this.buySol + this.sellSol;
  }

  get lastTs(): number {
    return this.entries[this.entries.length - 1]?.ts ?? 0;
  }
}

interface MintWindows {
  all: Window;
  wallets: Map<string, Window>;
}

class WashTrading {
  readonly #o: Required<WashTradingOptions>;
  readonly #mints = new Map<string, MintWindows>();
  #nextPrune = 0;

  constructor(options: Required<WashTradingOptions>) {
    this.#o = options;
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind !== "trade") return;
    const o = this.#o;
    const entry = { ts: event.ts, buy: event.side === "buy", sol: event.sol, tok: event.tok };
    let mint = this.#mints.get(event.mint);
    if (mint === undefined) {
      mint = { all: new Window(), wallets: new Map() };
      this.#mints.set(event.mint, mint);
    }
    mint.all.add(entry, o.windowMs);
    let w = mint.wallets.get(event.trader);
    if (w === undefined) {
      w = new Window();
      mint.wallets.set(event.trader, w);
    }
    w.add(entry, o.windowMs);
    // Sells at the head of the window close positions opened before it: leave them out.
    const lead = w.leadingSells();
    const sells = w.sells - lead.count;
    const sellSol = w.sellSol - lead.sol;
    const sellTok = w.sellTok - lead.tok;
    if (w.buys < o.minBuys || sells < o.minSells || w.buySol + sellSol < o.minVolumeLamports) return;
    if (Math.min(w.buySol, sellSol) / Math.max(w.buySol, sellSol) < o.minBalance) return;
    const net = Math.abs(w.buyTok - sellTok) / w.buyTok;
    if (net > o.maxNetFraction) return;
    const share = (w.buySol + sellSol) / mint.all.volume;
    this.#emit(event, w, sells, net, share, ctx);
  }

  #emit(trade: Trade, w: Window, sells: number, net: number, share: number, ctx: DetectorContext): void {
    ctx.emit({
      severity: share >= this.#o.highVolumeShare ? "high" : "med",
      score: Math.min(1, share / this.#o.highVolumeShare),
      mint: trade.mint,
      key: trade.mint,
      wallets: [trade.trader],
      detectedAt: trade.ts,
      triggerId: trade.id,
      timing: timingOf(trade),
      evidence: {
        buys: w.buys,
        sells,
        volumeSol: round4(w.volume / 1e9),
        netFraction: round4(net),
        mintVolumeShare: round4(share),
      },
    });
  }

  /**
   * Sweeps once per window length, not on every full flush: a quiet mint goes in one step, and
   * state lives at most two windows.
   */
  prune(nowTs: number): void {
    if (nowTs < this.#nextPrune) return;
    this.#nextPrune = nowTs + this.#o.windowMs;
    for (const [mint, windows] of this.#mints) {
      if (nowTs - windows.all.lastTs > this.#o.windowMs) {
        this.#mints.delete(mint);
        continue;
      }
      for (const [wallet, w] of windows.wallets)
        if (nowTs - w.lastTs > this.#o.windowMs) windows.wallets.delete(wallet);
    }
  }

  size(): number {
    let n = this.#mints.size;
    for (const windows of this.#mints.values()) n += windows.wallets.size;
    return n;
  }
}

export const washTrading = defineDetector({
  name: "wash_trading",
  analyzer: "pattern",
  defaults: WASH_TRADING_DEFAULTS,
  create: (options) => new WashTrading(options),
});

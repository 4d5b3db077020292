/**
 * W4 sweep_back: after selling, a wallet sends ≥ 90% of the proceeds to its first funder or to the
 * creator of a mint it sold, within 30 min; alert when ≥ 3 wallets sweep to one destination within
 * 30 min ([ARB] funder / sweep edges). Organic traders cash out to wherever they like; a farm's
 * wallets return the money to the operator.
 *
 * State: per wallet its recent sell proceeds (dropped after `sellWindowMs`), per destination the
 * sweeps of the last `destWindowMs`. Durable tables: `proceeds`, `sweeps`.
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { round4 } from "../alert.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade, Transfer } from "../schema.ts";
import { timingOf } from "../state/slots.ts";

export interface SweepBackOptions {
  /** A sweep must follow the sells within this long. @defaultValue 1_800_000 */
  sellWindowMs?: number;
  /** Fraction of the proceeds a transfer must carry. @defaultValue 0.9 */
  sweepFraction?: number;
  /** Proceeds below this are ignored, lamports. @defaultValue 50_000_000 */
  minProceedsLamports?: number;
  /** Sweeps to one destination within this window are counted together. @defaultValue 1_800_000 */
  destWindowMs?: number;
  /** Distinct sweeping wallets for med. @defaultValue 3 */
  minWallets?: number;
  /** ... for high. @defaultValue 6 */
  highWallets?: number;
  /** Creators of sold mints remembered per wallet. @defaultValue 4 */
  maxCreatorsPerWallet?: number;
}

export const SWEEP_BACK_DEFAULTS = {
  sellWindowMs: 1_800_000,
  sweepFraction: 0.9,
  minProceedsLamports: 50_000_000,
  destWindowMs: 1_800_000,
  minWallets: 3,
  highWallets: 6,
  maxCreatorsPerWallet: 4,
} satisfies Required<SweepBackOptions>;

interface Proceeds {
  lamports: number;
  lastSellTs: number;
  /** Creators of the sold mints, with the mint, most recent last. */
  sold: { creator: string; mint: string }[];
}

interface Sweep {
  ts: number;
  wallet: string;
  mint: string | undefined;
  /** The sweeping transfer (absent in state kept before events were). */
  id?: string;
}

class SweepBack {
  readonly #o: Required<SweepBackOptions>;
  readonly #proceeds: DurableTable<Proceeds>;
  readonly #sweeps: DurableTable<Sweep[]>;

  constructor(options: Required<SweepBackOptions>, tables: Tables) {
    this.#o = options;
    this.#proceeds = tables.table("proceeds");
    this.#sweeps = tables.table("sweeps");
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind === "trade" && event.side === "sell") this.#onSell(event, ctx);
    else if (event.kind === "transfer" && event.asset === "SOL") this.#onTransfer(event, ctx);
  }

  #onSell(trade: Trade, ctx: DetectorContext): void {
    let p = this.#proceeds.get(trade.trader);
    if (p === undefined || trade.ts - p.lastSellTs > this.#o.sellWindowMs) {
      p = { lamports: 0, lastSellTs: trade.ts, sold: [] };
      this.#proceeds.set(trade.trader, p);
    }
    p.lamports += trade.sol;
    p.lastSellTs = trade.ts;
    const creator = ctx.mints.get(trade.mint)?.creator;
    if (creator !== undefined && !p.sold.some((s) => s.creator === creator)) {
      p.sold.push({ creator, mint: trade.mint });
      if (p.sold.length > this.#o.maxCreatorsPerWallet) p.sold.shift();
    }
    this.#proceeds.touch(trade.trader);
  }

  #onTransfer(t: Transfer, ctx: DetectorContext): void {
    const o = this.#o;
    const p = this.#proceeds.get(t.from);
    if (p === undefined || t.ts - p.lastSellTs > o.sellWindowMs) return;
    if (p.lamports < o.minProceedsLamports || t.amount < o.sweepFraction * p.lamports) return;
    const toCreator = p.sold.find((s) => s.creator === t.to);
    if (toCreator === undefined && ctx.wallets.get(t.from)?.firstFunder !== t.to) return;
    this.#proceeds.delete(t.from);
    let sweeps = this.#sweeps.get(t.to);
    if (sweeps === undefined) {
      sweeps = [];
      this.#sweeps.set(t.to, sweeps);
    }
    sweeps.push({ ts: t.ts, wallet: t.from, mint: toCreator?.mint ?? p.sold.at(-1)?.mint, id: t.id });
    while (sweeps.length > 0 && t.ts - sweeps[0]!.ts > o.destWindowMs) sweeps.shift();
    this.#sweeps.touch(t.to);
    const wallets = [...new Set(sweeps.map((s) => s.wallet))];
    if (wallets.length < o.minWallets) return;
    const mint = mostCommon(sweeps.map((s) => s.mint));
    ctx.emit({
      severity: wallets.length >= o.highWallets ? "high" : "med",
      score: Math.min(1, wallets.length / o.highWallets),
      ...(mint === undefined ? {} : { mint }),
      key: t.to,
      wallets: [t.to, ...wallets],
      detectedAt: t.ts,
      triggerId: t.id,
      timing: timingOf(t),
      events: sweeps.map((s) => s.id),
      evidence: {
        sweepers: wallets.length,
        toCreator: toCreator !== undefined,
        sweptSol: round4(t.amount / 1e9),
      },
    });
  }

  prune(nowTs: number): void {
    for (const [wallet, p] of this.#proceeds) {
      if (nowTs - p.lastSellTs > this.#o.sellWindowMs) this.#proceeds.delete(wallet);
    }
    for (const [dest, sweeps] of this.#sweeps) {
      if (nowTs - sweeps[sweeps.length - 1]!.ts > this.#o.destWindowMs) this.#sweeps.delete(dest);
    }
  }

  size(): number {
    return this.#proceeds.size + this.#sweeps.size;
  }
}

function mostCommon(values: (string | undefined)[]): string | undefined {
  const counts = new Map<string, number>();
  let best: string | undefined;
  for (const v of values) {
    if (v === undefined) continue;
    const n = (counts.get(v) ?? 0) + 1;
    counts.set(v, n);
    if (best === undefined || n > counts.get(best)!) best = v;
  }
  return best;
}

export const sweepBack = defineDetector({
  name: "sweep_back",
  analyzer: "wallet",
  defaults: SWEEP_BACK_DEFAULTS,
  create: (options, tables) => new SweepBack(options, tables),
});

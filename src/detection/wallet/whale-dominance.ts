/**
 * W3 whale_dominance: one wallet building a dominant position in a mint: within 5 min it makes
 * ≥ 40% of the mint's buy volume with ≥ 3 SOL through ≥ 3 buys, and holds ≥ 5% of supply ([RK];
 * thresholds project-defined). High when it holds ≥ 20%.
 *
 * Sharpened from DETECTORS.md ("≥ 40% of buy volume and ≥ 3 SOL, or holds ≥ 5% of supply"), which
 * fires on ordinary traffic: about 1% of organic buys are ≥ 3 SOL (buy sizes are lognormal, median
 * 0.15 SOL, σ 1.3), a 2 SOL buy on a fresh curve is already ~6% of supply, and on most launches one
 * such buy is 40% of five minutes of volume. A single large buy is a trade; dominance is built: the
 * wallet comes back for a third buy within the window (`minBuys`), and it keeps what it bought
 * (the supply condition is required, not an alternative), so churning volume (P5 / P6 territory) does
 * not count. The one-shot whale is therefore a documented blind spot (the WHALE evasive variant).
 *
 * State: a buy track only for wallets that come back for more (from their `minBuys − 1`-th buy on a
 * mint, seeded from the mint book's position), dropped after the window. The mint's volume is
 * summed from the mint book only when such a wallet qualifies otherwise (positions that bought
 * within the window, counted whole: a conservative denominator). O(1) per buy. Durable tables: `tracks`
 * (per mint, its buyers' tracks) and `meta` (the next sweep).
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { round4 } from "../alert.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent } from "../schema.ts";
import { timingOf } from "../state/slots.ts";
import { Scalars } from "../state/tables.ts";

export interface WhaleDominanceOptions {
  /** @defaultValue 300_000 */
  windowMs?: number;
  /** The wallet's share of the mint's buy volume in the window. @defaultValue 0.4 */
  minBuyShare?: number;
  /** The wallet's buy volume in the window, lamports. @defaultValue 3_000_000_000 */
  minLamports?: number;
  /** The wallet's buys in the window. @defaultValue 3 */
  minBuys?: number;
  /** Held at the moment, fraction of supply, for med. @defaultValue 0.05 */
  minSupplyFraction?: number;
  /** ... for high. @defaultValue 0.2 */
  highSupplyFraction?: number;
  /**
   * DETECTORS.md's rule as written: ≥ `minBuyShare` of the volume and ≥ `minLamports`, or ≥
   * `minSupplyFraction` held, from the first buy on (`minBuys` ignored). For measuring the deviation
   * (docs/detection.md): it fires on ordinary large buys. @defaultValue false
   */
  literal?: boolean;
}

export const WHALE_DOMINANCE_DEFAULTS = {
  windowMs: 300_000,
  minBuyShare: 0.4,
  minLamports: 3_000_000_000,
  minBuys: 3,
  minSupplyFraction: 0.05,
  highSupplyFraction: 0.2,
  literal: false as boolean,
} satisfies Required<WhaleDominanceOptions>;

/** A repeat buyer's buys on one mint within the window. */
interface Track {
  ts: number[];
  sol: number[];
  /** Buys per entry (the seed entry stands for the buys before tracking began). */
  n: number[];
}

class WhaleDominance {
  readonly #o: Required<WhaleDominanceOptions>;
  /** Repeat buyers' tracks, by mint then wallet. */
  readonly #tracks: DurableTable<Map<string, Track>>;
  readonly #meta: Scalars<{ nextPrune: number }>;

  constructor(options: Required<WhaleDominanceOptions>, tables: Tables) {
    this.#o = options;
    this.#tracks = tables.table("tracks");
    this.#meta = new Scalars(tables, "meta", { nextPrune: 0 });
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind !== "trade" || event.side !== "buy") return;
    const o = this.#o;
    const mint = ctx.mints.get(event.mint);
    const position = ctx.mints.positions(event.mint).get(event.trader);
    const minBuys = o.literal ? 1 : o.minBuys;
    if (mint === undefined || position === undefined || position.buys < Math.max(1, minBuys - 1)) return;
    // A repeat buyer: track its buys (the earlier ones, from the mint book, as one at its first buy).
    let tracks = this.#tracks.get(event.mint);
    if (tracks === undefined) {
      tracks = new Map();
      this.#tracks.set(event.mint, tracks);
    }
    let track = tracks.get(event.trader);
    if (track === undefined) {
      track = { ts: [], sol: [], n: [] };
      const earlier = position.boughtSol - event.sol;
      if (position.buys > 1 && earlier > 0) {
        track.ts.push(position.firstTs);
        track.sol.push(earlier);
        track.n.push(position.buys - 1);
      }
      tracks.set(event.trader, track);
    }
    track.ts.push(event.ts);
    track.sol.push(event.sol);
    track.n.push(1);
    while (track.ts.length > 0 && event.ts - track.ts[0]! > o.windowMs) {
      track.ts.shift();
      track.sol.shift();
      track.n.shift();
    }
    this.#tracks.touch(event.mint);
    let buys = 0;
    for (const n of track.n) buys += n;
    if (buys < minBuys) return;
    const supplyFraction = position.held / mint.totalSupply;
    const holds = supplyFraction >= o.minSupplyFraction;
    if (!(holds || o.literal)) return;
    let sol = 0;
    for (const s of track.sol) sol += s;
    let total = sol;
    for (const [wallet, p] of ctx.mints.positions(event.mint)) {
      if (wallet !== event.trader && p.lastBuyTs > 0 && event.ts - p.lastBuyTs <= o.windowMs)
        total += p.boughtSol;
    }
    const share = Math.min(1, sol / total);
    const dominates = sol >= o.minLamports && share >= o.minBuyShare;
    if (!(o.literal ? dominates || holds : dominates)) return;
    ctx.emit({
      severity: supplyFraction >= o.highSupplyFraction ? "high" : "med",
      score: Math.min(1, Math.max(share, supplyFraction / o.highSupplyFraction)),
      mint: event.mint,
      key: event.mint,
      wallets: [event.trader],
      detectedAt: event.ts,
      triggerId: event.id,
      timing: timingOf(event),
      evidence: {
        buyShare: round4(share),
        buys,
        buySol: round4(sol / 1e9),
        supplyFraction: round4(supplyFraction),
      },
    });
  }

  /** Sweeps once per window: an idle mint's state is a few dozen bytes. */
  prune(nowTs: number): void {
    const meta = this.#meta.value;
    if (nowTs < meta.nextPrune) return;
    meta.nextPrune = nowTs + this.#o.windowMs;
    this.#meta.changed();
    for (const [mint, tracks] of this.#tracks) {
      const before = tracks.size;
      for (const [wallet, track] of tracks) {
        if (nowTs - track.ts[track.ts.length - 1]! > this.#o.windowMs) tracks.delete(wallet);
      }
      if (tracks.size === 0) this.#tracks.delete(mint);
      else if (tracks.size < before) this.#tracks.touch(mint);
    }
  }

  size(): number {
    let n = 0;
    for (const tracks of this.#tracks.values()) n += tracks.size;
    return n;
  }
}

export const whaleDominance = defineDetector({
  name: "whale_dominance",
  analyzer: "wallet",
  defaults: WHALE_DOMINANCE_DEFAULTS,
  create: (options, tables) => new WhaleDominance(options, tables),
});

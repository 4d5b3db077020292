/**
 * P5 wash_trading: one wallet trading one mint both ways over 10 min, ≥ 3 buys and ≥ 3 sells, with
 * balanced SOL (min/max ≥ 0.9), a position that ends near flat (|net tokens| ≤ 10% of bought) and
 * ≥ 0.5 SOL of volume; high when that wallet makes ≥ 50% of the mint's volume ([BQ], [VW], [AMM]: on
 * a curve the counterparty is the pool, so the test is position neutrality, not matched trades).
 * A market maker accumulating (+30%) is not neutral and stays quiet.
 *
 * State: per (wallet, mint) and per mint, the trades of the last `windowMs` with running sums:
 * amortised O(1) per trade. Durable tables: `wallets` (a wallet's window of a mint, stored whole: a few
 * trades), `mints` (a mint's sums) with `mints.trades` (its trades in blocks of 16, so a trade rewrites
 * its block and the sums instead of the mint's whole window; rebuilt per mint on restore) and `meta`.
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { recordCodec } from "../../runtime/record-codec.ts";
import { round4 } from "../alert.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { timingOf } from "../state/slots.ts";
import { Scalars } from "../state/tables.ts";

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

/** Running sums over the trades of a window. */
interface Sums {
  buys: number;
  sells: number;
  buySol: number;
  sellSol: number;
  buyTok: number;
  sellTok: number;
}

/** A time window of trades with running sums: plain data, so it is stored as it is. */
interface Window extends Sums {
  entries: Entry[];
}

/** A mint's window as stored: its sums and the sequence numbers of its oldest trade and the next. */
interface MintWindow extends Sums {
  first: number;
  next: number;
}

const SUMS = { buys: true, sells: true, buySol: true, sellSol: true, buyTok: true, sellTok: true } as const;
const ENTRY_CODEC = recordCodec<Entry>({ ts: true, buy: true, sol: true, tok: true });
/** The tables written most (a trader window per trade): a record codec encodes them ~2× faster than msgpack. */
const WINDOW_CODEC = recordCodec<Window>({ entries: ENTRY_CODEC, ...SUMS });
const MINT_WINDOW_CODEC = recordCodec<MintWindow>({ ...SUMS, first: true, next: true });

function newWindow(): Window {
  return { entries: [], buys: 0, sells: 0, buySol: 0, sellSol: 0, buyTok: 0, sellTok: 0 };
}

function newMintWindow(): MintWindow {
  return { first: 0, next: 0, buys: 0, sells: 0, buySol: 0, sellSol: 0, buyTok: 0, sellTok: 0 };
}

/** Adds `e` to the window and drops the trades it outdates; returns how many it dropped. */
function add(w: Sums, entries: Entry[], e: Entry, windowMs: number): number {
  entries.push(e);
  apply(w, e, 1);
  let expired = 0;
  while (expired < entries.length && e.ts - entries[expired]!.ts > windowMs) {
    apply(w, entries[expired]!, -1);
    expired++;
  }
  if (expired > 0) entries.splice(0, expired);
  return expired;
}

function apply(w: Sums, e: Entry, sign: 1 | -1): void {
  if (e.buy) {
    w.buys += sign;
    w.buySol += sign * e.sol;
    w.buyTok += sign * e.tok;
  } else {
    w.sells += sign;
    w.sellSol += sign * e.sol;
    w.sellTok += sign * e.tok;
  }
}

/** A qualifying stretch of a wallet's window: its sums, and its net position as a fraction of bought. */
interface Stretch extends Sums {
  net: number;
}

/**
 * The longest stretch of the window ending at its newest trade and starting with a buy that passes the
 * rule, if any. Every stretch of 10 min ends at some trade, so checking the ones ending at each new
 * trade finds any qualifying window, not only the whole trailing one: a closed older position in the
 * window no longer hides three flat round trips after it (issue 18). A stretch starts with a buy and
 * from a flat position (held before it ≤ `maxNetFraction` of what it buys: `held` is the holding now,
 * undefined when the mint book does not track the wallet): else its sells may be selling inventory, as a
 * market maker does, and its "neutrality" is only that inventory shrinking. O(trades in window).
 */
function qualifyingStretch(
  w: Window,
  held: number | undefined,
  o: Required<WashTradingOptions>,
): Stretch | undefined {
  if (w.buys < o.minBuys || w.sells < o.minSells || volume(w) < o.minVolumeLamports) return undefined;
  const s: Sums = { buys: 0, sells: 0, buySol: 0, sellSol: 0, buyTok: 0, sellTok: 0 };
  let found: Stretch | undefined;
  for (let i = w.entries.length - 1; i >= 0; i--) {
    const e = w.entries[i] as Entry;
    apply(s, e, 1);
    if (!e.buy || s.buys < o.minBuys || s.sells < o.minSells || volume(s) < o.minVolumeLamports) continue;
    if (Math.min(s.buySol, s.sellSol) / Math.max(s.buySol, s.sellSol) < o.minBalance) continue;
    const net = Math.abs(s.buyTok - s.sellTok) / s.buyTok;
    if (net > o.maxNetFraction) continue;
    const heldBefore = held === undefined ? 0 : held - (s.buyTok - s.sellTok);
    if (heldBefore <= o.maxNetFraction * s.buyTok) found = { ...s, net };
  }
  return found;
}

function volume(w: Sums): number {
  return w.buySol + w.sellSol;
}

function lastTs(entries: readonly Entry[]): number {
  return entries[entries.length - 1]?.ts ?? 0;
}

const SEP = "\u001f";

/** Trades per stored block of a mint's window. */
const BLOCK = 16;

/** The key in `mints.trades` of the block holding a mint's trade number `seq`. */
function blockKey(mint: string, seq: number): string {
  return mint + SEP + Math.floor(seq / BLOCK);
}

class WashTrading {
  readonly #o: Required<WashTradingOptions>;
  /** Per mint, the sums of all its trades in the window. */
  readonly #mints: DurableTable<MintWindow>;
  /** Those trades in blocks of {@link BLOCK} by sequence number (a block keeps expired trades until all are). */
  readonly #trades: DurableTable<Entry[]>;
  /** Per mint, its trades in order and its newest block, as `#trades` holds them (found without building a key). */
  readonly #live = new Map<string, { entries: Entry[]; tail: Entry[] }>();
  /** Per (mint, wallet), the wallet's trades of the mint in the window: a mint's traders stored apart. */
  readonly #wallets: DurableTable<Window>;
  readonly #meta: Scalars<{ nextPrune: number }>;

  constructor(options: Required<WashTradingOptions>, tables: Tables) {
    this.#o = options;
    this.#mints = tables.table("mints", MINT_WINDOW_CODEC);
    this.#trades = tables.table("mints.trades");
    this.#wallets = tables.table("wallets", WINDOW_CODEC);
    this.#meta = new Scalars(tables, "meta", { nextPrune: 0 });
    // Trades are added at the end and dropped from the front, so the table's order is each mint's order.
    for (const [mint, all] of this.#mints) {
      const live = this.#liveOf(mint);
      for (let seq = all.first; seq < all.next; seq++)
        live.entries.push((this.#trades.get(blockKey(mint, seq)) as Entry[])[seq % BLOCK] as Entry);
      // A mint's window is never empty: its newest trade never expires, so its block is there.
      live.tail = this.#trades.get(blockKey(mint, all.next - 1)) as Entry[];
    }
  }

  #liveOf(mint: string): { entries: Entry[]; tail: Entry[] } {
    let live = this.#live.get(mint);
    if (live === undefined) {
      live = { entries: [], tail: [] };
      this.#live.set(mint, live);
    }
    return live;
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind !== "trade") return;
    const o = this.#o;
    const entry = { ts: event.ts, buy: event.side === "buy", sol: event.sol, tok: event.tok };
    let all = this.#mints.get(event.mint);
    if (all === undefined) {
      all = newMintWindow();
      this.#mints.set(event.mint, all);
    } else {
      this.#mints.touch(event.mint);
    }
    const live = this.#liveOf(event.mint);
    const expired = add(all, live.entries, entry, o.windowMs);
    this.#store(event.mint, all, live, entry, expired);
    const key = event.mint + SEP + event.trader;
    let w = this.#wallets.get(key);
    if (w === undefined) {
      w = newWindow();
      this.#wallets.set(key, w);
    } else {
      this.#wallets.touch(key);
    }
    add(w, w.entries, entry, o.windowMs);
    const stretch = qualifyingStretch(w, ctx.mints.positions(event.mint).get(event.trader)?.held, o);
    if (stretch === undefined) return;
    this.#emit(event, stretch, volume(stretch) / volume(all), ctx);
  }

  /** Stores the trade numbered `all.next` and drops the blocks of the `expired` oldest once all theirs are. */
  #store(mint: string, all: MintWindow, live: { tail: Entry[] }, entry: Entry, expired: number): void {
    const seq = all.next++;
    if (seq % BLOCK === 0) {
      live.tail = [entry];
      this.#trades.set(blockKey(mint, seq), live.tail);
    } else {
      live.tail.push(entry);
      this.#trades.touch(blockKey(mint, seq));
    }
    const first = all.first;
    all.first += expired;
    for (let block = first - (first % BLOCK); block + BLOCK <= all.first; block += BLOCK)
      this.#trades.delete(blockKey(mint, block));
  }

  #emit(trade: Trade, w: Stretch, share: number, ctx: DetectorContext): void {
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
        sells: w.sells,
        volumeSol: round4(volume(w) / 1e9),
        netFraction: round4(w.net),
        mintVolumeShare: round4(share),
      },
    });
  }

  /**
   * Sweeps once per window length, not on every full flush: a quiet mint goes in one step, and
   * state lives at most two windows. A wallet's window of a quiet mint is quiet too, so it goes with it.
   */
  prune(nowTs: number): void {
    const meta = this.#meta.value;
    if (nowTs < meta.nextPrune) return;
    meta.nextPrune = nowTs + this.#o.windowMs;
    this.#meta.changed();
    for (const [mint, all] of this.#mints) {
      const entries = this.#live.get(mint)?.entries ?? [];
      if (nowTs - lastTs(entries) <= this.#o.windowMs) continue;
      for (let seq = all.first - (all.first % BLOCK); seq < all.next; seq += BLOCK)
        this.#trades.delete(blockKey(mint, seq));
      this.#live.delete(mint);
      this.#mints.delete(mint);
    }
    for (const [key, w] of this.#wallets)
      if (nowTs - lastTs(w.entries) > this.#o.windowMs) this.#wallets.delete(key);
  }

  size(): number {
    return this.#mints.size + this.#wallets.size;
  }
}

export const washTrading = defineDetector({
  name: "wash_trading",
  analyzer: "pattern",
  defaults: WASH_TRADING_DEFAULTS,
  create: (options, tables) => new WashTrading(options, tables),
});

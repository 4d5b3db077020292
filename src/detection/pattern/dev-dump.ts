/**
 * P2 dev_dump: the creator, together with wallets it funded directly, sells ≥ 80% of the group's
 * peak holding within 10 min of creation. High when it happens within 60 s, or when the dumping
 * sell's log-return is an outlier: below −4·σ_MAD of the mint's recent trade returns
 * (σ_MAD = MAD / 0.67449, robust to the heavy tails of memecoin returns [MAR]).
 *
 * State: per mint, only for its first `windowMs`: group holdings (the durable table `launches`) and a
 * ring of recent log-returns, stored in blocks of {@link BLOCK} slots (`returns`, key mint/block) so a
 * trade re-encodes the block it wrote, not the whole ring, and a launch costs ten keys, not a key per slot.
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { MAX_ALERT_EVENTS, round4 } from "../alert.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { timingOf } from "../state/slots.ts";
import { madSigma } from "./mad.ts";

export interface DevDumpOptions {
  /** Only sells within this long after creation count. @defaultValue 600_000 */
  windowMs?: number;
  /** Fraction of the group's peak holding that must be sold. @defaultValue 0.8 */
  sellFraction?: number;
  /** A dump completed this soon after creation is high. @defaultValue 60_000 */
  fastMs?: number;
  /** A sell whose log-return is below −madSigmas·σ_MAD is high. @defaultValue 4 */
  madSigmas?: number;
  /** Fewest recent returns for σ_MAD to be meaningful. @defaultValue 30 */
  minReturns?: number;
  /** Most recent returns kept per mint. @defaultValue 200 */
  maxReturns?: number;
  /** Peak group holdings below this fraction of supply are dust, not a dump. @defaultValue 0.002 */
  minPeakSupplyFraction?: number;
  /** Count wallets the creator funded directly as part of the dev group. @defaultValue true */
  includeFunded?: boolean;
}

export const DEV_DUMP_DEFAULTS = {
  windowMs: 600_000,
  sellFraction: 0.8,
  fastMs: 60_000,
  madSigmas: 4,
  minReturns: 30,
  maxReturns: 200,
  minPeakSupplyFraction: 0.002,
  includeFunded: true as boolean,
} satisfies Required<DevDumpOptions>;

interface Launch {
  createTs: number;
  creator: string;
  totalSupply: number;
  price: number;
  held: number;
  peak: number;
  sold: number;
  sellers: Set<string>;
  /** Returns recorded so far; the latest `maxReturns` are kept, the next one goes to slot count % max. */
  returnCount: number;
  /** The dev group's sells (the latest few): the alert's events. Absent until the group first sells. */
  sells?: string[];
}

/** Ring slots per stored block. */
const BLOCK = 20;

/** A ring block's key in `returns`: mints are base58 addresses, which have no `/`. */
function blockKey(mint: string, block: number): string {
  return `${mint}/${block}`;
}

class DevDump {
  readonly #o: Required<DevDumpOptions>;
  readonly #launches: DurableTable<Launch>;
  readonly #returns: DurableTable<Float64Array>;
  /** Each launch's blocks, as `#returns` holds them (found without building a key). */
  readonly #blocks = new Map<string, Float64Array[]>();

  constructor(options: Required<DevDumpOptions>, tables: Tables) {
    this.#o = options;
    this.#launches = tables.table("launches");
    this.#returns = tables.table("returns");
    for (const [mint, launch] of this.#launches) {
      const blocks = this.#blocksOf(mint);
      const slots = Math.min(launch.returnCount, options.maxReturns);
      for (let start = 0; start < slots; start += BLOCK)
        blocks.push(this.#returns.get(blockKey(mint, start / BLOCK)) as Float64Array);
    }
  }

  #blocksOf(mint: string): Float64Array[] {
    let blocks = this.#blocks.get(mint);
    if (blocks === undefined) {
      blocks = [];
      this.#blocks.set(mint, blocks);
    }
    return blocks;
  }

  /** Writes a ring slot. */
  #record(mint: string, slot: number, value: number): void {
    const blocks = this.#blocksOf(mint);
    const at = Math.floor(slot / BLOCK);
    let block = blocks[at];
    if (block === undefined) {
      block = new Float64Array(Math.min(BLOCK, this.#o.maxReturns - at * BLOCK));
      blocks[at] = block;
      this.#returns.set(blockKey(mint, at), block);
    } else {
      this.#returns.touch(blockKey(mint, at));
    }
    block[slot % BLOCK] = value;
  }

  /** The first `count` slots of a launch's ring, for σ_MAD (on an alert only). */
  #ring(mint: string, count: number): Float64Array {
    const ring = new Float64Array(count);
    const blocks = this.#blocksOf(mint);
    for (let start = 0; start < count; start += BLOCK) {
      ring.set((blocks[start / BLOCK] as Float64Array).subarray(0, Math.min(BLOCK, count - start)), start);
    }
    return ring;
  }

  /** Drops a launch's ring of returns. */
  #dropReturns(mint: string): void {
    const launch = this.#launches.get(mint);
    if (launch === undefined) return;
    const slots = Math.min(launch.returnCount, this.#o.maxReturns);
    for (let start = 0; start < slots; start += BLOCK) this.#returns.delete(blockKey(mint, start / BLOCK));
    this.#blocks.delete(mint);
  }

  #forget(mint: string): void {
    this.#dropReturns(mint);
    this.#launches.delete(mint);
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind === "create") {
      // A mint created again starts a new launch in the old one's place.
      this.#dropReturns(event.mint);
      this.#launches.set(event.mint, {
        createTs: event.ts,
        creator: event.creator,
        totalSupply: event.totalSupply,
        price: event.vTok > 0 ? event.vSol / event.vTok : 0,
        held: 0,
        peak: 0,
        sold: 0,
        sellers: new Set(),
        returnCount: 0,
      });
    } else if (event.kind === "trade") {
      const launch = this.#launches.get(event.mint);
      if (launch === undefined) return;
      if (event.ts - launch.createTs > this.#o.windowMs) {
        this.#forget(event.mint);
        return;
      }
      this.#onTrade(launch, event, ctx);
      this.#launches.touch(event.mint);
    }
  }

  #onTrade(launch: Launch, trade: Trade, ctx: DetectorContext): void {
    const o = this.#o;
    const price = trade.vTokAfter > 0 ? trade.vSolAfter / trade.vTokAfter : launch.price;
    const logReturn = launch.price > 0 && price > 0 ? Math.log(price / launch.price) : 0;
    if (this.#inGroup(launch, trade.trader, ctx) && this.#dumped(launch, trade)) {
      this.#alert(launch, trade, logReturn, ctx);
    }
    // Recorded after the check: σ comes from the returns before the dump, not diluted by it.
    this.#record(trade.mint, launch.returnCount % o.maxReturns, logReturn);
    launch.returnCount++;
    launch.price = price;
  }

  /** Updates the dev group's holdings; true when this sell completes a dump. */
  #dumped(launch: Launch, trade: Trade): boolean {
    if (trade.side === "buy") {
      launch.held += trade.tok;
      if (launch.held > launch.peak) launch.peak = launch.held;
      return false;
    }
    launch.sold += trade.tok;
    launch.held = Math.max(0, launch.held - trade.tok);
    launch.sellers.add(trade.trader);
    launch.sells = [...(launch.sells ?? []), trade.id].slice(-MAX_ALERT_EVENTS);
    if (launch.peak < this.#o.minPeakSupplyFraction * launch.totalSupply) return false;
    return launch.sold >= this.#o.sellFraction * launch.peak;
  }

  #alert(launch: Launch, trade: Trade, logReturn: number, ctx: DetectorContext): void {
    const o = this.#o;
    const count = Math.min(launch.returnCount, o.maxReturns);
    const sigma =
      launch.returnCount >= o.minReturns ? madSigma(this.#ring(trade.mint, count), count) : Number.NaN;
    const age = trade.ts - launch.createTs;
    const outlier = sigma > 0 && logReturn < -o.madSigmas * sigma;
    ctx.emit({
      severity: age <= o.fastMs || outlier ? "high" : "med",
      score: Math.min(1, launch.sold / launch.peak),
      mint: trade.mint,
      key: trade.mint,
      wallets: [...launch.sellers],
      detectedAt: trade.ts,
      triggerId: trade.id,
      timing: timingOf(trade),
      events: launch.sells ?? [],
      evidence: {
        soldOfPeak: round4(launch.sold / launch.peak),
        peakSupplyFraction: round4(launch.peak / launch.totalSupply),
        ageMs: age,
        logReturn: round4(logReturn),
        sigmaMad: Number.isNaN(sigma) ? null : round4(sigma),
        creator: launch.creator,
      },
    });
  }

  #inGroup(launch: Launch, wallet: string, ctx: DetectorContext): boolean {
    if (wallet === launch.creator) return true;
    if (!this.#o.includeFunded) return false;
    return ctx.wallets.get(wallet)?.funders.includes(launch.creator) ?? false;
  }

  prune(nowTs: number): void {
    for (const [mint, launch] of this.#launches) {
      if (nowTs - launch.createTs > this.#o.windowMs) this.#forget(mint);
    }
  }

  size(): number {
    return this.#launches.size;
  }
}

// Explicit type arguments: inferred from the defaults, `includeFunded` would be the literal `true`.
export const devDump = defineDetector<DevDumpOptions, "dev_dump">({
  name: "dev_dump",
  analyzer: "pattern",
  defaults: DEV_DUMP_DEFAULTS,
  create: (options, tables) => new DevDump(options, tables),
});

/**
 * W5 creator_reputation: on TokenCreated, the creator's record speaks against it: ≥ 3 prior
 * launches with a dev-dump rate ≥ 0.5 (the serial rugger), or ≥ 10 launches in 24 h none of which
 * succeeded (the launch spammer) ([MAR], [CON]).
 *
 * Dev dumps are judged here, from the trades this analyzer sees (no P2 findings needed): a launch is
 * dumped when its creator sells ≥ `dumpFraction` = 80% of its peak holding within `dumpWindowMs` =
 * 10 min of creation (P2's rule for the creator alone); a launch without a dev buy worth
 * `minDevSupplyFraction` of supply cannot be dumped and counts as not dumped. A launch counts once its
 * outcome is known: dumped, or `dumpWindowMs` old.
 *
 * Sharpened second rule (docs/detection.md): "no graduation" alone flags every prolific organic
 * creator, since graduation is rare (0.63% on mainnet [MAR], ~3% in the generator: ten launches
 * without one is the norm). A launch succeeds when it graduates or draws `successTrades` = 30 trades
 * (28% of mainnet tokens reach 30 swaps [MAR], ~70% of generated ones); the rule needs ≥ 10 launches
 * in 24 h, each `dumpWindowMs` old, and none a success. Zipf's top creators, whose launches are
 * ordinary, always have a success among ten; organic creators never dump (they hold or sell slowly),
 * so neither rule can flag them by construction. Set `successTrades` to 0 for graduation only.
 *
 * State: per creator the last `maxLaunches` launches within `historyMs` (at most `maxCreators`
 * records, least recent evicted first); per launch younger than `watchMs`, its dev holding and trade
 * count. O(1) per trade; O(launches per creator) per create.
 *
 * Durable tables: `creators` (each record with its launches), `watched` (mint → its creator: a launch is
 * stored once, in its creator's record) and `meta` (the next sweeps).
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { round4 } from "../alert.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, TokenCreated, Trade } from "../schema.ts";
import { timingOf } from "../state/slots.ts";
import { Scalars } from "../state/tables.ts";

export interface CreatorReputationOptions {
  /** Launches with a known dump outcome needed before the dump rate counts. @defaultValue 3 */
  minPriorLaunches?: number;
  /** @defaultValue 0.5 */
  dumpRate?: number;
  /** A dump rate at or above this is high. @defaultValue 0.8 */
  highDumpRate?: number;
  /** The creator sells this fraction of its peak... @defaultValue 0.8 */
  dumpFraction?: number;
  /** ...within this long of creation. @defaultValue 600_000 */
  dumpWindowMs?: number;
  /** A dev peak below this fraction of supply is no dev buy. @defaultValue 0.002 */
  minDevSupplyFraction?: number;
  /** Launches in `spamWindowMs` without a success. @defaultValue 10 */
  spamLaunches?: number;
  /** @defaultValue 86_400_000 */
  spamWindowMs?: number;
  /** Trades that make a launch a success (0: graduation only). @defaultValue 30 */
  successTrades?: number;
  /** Real SOL in the curve at graduation, lamports. @defaultValue 85_000_000_000 */
  graduationLamports?: number;
  /** A launch's trades are watched this long after creation. @defaultValue 3_600_000 */
  watchMs?: number;
  /** Creator records are kept this long after their latest launch. @defaultValue 604_800_000 */
  historyMs?: number;
  /** Launches remembered per creator. @defaultValue 32 */
  maxLaunches?: number;
  /** Creator records kept at most; the least recently launching go first. @defaultValue 200_000 */
  maxCreators?: number;
}

export const CREATOR_REPUTATION_DEFAULTS = {
  minPriorLaunches: 3,
  dumpRate: 0.5,
  highDumpRate: 0.8,
  dumpFraction: 0.8,
  dumpWindowMs: 600_000,
  minDevSupplyFraction: 0.002,
  spamLaunches: 10,
  spamWindowMs: 86_400_000,
  successTrades: 30,
  graduationLamports: 85_000_000_000,
  watchMs: 3_600_000,
  historyMs: 7 * 86_400_000,
  maxLaunches: 32,
  maxCreators: 200_000,
} satisfies Required<CreatorReputationOptions>;

interface Launch {
  mint: string;
  ts: number;
  creator: string;
  vSol0: number;
  totalSupply: number;
  devHeld: number;
  devPeak: number;
  devSold: number;
  dumped: boolean;
  trades: number;
  success: boolean;
}

interface Creator {
  launches: Launch[];
  lastTs: number;
}

/** A launch still watched: its creator's record holds it. */
interface Watched {
  creator: string;
  ts: number;
}

class CreatorReputation {
  readonly #o: Required<CreatorReputationOptions>;
  readonly #creators: DurableTable<Creator>;
  /** Launches still watched, by mint. */
  readonly #watched: DurableTable<Watched>;
  readonly #meta: Scalars<{ nextWatchSweep: number; nextCreatorSweep: number }>;

  constructor(options: Required<CreatorReputationOptions>, tables: Tables) {
    this.#o = options;
    this.#creators = tables.table("creators");
    this.#watched = tables.table("watched");
    this.#meta = new Scalars(tables, "meta", { nextWatchSweep: 0, nextCreatorSweep: 0 });
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind === "trade") {
      const watched = this.#watched.get(event.mint);
      if (watched !== undefined) this.#onWatchedTrade(watched.creator, event);
    } else if (event.kind === "create") {
      this.#onCreate(event, ctx);
    }
  }

  /** A launch whose creator's record is gone, or that it no longer keeps, has nothing left to update. */
  #onWatchedTrade(wallet: string, trade: Trade): void {
    const launches = this.#creators.get(wallet)?.launches;
    if (launches === undefined) return;
    for (let i = launches.length - 1; i >= 0; i--) {
      if (launches[i]!.mint !== trade.mint) continue;
      this.#onTrade(launches[i]!, trade);
      this.#creators.touch(wallet);
      return;
    }
  }

  #onTrade(launch: Launch, trade: Trade): void {
    const o = this.#o;
    launch.trades++;
    if (o.successTrades > 0 && launch.trades >= o.successTrades) launch.success = true;
    if (trade.vSolAfter - launch.vSol0 >= o.graduationLamports) launch.success = true;
    if (trade.trader !== launch.creator || trade.ts - launch.ts > o.dumpWindowMs) return;
    if (trade.side === "buy") {
      launch.devHeld += trade.tok;
      if (launch.devHeld > launch.devPeak) launch.devPeak = launch.devHeld;
      return;
    }
    launch.devSold += trade.tok;
    launch.devHeld = Math.max(0, launch.devHeld - trade.tok);
    if (
      launch.devPeak >= o.minDevSupplyFraction * launch.totalSupply &&
      launch.devSold >= o.dumpFraction * launch.devPeak
    ) {
      launch.dumped = true;
    }
  }

  #onCreate(event: TokenCreated, ctx: DetectorContext): void {
    const o = this.#o;
    let creator = this.#creators.get(event.creator);
    if (creator === undefined) {
      creator = { launches: [], lastTs: event.ts };
    } else {
      // Re-inserted so the map's order is launch recency: eviction takes the front.
      this.#creators.delete(event.creator);
    }
    this.#creators.set(event.creator, creator);
    for (const oldest of this.#creators.keys()) {
      if (this.#creators.size <= o.maxCreators) break;
      this.#creators.delete(oldest);
    }
    // The record before this launch.
    let decided = 0;
    let dumps = 0;
    let spamFailures = 0;
    let spamSuccesses = 0;
    for (const l of creator.launches) {
      const age = event.ts - l.ts;
      if (age > o.historyMs) continue;
      const known = l.dumped || age >= o.dumpWindowMs;
      if (known) decided++;
      if (l.dumped) dumps++;
      if (age <= o.spamWindowMs) {
        if (l.success) spamSuccesses++;
        else if (age >= o.dumpWindowMs) spamFailures++;
      }
    }
    const launch: Launch = {
      mint: event.mint,
      ts: event.ts,
      creator: event.creator,
      vSol0: event.vSol,
      totalSupply: event.totalSupply,
      devHeld: 0,
      devPeak: 0,
      devSold: 0,
      dumped: false,
      trades: 0,
      success: false,
    };
    creator.launches.push(launch);
    if (creator.launches.length > o.maxLaunches) creator.launches.shift();
    creator.lastTs = event.ts;
    this.#watched.set(event.mint, { creator: event.creator, ts: event.ts });

    const rate = decided > 0 ? dumps / decided : 0;
    const rugger = decided >= o.minPriorLaunches && rate >= o.dumpRate;
    const spammer = spamFailures >= o.spamLaunches && spamSuccesses === 0;
    if (!rugger && !spammer) return;
    ctx.wallets.flag(event.creator);
    ctx.emit({
      severity: rugger && rate >= o.highDumpRate ? "high" : "med",
      score: Math.min(1, Math.max(rate, spammer ? spamFailures / (2 * o.spamLaunches) : 0)),
      mint: event.mint,
      key: event.creator,
      wallets: [event.creator],
      detectedAt: event.ts,
      triggerId: event.id,
      timing: timingOf(event),
      evidence: {
        rule: rugger ? "dev_dumps" : "launch_spam",
        priorLaunches: decided,
        devDumps: dumps,
        dumpRate: round4(rate),
        launches24h: spamFailures + spamSuccesses,
        successes24h: spamSuccesses,
      },
    });
  }

  /** Sweeps every tenth of the watch horizon (launches) and hourly (creator records, kept days). */
  prune(nowTs: number): void {
    const o = this.#o;
    const meta = this.#meta.value;
    if (nowTs < meta.nextWatchSweep) return;
    meta.nextWatchSweep = nowTs + o.watchMs / 10;
    this.#meta.changed();
    for (const [mint, watched] of this.#watched) {
      if (nowTs - watched.ts > o.watchMs) this.#watched.delete(mint);
    }
    if (nowTs < meta.nextCreatorSweep) return;
    meta.nextCreatorSweep = nowTs + 3_600_000;
    for (const [wallet, creator] of this.#creators) {
      if (nowTs - creator.lastTs > o.historyMs) this.#creators.delete(wallet);
    }
  }

  size(): number {
    return this.#creators.size + this.#watched.size;
  }
}

export const creatorReputation = defineDetector({
  name: "creator_reputation",
  analyzer: "wallet",
  defaults: CREATOR_REPUTATION_DEFAULTS,
  create: (options, tables) => new CreatorReputation(options, tables),
});

/**
 * Organic background traffic (DETECTORS.md section C, calibrated on [MAR]): Poisson launches by
 * Zipf-distributed creators, per-mint trade processes whose rate decays as attractiveness × e^(−age/τ),
 * Zipf-distributed traders funded by exchange hubs ≥ 1 h before their first trade, short-holding bots,
 * creators that hold or sell slowly, and aged sniper bots hitting 15% of launches: the hard
 * negatives every detector must stay quiet on.
 *
 * Aged wallets (exchange hubs, sniper bots, early traders) get a history prefix dated before t0, so
 * the analyzers can observe their age.
 */
import type { TruthRecord } from "../truth.ts";
import { type Rng, Zipf } from "./prng.ts";
import { type SimMint, Stream, type World } from "./world.ts";

export interface OrganicOptions {
  /** @defaultValue 0.25 */
  launchesPerSec?: number;
  /** @defaultValue 20_000 */
  creators?: number;
  /** @defaultValue 1.2 */
  creatorZipf?: number;
  /** Share of launches with a dev buy in the create tx. @defaultValue 0.7 */
  devBuyShare?: number;
  /** @defaultValue 0.5 */
  devBuyMedianSol?: number;
  /** Pareto shape of mint attractiveness. @defaultValue 1.1 */
  attractivenessAlpha?: number;
  /** @defaultValue 25 */
  attractivenessCap?: number;
  /** Median decay time of a mint's trade rate. @defaultValue 120_000 */
  tauMedianMs?: number;
  /** @defaultValue 0.8 */
  tauSigma?: number;
  /** Initial trades/s per unit of attractiveness. @defaultValue 0.2 */
  tradeRate?: number;
  /** People need time to notice a launch: no organic trade before this... @defaultValue 1_500 */
  discoveryMinMs?: number;
  /** ...plus an exponential delay with this mean. @defaultValue 3_000 */
  discoveryMeanMs?: number;
  /** @defaultValue 250_000 */
  traders?: number;
  /** @defaultValue 1.05 */
  traderZipf?: number;
  /** @defaultValue 0.03 */
  botShare?: number;
  /** @defaultValue 0.15 */
  buyMedianSol?: number;
  /** @defaultValue 1.3 */
  buySigma?: number;
  /** @defaultValue 25 */
  exchangeHubs?: number;
  /** Top-ranked traders funded in the prefix, before t0. @defaultValue 3_000 */
  prefundedTraders?: number;
  /** @defaultValue 40 */
  agedSnipers?: number;
  /** @defaultValue 0.15 */
  sniperLaunchShare?: number;
  /** A trader's funding precedes its first trade by at least this. @defaultValue 3_600_000 */
  minFundingAgeMs?: number;
}

export const ORGANIC_DEFAULTS = {
  launchesPerSec: 0.25,
  creators: 20_000,
  creatorZipf: 1.2,
  devBuyShare: 0.7,
  devBuyMedianSol: 0.5,
  attractivenessAlpha: 1.1,
  attractivenessCap: 25,
  tauMedianMs: 120_000,
  tauSigma: 0.8,
  tradeRate: 0.2,
  discoveryMinMs: 1_500,
  discoveryMeanMs: 3_000,
  traders: 250_000,
  traderZipf: 1.05,
  botShare: 0.03,
  buyMedianSol: 0.15,
  buySigma: 1.3,
  exchangeHubs: 25,
  prefundedTraders: 3_000,
  agedSnipers: 40,
  sniperLaunchShare: 0.15,
  minFundingAgeMs: 3_600_000,
} satisfies Required<OrganicOptions>;

const SOL = 1e9;
/** Top-ranked creators listed as a decoy in the truth. */
const PROLIFIC_CREATORS = 50;
const MAX_BUYS_PER_MINT = 2;
const MAX_SELLS_PER_MINT = 2;
/** Nobody but a bot sells within seconds of buying. */
const MIN_HOLD_MS = 5_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface OrgMint {
  sim: SimMint;
  r0: number;
  tauMs: number;
  holders: Map<number, Holding>;
}

/** One trader's dealings with one mint: people enter a coin once or twice and leave it. */
interface Holding {
  held: number;
  buys: number;
  sells: number;
  lastBuyTs: number;
}

export class Organic {
  readonly hubs: string[] = [];
  readonly bots: string[] = [];
  readonly traderZipf: Zipf;
  launches = 0;
  readonly #o: Required<OrganicOptions>;
  readonly #world: World;
  readonly #end: number;
  readonly #launch: Stream;
  readonly #trade: Stream;
  readonly #fund: Stream;
  readonly #creatorZipf: Zipf;
  readonly #traderAddr: string[];
  readonly #fundedAt: Float64Array;

  constructor(world: World, options: Required<OrganicOptions>, end: number) {
    this.#o = options;
    this.#world = world;
    this.#end = end;
    this.#launch = new Stream(world.seed, "organic:launch");
    this.#trade = new Stream(world.seed, "organic:trade");
    this.#fund = new Stream(world.seed, "organic:fund");
    this.traderZipf = new Zipf(options.traders, options.traderZipf);
    this.#creatorZipf = new Zipf(options.creators, options.creatorZipf);
    this.#fundedAt = new Float64Array(options.traders);
    // Dense, not holey: a sparse 250k-slot array falls back to slow dictionary mode.
    this.#traderAddr = new Array<string>(options.traders).fill("");
    for (let i = 0; i < options.exchangeHubs; i++) this.hubs.push(world.address(`org:hub:${i}`));
    for (let i = 0; i < options.agedSnipers; i++) this.bots.push(world.address(`org:bot:${i}`));
  }

  traderAddress(rank: number): string {
    let address = this.#traderAddr[rank]!;
    if (address === "") {
      address = this.#world.address(`org:trader:${rank}`);
      this.#traderAddr[rank] = address;
    }
    return address;
  }

  /** Decoy truth: organic actors that look suspicious to a naive detector and must stay quiet. */
  truth(): TruthRecord[] {
    const common = { kind: "decoy" as const, variant: "canonical" as const, detectors: [], mints: [] };
    const span = { tStart: this.#world.t0, tOnset: this.#world.t0, tEnd: this.#end };
    // Zipf's busiest creators launch tens to hundreds of ordinary tokens a day: W5 must leave them be.
    const prolific = Array.from({ length: Math.min(PROLIFIC_CREATORS, this.#o.creators) }, (_, rank) =>
      this.#world.address(`org:creator:${rank}`),
    );
    return [
      { id: "organic/AGED_SNIPERS", type: "AGED_SNIPERS", ...common, wallets: [...this.bots], ...span },
      { id: "organic/EXCHANGE_HUBS", type: "EXCHANGE_HUBS", ...common, wallets: [...this.hubs], ...span },
      { id: "organic/PROLIFIC_CREATORS", type: "PROLIFIC_CREATORS", ...common, wallets: prolific, ...span },
    ];
  }

  start(): void {
    const w = this.#world;
    const prefix = new Stream(w.seed, "organic:prefix");
    const rng = prefix.rng;
    this.hubs.forEach((hub, h) => {
      for (
        let t = w.t0 - 9 * DAY + rng.uniform(0, 6 * HOUR), i = 0;
        t < w.t0;
        t += rng.uniform(4, 8) * HOUR, i++
      ) {
        const depositor = w.address(`org:depositor:${h}:${i}`);
        const amount = rng.lognormal(20 * SOL, 1);
        w.at(t, () => w.transfer(prefix, depositor, hub, amount));
      }
    });
    // Regular top-ups keep the bots' history unbroken by the analyzers' 24 h idle prune.
    for (const bot of this.bots) {
      for (let t = w.t0 - 10 * DAY + rng.uniform(0, 8 * HOUR); t < w.t0; t += rng.uniform(6, 10) * HOUR) {
        const hub = rng.pick(this.hubs);
        const amount = rng.lognormal(3 * SOL, 0.5);
        w.at(t, () => w.transfer(prefix, hub, bot, amount));
      }
    }
    const funded = Math.min(this.#o.prefundedTraders, this.#o.traders);
    for (let r = 0; r < funded; r++) {
      const t = w.t0 - rng.uniform(this.#o.minFundingAgeMs, 6 * HOUR);
      this.#fundedAt[r] = t;
      w.at(t, () => this.#fundNow(r, prefix));
    }
    w.at(w.t0 + this.#launch.rng.exp(1000 / this.#o.launchesPerSec), () => this.#onLaunch());
  }

  #fundNow(rank: number, stream: Stream): void {
    const rng = stream.rng;
    this.#world.transfer(stream, rng.pick(this.hubs), this.traderAddress(rank), withdrawalSol(rng) * SOL);
  }

  #onLaunch(): void {
    const w = this.#world;
    const o = this.#o;
    const rng = this.#launch.rng;
    const index = this.launches++;
    const creator = w.address(`org:creator:${this.#creatorZipf.draw(rng)}`);
    const { mint: sim, signature } = w.create(
      this.#launch,
      w.address(`org:mint:${index}`),
      creator,
      tokenName(rng),
    );
    let devTok = 0;
    if (rng.chance(o.devBuyShare)) {
      const sol = clamp(rng.lognormal(o.devBuyMedianSol, 0.8), 0.01, 10);
      devTok = w.buy(this.#launch, sim, creator, sol * SOL, { signature, ix: 1 });
    }
    if (devTok > 0) this.#creatorPlan(sim, creator, devTok);
    if (rng.chance(o.sniperLaunchShare)) this.#snipe(sim);
    const attractiveness = Math.min(o.attractivenessCap, rng.pareto(o.attractivenessAlpha));
    const mint: OrgMint = {
      sim,
      r0: o.tradeRate * attractiveness,
      tauMs: rng.lognormal(o.tauMedianMs, o.tauSigma),
      holders: new Map(),
    };
    this.#nextTrade(mint, o.discoveryMinMs + rng.exp(o.discoveryMeanMs));
    const next = w.now + rng.exp(1000 / o.launchesPerSec);
    if (next < this.#end) w.at(next, () => this.#onLaunch());
  }

  /** Creators hold, sell part late, or sell slowly: never ≥ 80% within 10 min (that is a dev dump). */
  #creatorPlan(sim: SimMint, creator: string, tok: number): void {
    const w = this.#world;
    const rng = this.#launch.rng;
    const u = rng.next();
    const sells: [number, number][] = [];
    if (u < 0.3) sells.push([rng.uniform(12, 60), rng.uniform(0.3, 0.6)]);
    else if (u < 0.55)
      for (const m of [rng.uniform(3, 5), rng.uniform(8, 9.5), rng.uniform(13, 16), rng.uniform(20, 30)])
        sells.push([m, 0.25]);
    for (const [minutes, fraction] of sells) {
      w.at(sim.createdTs + minutes * 60_000, () => w.sell(this.#launch, sim, creator, tok * fraction));
    }
  }

  #snipe(sim: SimMint): void {
    const w = this.#world;
    const rng = this.#launch.rng;
    const n = rng.int(1, 3);
    for (const bot of rng.shuffle(this.bots).slice(0, n)) {
      const at = sim.createdTs + rng.int(1, 3) * 400 + rng.uniform(0, 50);
      const sol = clamp(rng.lognormal(0.4, 0.6), 0.05, 3);
      const holdMs = rng.uniform(10_000, 90_000);
      w.at(at, () => {
        const tok = w.buy(this.#launch, sim, bot, sol * SOL);
        if (tok > 0) w.at(w.now + holdMs, () => w.sell(this.#launch, sim, bot, tok));
      });
    }
  }

  /** Inverts the integrated decaying rate r0·e^(−age/τ) to draw the next trade time exactly. */
  #nextTrade(mint: OrgMint, fromAgeMs: number): void {
    const rng = this.#trade.rng;
    const tauS = mint.tauMs / 1000;
    const target = Math.exp(-fromAgeMs / mint.tauMs) - rng.exp(1) / (mint.r0 * tauS);
    if (target <= 0) return;
    const age = -mint.tauMs * Math.log(target);
    const ts = mint.sim.createdTs + age;
    if (ts >= this.#end) return;
    this.#world.at(ts, () => {
      if (mint.sim.curve.graduated) return;
      this.#onTrade(mint);
      this.#nextTrade(mint, age);
    });
  }

  #onTrade(mint: OrgMint): void {
    const w = this.#world;
    const o = this.#o;
    const rng = this.#trade.rng;
    const rank = this.#pickTrader();
    const trader = this.traderAddress(rank);
    const h = mint.holders.get(rank) ?? { held: 0, buys: 0, sells: 0, lastBuyTs: 0 };
    if (isBot(rank, o.botShare)) {
      // A bot scalps each mint once: in, out after seconds.
      if (h.buys > 0) return;
      h.buys++;
      mint.holders.set(rank, h);
      const tok = w.buy(this.#trade, mint.sim, trader, rng.uniform(0.01, 0.05) * SOL);
      if (tok > 0) w.at(w.now + rng.uniform(2_000, 30_000), () => w.sell(this.#trade, mint.sim, trader, tok));
      return;
    }
    const canSell = h.held > 0 && h.sells < MAX_SELLS_PER_MINT && w.now - h.lastBuyTs >= MIN_HOLD_MS;
    const canBuy = h.buys < MAX_BUYS_PER_MINT && !(h.sells > 0 && h.held === 0);
    if (canSell && (!canBuy || rng.chance(0.45))) {
      const last = h.sells === MAX_SELLS_PER_MINT - 1 || rng.chance(0.4);
      const { tok } = w.sell(this.#trade, mint.sim, trader, last ? h.held : h.held * rng.uniform(0.3, 0.9));
      h.held -= tok;
      h.sells++;
    } else if (canBuy) {
      const sol = clamp(rng.lognormal(o.buyMedianSol, o.buySigma), 0.005, 30);
      h.held += w.buy(this.#trade, mint.sim, trader, sol * SOL);
      h.buys++;
      h.lastBuyTs = w.now;
    } else {
      return;
    }
    mint.holders.set(rank, h);
  }

  /** A Zipf-ranked trader whose funding is old enough; unfunded picks get funded now, for later. */
  #pickTrader(): number {
    const now = this.#world.now;
    for (let attempt = 0; attempt < 8; attempt++) {
      const rank = this.traderZipf.draw(this.#trade.rng);
      const fundedAt = this.#fundedAt[rank]!;
      if (fundedAt === 0) {
        this.#fundedAt[rank] = now;
        this.#fundNow(rank, this.#fund);
      } else if (now - fundedAt >= this.#o.minFundingAgeMs) {
        return rank;
      }
    }
    return 0;
  }
}

/** What people withdraw from an exchange: their own choice, often rounded to one or two digits. */
export function withdrawalSol(rng: Rng): number {
  const sol = clamp(rng.lognormal(1.5, 1), 0.05, 200);
  const u = rng.next();
  const digits = u < 0.1 ? 1 : u < 0.35 ? 2 : 0;
  if (digits === 0) return sol;
  const unit = 10 ** (Math.floor(Math.log10(sol)) - digits + 1);
  return Math.round(sol / unit) * unit;
}

function isBot(rank: number, share: number): boolean {
  return (Math.imul(rank + 1, 2654435761) >>> 0) / 4294967296 < share;
}

export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

const SYLLABLES = ["pe", "po", "mo", "on", "ca", "ti", "do", "ge", "wi", "fu", "ra", "zo", "ku", "mi", "ba"];

export function tokenName(rng: { int(lo: number, hi: number): number }): string {
  let name = "";
  for (let i = rng.int(2, 3); i > 0; i--) name += SYLLABLES[rng.int(0, SYLLABLES.length - 1)];
  return name;
}

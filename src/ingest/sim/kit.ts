/**
 * The scripting kit planted scenarios are written with. A scenario plans its whole timeline up
 * front through the kit (funding, launches, buys, sells, organic-looking followers); the kit buffers
 * the tasks so the generator can drop an instance that would not finish inside the run, and records
 * the first and last planned times for the truth record.
 */
import type { Organic } from "./organic.ts";
import { clamp, tokenName } from "./organic.ts";
import type { Rng } from "./prng.ts";
import type { SimMint, Stream, World } from "./world.ts";

const SOL = 1e9;
const SLOT_MS = 400;

export interface MintHandle {
  address: string;
  sim: SimMint | undefined;
  held: Map<string, number>;
  /** Lamports each wallet received from its sells, for scripted sweeps. */
  proceeds: Map<string, number>;
  /** Tokens of each wallet's latest buy. */
  lastBuy: Map<string, number>;
}

export class Kit {
  first = Number.POSITIVE_INFINITY;
  last = Number.NEGATIVE_INFINITY;
  readonly rng: Rng;
  readonly #world: World;
  readonly #stream: Stream;
  readonly #tag: string;
  readonly #organic: Organic;
  readonly #tasks: [number, () => void][] = [];
  #mints = 0;

  constructor(world: World, stream: Stream, tag: string, organic: Organic) {
    this.#world = world;
    this.#stream = stream;
    this.#tag = tag;
    this.#organic = organic;
    this.rng = stream.rng;
  }

  /** A wallet owned by this scenario instance (address derived from a hashed tag). */
  wallet(role: string): string {
    return this.#world.address(`${this.#tag}:${role}`);
  }

  /** One of the organic exchange hubs, the usual first funder of everyone. */
  exchange(): string {
    return this.rng.pick(this.#organic.hubs);
  }

  /** Start of the slot `delta` slots after the one containing `ts`. */
  slotStart(ts: number, delta: number): number {
    const t0 = this.#world.t0;
    return t0 + (Math.floor((ts - t0) / SLOT_MS) + delta) * SLOT_MS;
  }

  at(ts: number, run: () => void): void {
    if (ts < this.first) this.first = ts;
    if (ts > this.last) this.last = ts;
    this.#tasks.push([ts, run]);
  }

  commit(): void {
    for (const [ts, run] of this.#tasks) this.#world.at(ts, run);
    this.#tasks.length = 0;
  }

  fund(ts: number, from: string, to: string, sol: number): void {
    this.at(ts, () => this.#world.transfer(this.#stream, from, to, sol * SOL));
  }

  /** Creates a mint at `ts`; the dev buy and `bundle` buys ride in the create transaction. */
  launch(ts: number, creator: string, devSol: number, bundle: [string, number][] = []): MintHandle {
    const handle: MintHandle = {
      address: this.wallet(`mint:${this.#mints++}`),
      sim: undefined,
      held: new Map(),
      proceeds: new Map(),
      lastBuy: new Map(),
    };
    const name = tokenName(this.rng);
    this.at(ts, () => {
      const w = this.#world;
      const { mint, signature } = w.create(this.#stream, handle.address, creator, name);
      handle.sim = mint;
      let ix = 1;
      for (const [wallet, sol] of devSol > 0 ? [[creator, devSol] as [string, number], ...bundle] : bundle) {
        const tok = w.buy(this.#stream, mint, wallet, sol * SOL, { signature, ix: ix++ });
        handle.held.set(wallet, (handle.held.get(wallet) ?? 0) + tok);
      }
    });
    return handle;
  }

  buy(ts: number, h: MintHandle, wallet: string, sol: number): void {
    this.at(ts, () => {
      if (h.sim === undefined) return;
      const tok = this.#world.buy(this.#stream, h.sim, wallet, sol * SOL);
      h.held.set(wallet, (h.held.get(wallet) ?? 0) + tok);
      h.lastBuy.set(wallet, tok);
    });
  }

  /** Sells `fraction` of what `wallet` holds at that moment (or, with `ofLastBuy`, of its last buy). */
  sell(ts: number, h: MintHandle, wallet: string, fraction: number, ofLastBuy = false): void {
    this.at(ts, () => {
      const held = h.held.get(wallet) ?? 0;
      if (h.sim === undefined || held <= 0) return;
      const base = ofLastBuy ? Math.min(held, h.lastBuy.get(wallet) ?? 0) : held;
      const amount = fraction >= 1 && !ofLastBuy ? held : base * fraction;
      const { tok, sol } = this.#world.sell(this.#stream, h.sim, wallet, amount);
      h.held.set(wallet, held - tok);
      h.proceeds.set(wallet, (h.proceeds.get(wallet) ?? 0) + sol);
    });
  }

  /** Sends `fraction` of what `from` got from its sells on `h` (known only at run time) to `to`. */
  sweep(ts: number, h: MintHandle, from: string, to: string, fraction: number): void {
    this.at(ts, () => {
      const lamports = (h.proceeds.get(from) ?? 0) * fraction;
      if (lamports > 0) this.#world.transfer(this.#stream, from, to, lamports);
    });
  }

  /** Moves all of `from`'s tokens of `h` to `to` (no trade: the evasive half of a two-wallet wash). */
  moveTokens(ts: number, h: MintHandle, from: string, to: string): void {
    this.at(ts, () => {
      const held = h.held.get(from) ?? 0;
      if (h.sim === undefined || held <= 0) return;
      this.#world.moveTokens(this.#stream, h.sim, from, to, held);
      h.held.set(from, 0);
      h.held.set(to, (h.held.get(to) ?? 0) + held);
    });
  }

  /** Distinct organic-looking buyers (drawn from the organic population); a third sell later. */
  followers(h: MintHandle, from: number, to: number, count: number): void {
    const ranks = new Set<number>();
    while (ranks.size < count) ranks.add(this.#organic.traderZipf.draw(this.rng));
    for (const rank of ranks) {
      const trader = this.#organic.traderAddress(rank);
      const at = this.rng.uniform(from, to);
      this.buy(at, h, trader, clamp(this.rng.lognormal(0.15, 1), 0.005, 5));
      if (this.rng.chance(1 / 3)) this.sell(at + this.rng.uniform(30_000, 900_000), h, trader, 1);
    }
  }
}

/**
 * The simulated chain: a clock, the discrete-event queue, and the functions that turn scripted
 * actions into canonical events (creates with their bundled buys, trades on each mint's curve,
 * SOL transfers). Events are stamped with the running task's time, so the output is ordered by ts.
 *
 * Every actor writes through its own {@link Stream}: signatures are derived from (seed, stream name,
 * counter), never from a global counter, so adding a stream never changes another's events.
 */
import { PUMP_TOTAL_SUPPLY } from "../../detection/chain.ts";
import type { ChainEvent, TokenCreated, Trade, Transfer } from "../../detection/schema.ts";
import { Curve } from "./curve.ts";
import { TaskHeap } from "./heap.ts";
import { Rng } from "./prng.ts";

const SLOT_MS = 400;
/** Slot number at t0: any plausible mainnet slot; only differences matter to the detectors. */
export const SLOT_AT_T0 = 370_000_000;

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Six base58 digits of a 32-bit word (58^6 > 2^32). */
function base58Word(word: number): string {
  let out = "";
  let v = word >>> 0;
  for (let i = 0; i < 6; i++) {
    out += B58[v % 58];
    v = Math.floor(v / 58);
  }
  return out;
}

/** A deterministic, address-looking string for a tag (no label leaks: the tag is hashed). */
export function addressFor(seed: number, tag: string): string {
  let out = "";
  for (let i = 0; i < 5; i++) out += base58Word(Bun.hash.murmur32v3(tag, (seed + i * 0x9e3779b9) >>> 0));
  return out;
}

export class Stream {
  readonly rng: Rng;
  /** Hash of (seed, name): unique per stream, and hides the name (scenario labels stay out). */
  readonly #prefix: string;
  #n = 0;

  constructor(seed: number, name: string) {
    this.rng = new Rng(seed, name);
    const s = BigInt(seed >>> 0);
    this.#prefix =
      Bun.hash.wyhash(name, s).toString(36).padStart(13, "0") + Bun.hash.wyhash(name, s + 1n).toString(36);
  }

  /** Unique per stream and counter; cheap, since it runs once per event. */
  signature(): string {
    return this.#prefix + (this.#n++).toString(36).padStart(6, "0");
  }
}

export interface SimMint {
  address: string;
  creator: string;
  curve: Curve;
  createdTs: number;
}

export class World {
  readonly heap = new TaskHeap();
  readonly out: ChainEvent[] = [];
  readonly seed: number;
  readonly t0: number;
  now: number;

  constructor(seed: number, t0: number) {
    this.seed = seed;
    this.t0 = t0;
    this.now = t0;
  }

  at(ts: number, run: () => void): void {
    this.heap.push(Math.round(ts), run);
  }

  address(tag: string): string {
    return addressFor(this.seed, tag);
  }

  #base(signature: string, ix: number) {
    return {
      v: 1 as const,
      id: `${signature}:${ix}`,
      signature,
      ix,
      slot: SLOT_AT_T0 + Math.floor((this.now - this.t0) / SLOT_MS),
      ts: this.now,
      tsSrc: "sim" as const,
      src: "sim" as const,
    };
  }

  /** Emits a TokenCreated at ix 0; returns the mint and the create signature for bundled buys. */
  create(stream: Stream, mint: string, creator: string, name: string): { mint: SimMint; signature: string } {
    const signature = stream.signature();
    const curve = new Curve();
    const event: TokenCreated = {
      ...this.#base(signature, 0),
      kind: "create",
      mint,
      creator,
      payer: creator,
      bondingCurve: this.address(`curve:${mint}`),
      name,
      symbol: name.slice(0, 4).toUpperCase(),
      uri: `https://ipfs.invalid/${mint.slice(0, 12)}`,
      vSol: curve.vSol,
      vTok: curve.vTok,
      totalSupply: PUMP_TOTAL_SUPPLY,
    };
    this.out.push(event);
    return { mint: { address: mint, creator, curve, createdTs: this.now }, signature };
  }

  /** Buys on the curve; returns the tokens bought (0 when the curve is sold out or graduated). */
  buy(
    stream: Stream,
    mint: SimMint,
    trader: string,
    lamports: number,
    inTx?: { signature: string; ix: number },
  ): number {
    if (mint.curve.graduated) return 0;
    const { sol, tok } = mint.curve.buy(Math.max(1, Math.round(lamports)));
    if (tok === 0) return 0;
    this.#trade(stream, mint, trader, "buy", sol, tok, inTx);
    return tok;
  }

  /** Sells `tok` tokens; returns the tokens sold and the lamports received. */
  sell(stream: Stream, mint: SimMint, trader: string, tok: number): { tok: number; sol: number } {
    const amount = Math.floor(tok);
    if (amount <= 0) return { tok: 0, sol: 0 };
    const { sol } = mint.curve.sell(amount);
    this.#trade(stream, mint, trader, "sell", sol, amount, undefined);
    return { tok: amount, sol };
  }

  /** Moves tokens of `mint` between wallets (a plain SPL transfer, no trade). */
  moveTokens(stream: Stream, mint: SimMint, from: string, to: string, tok: number): void {
    const event: Transfer = {
      ...this.#base(stream.signature(), 0),
      kind: "transfer",
      asset: mint.address,
      from,
      to,
      amount: Math.floor(tok),
      decimals: 6,
    };
    this.out.push(event);
  }

  #trade(
    stream: Stream,
    mint: SimMint,
    trader: string,
    side: "buy" | "sell",
    sol: number,
    tok: number,
    inTx: { signature: string; ix: number } | undefined,
  ): void {
    const event: Trade = {
      ...this.#base(inTx?.signature ?? stream.signature(), inTx?.ix ?? 0),
      kind: "trade",
      mint: mint.address,
      trader,
      side,
      sol,
      solDerived: false,
      tok,
      vSolAfter: mint.curve.vSol,
      vTokAfter: mint.curve.vTok,
      inCreateTx: inTx !== undefined,
      pool: "pump",
    };
    this.out.push(event);
  }

  transfer(stream: Stream, from: string, to: string, lamports: number): void {
    const event: Transfer = {
      ...this.#base(stream.signature(), 0),
      kind: "transfer",
      asset: "SOL",
      from,
      to,
      amount: Math.max(1, Math.round(lamports)),
      decimals: 9,
    };
    this.out.push(event);
  }
}

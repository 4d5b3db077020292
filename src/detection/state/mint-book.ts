/**
 * Per-mint rolling state: creation, reserves, and positions wallet → {bought, sold, held, peak};
 * holdings follow trades and SPL transfers of the mint.
 * A mint first seen through a trade (its create happened before we started) has `createdTs`
 * undefined, and launch-time detectors leave it alone.
 *
 * Bounded: mints are pruned after `idleMs` without trades; positions per mint are capped
 * (`maxPositions`), past which new wallets are counted but not tracked: a mint that popular is no
 * longer a launch-manipulation target, and its earliest holders are the ones the detectors need.
 *
 * Durable: the mints are the table `mints` (with the marks of {@link TouchedKeys}: which were touched
 * since the last delta flush), their positions the table `mints.positions` (one key per mint number and
 * wallet, so a trade re-encodes one position, not the mint's thousands), the next mint number the table
 * `mints.ids`, the flush count the table `mints.drains`.
 * The positions of each mint are indexed in memory, rebuilt from their table on restore in the table's
 * insertion order, which is each mint's order of first trades.
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { recordCodec } from "../../runtime/record-codec.ts";
import { PUMP_TOTAL_SUPPLY } from "../chain.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { slotOf } from "./slots.ts";
import { Scalars } from "./tables.ts";
import { TouchedKeys, type TouchMark } from "./touched-keys.ts";

export interface Position {
  /** Tokens bought. */
  bought: number;
  /** Lamports spent on buys. */
  boughtSol: number;
  /** Event time of the latest buy (0 before any). */
  lastBuyTs: number;
  sold: number;
  held: number;
  peak: number;
  firstTs: number;
  buys: number;
  sells: number;
}

export interface MintState extends TouchMark {
  mint: string;
  createdTs: number | undefined;
  createSlot: number | undefined;
  creator: string | undefined;
  totalSupply: number;
  vSol: number;
  vTok: number;
  /** Price (lamports per raw token) before the latest trade; NaN until two reserve readings exist. */
  prevPrice: number;
  lastTs: number;
  trades: number;
  /** Wallets not tracked since the mint reached the position cap. */
  untracked: number;
  /** The book's number for the mint, which names its positions in `mints.positions`. */
  id: number;
}

const MINT_CODEC = recordCodec<MintState>({
  mint: true,
  createdTs: true,
  createSlot: true,
  creator: true,
  totalSupply: true,
  vSol: true,
  vTok: true,
  prevPrice: true,
  lastTs: true,
  trades: true,
  untracked: true,
  drain: true,
  order: true,
  id: true,
});

const POSITION_CODEC = recordCodec<Position>({
  bought: true,
  boughtSol: true,
  lastBuyTs: true,
  sold: true,
  held: true,
  peak: true,
  firstTs: true,
  buys: true,
  sells: true,
});

/**
 * A position as the book holds it: with its key in `mints.positions` (not stored: the codec writes the
 * Position fields only). Touching a position by that one string costs a cached hash; a key built anew
 * on each touch (`prefix + wallet`) is a rope to flatten and hash every time (~120 ns a lookup against
 * 8–25 ns for a kept string, in a micro-bench), twice a trade.
 */
interface HeldPosition extends Position {
  key: string;
}

function newPosition(key: string, ts: number): HeldPosition {
  return {
    bought: 0,
    boughtSol: 0,
    lastBuyTs: 0,
    sold: 0,
    held: 0,
    peak: 0,
    firstTs: ts,
    buys: 0,
    sells: 0,
    key,
  };
}

const NO_POSITIONS: ReadonlyMap<string, HeldPosition> = new Map();

/** A mint's positions, found by the mint, and the prefix of their keys in `mints.positions`. */
interface Holders {
  /**
   * The mint's number in base 36 and `/`, not its 44-character address: a key is stored twice, with its value
   * and its insertion rank, for a value of ~42 bytes.
   */
  prefix: string;
  positions: Map<string, HeldPosition>;
}

export class MintBook {
  readonly #mints: DurableTable<MintState>;
  readonly #positions: DurableTable<Position>;
  /** Mint → wallet → position: the same objects as `#positions` holds, found per mint. */
  readonly #byMint = new Map<string, Holders>();
  readonly #touched: TouchedKeys;
  readonly #ids: Scalars<{ next: number }>;
  readonly #maxPositions: number;

  constructor(tables: Tables, maxPositions: number) {
    this.#mints = tables.table("mints", MINT_CODEC);
    this.#positions = tables.table("mints.positions", POSITION_CODEC);
    this.#touched = new TouchedKeys(tables, "mints.drains", this.#mints);
    this.#ids = new Scalars(tables, "mints.ids", { next: 0 });
    this.#maxPositions = maxPositions;
    this.#indexPositions();
  }

  /**
   * Rebuilds the per-mint index from the restored tables: one lookup per position, by its key's prefix
   * (every restored mint gets its holders up front, with or without positions).
   */
  #indexPositions(): void {
    if (this.#positions.size === 0) return;
    const byPrefix = new Map<string, Holders>();
    for (const state of this.#mints.values()) {
      const holders = this.#holdersOf(state);
      byPrefix.set(holders.prefix, holders);
    }
    for (const [key, position] of this.#positions) {
      const slash = key.indexOf("/") + 1;
      const held = position as HeldPosition;
      held.key = key;
      (byPrefix.get(key.slice(0, slash)) as Holders).positions.set(key.slice(slash), held);
    }
  }

  /** The mint's state, to read: change it through the book only. */
  get(mint: string): MintState | undefined {
    return this.#mints.get(mint);
  }

  /** The mint's positions by wallet, in the order the wallets first traded it; to read only. */
  positions(mint: string): ReadonlyMap<string, Position> {
    return this.#byMint.get(mint)?.positions ?? NO_POSITIONS;
  }

  #holdersOf(state: MintState): Holders {
    let holders = this.#byMint.get(state.mint);
    if (holders === undefined) {
      holders = { prefix: `${state.id.toString(36)}/`, positions: new Map() };
      this.#byMint.set(state.mint, holders);
    }
    return holders;
  }

  /** A new position of `wallet` in the mint, or undefined past the cap. */
  #open(holders: Holders, wallet: string, ts: number): HeldPosition | undefined {
    if (holders.positions.size >= this.#maxPositions) return undefined;
    const position = newPosition(holders.prefix + wallet, ts);
    holders.positions.set(wallet, position);
    this.#positions.set(position.key, position);
    return position;
  }

  observe(event: ChainEvent): void {
    if (event.kind === "create") {
      const state = this.#state(event.mint, event.ts);
      state.createdTs = event.ts;
      state.createSlot = slotOf(event);
      state.creator = event.creator;
      state.totalSupply = event.totalSupply > 0 ? event.totalSupply : PUMP_TOTAL_SUPPLY;
      state.vSol = event.vSol;
      state.vTok = event.vTok;
    } else if (event.kind === "trade") {
      this.#trade(this.#state(event.mint, event.ts), event);
    } else if (event.asset !== "SOL") {
      // An SPL transfer of a tracked mint moves holdings: tokens passed to a partner are not held.
      const state = this.#mints.get(event.asset);
      if (state !== undefined) this.#move(state, event.from, event.to, event.amount, event.ts);
    }
  }

  /** Moves holdings between two positions of a tracked mint. */
  #move(state: MintState, from: string, to: string, amount: number, ts: number): void {
    if (from === to) return;
    const holders = this.#holdersOf(state);
    const source = holders.positions.get(from);
    if (source !== undefined) {
      source.held = Math.max(0, source.held - amount);
      this.#positions.touch(source.key);
    }
    const target = holders.positions.get(to) ?? this.#open(holders, to, ts);
    if (target === undefined) return;
    target.held += amount;
    if (target.held > target.peak) target.peak = target.held;
    this.#positions.touch(target.key);
  }

  #state(mint: string, ts: number): MintState {
    let state = this.#mints.get(mint);
    if (state === undefined) {
      state = {
        mint,
        createdTs: undefined,
        createSlot: undefined,
        creator: undefined,
        totalSupply: PUMP_TOTAL_SUPPLY,
        vSol: 0,
        vTok: 0,
        prevPrice: Number.NaN,
        lastTs: ts,
        trades: 0,
        untracked: 0,
        drain: -1,
        order: 0,
        id: this.#ids.value.next++,
      };
      this.#ids.changed();
      this.#mints.set(mint, state);
    } else {
      this.#mints.touch(mint);
    }
    if (ts > state.lastTs) state.lastTs = ts;
    this.#touched.mark(mint, state);
    return state;
  }

  #trade(state: MintState, trade: Trade): void {
    state.prevPrice = state.vTok > 0 ? state.vSol / state.vTok : Number.NaN;
    state.vSol = trade.vSolAfter;
    state.vTok = trade.vTokAfter;
    state.trades++;
    const holders = this.#holdersOf(state);
    const position = holders.positions.get(trade.trader) ?? this.#open(holders, trade.trader, trade.ts);
    if (position === undefined) {
      state.untracked++;
      return;
    }
    this.#positions.touch(position.key);
    if (trade.side === "buy") {
      position.bought += trade.tok;
      position.boughtSol += trade.sol;
      position.lastBuyTs = trade.ts;
      position.held += trade.tok;
      position.buys++;
      if (position.held > position.peak) position.peak = position.held;
    } else {
      position.sold += trade.tok;
      // A wallet can sell tokens it received by transfer; never let holdings go negative.
      position.held = Math.max(0, position.held - trade.tok);
      position.sells++;
    }
  }

  /** Held tokens of `wallets` as a fraction of the mint's supply. */
  heldFraction(state: MintState, wallets: Iterable<string>): number {
    const positions = this.positions(state.mint);
    let held = 0;
    for (const wallet of wallets) held += positions.get(wallet)?.held ?? 0;
    return held / state.totalSupply;
  }

  drainTouched(): string[] {
    return this.#touched.drain();
  }

  prune(nowTs: number, idleMs: number): number {
    let removed = 0;
    for (const [mint, state] of this.#mints) {
      if (nowTs - state.lastTs > idleMs) {
        this.#mints.delete(mint);
        this.#touched.delete(mint);
        const holders = this.#byMint.get(mint);
        if (holders !== undefined)
          for (const position of holders.positions.values()) this.#positions.delete(position.key);
        this.#byMint.delete(mint);
        removed++;
      }
    }
    return removed;
  }

  get size(): number {
    return this.#mints.size;
  }

  /** Total tracked positions across mints: the dominant term of this book's memory. */
  positionCount(): number {
    return this.#positions.size;
  }
}

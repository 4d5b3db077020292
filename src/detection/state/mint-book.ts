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
 * Durable: the mints (each with its positions) are the table `mints`, the keys touched since the last
 * delta flush the table `mints.touched`.
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { PUMP_TOTAL_SUPPLY } from "../chain.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { slotOf } from "./slots.ts";

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

export interface MintState {
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
  positions: Map<string, Position>;
  untracked: number;
}

function newPosition(ts: number): Position {
  return { bought: 0, boughtSol: 0, lastBuyTs: 0, sold: 0, held: 0, peak: 0, firstTs: ts, buys: 0, sells: 0 };
}

export class MintBook {
  readonly #mints: DurableTable<MintState>;
  readonly #touched: DurableTable<true>;
  readonly #maxPositions: number;

  constructor(tables: Tables, maxPositions: number) {
    this.#mints = tables.table("mints");
    this.#touched = tables.table("mints.touched");
    this.#maxPositions = maxPositions;
  }

  /** The mint's state, to read: change it through the book only. */
  get(mint: string): MintState | undefined {
    return this.#mints.get(mint);
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
      if (state !== undefined && this.#move(state, event.from, event.to, event.amount, event.ts))
        this.#mints.touch(event.asset);
    }
  }

  /** Moves holdings between two positions; true when a position changed. */
  #move(state: MintState, from: string, to: string, amount: number, ts: number): boolean {
    if (from === to) return false;
    const source = state.positions.get(from);
    if (source !== undefined) source.held = Math.max(0, source.held - amount);
    let target = state.positions.get(to);
    if (target === undefined) {
      if (state.positions.size >= this.#maxPositions) return source !== undefined;
      target = newPosition(ts);
      state.positions.set(to, target);
    }
    target.held += amount;
    if (target.held > target.peak) target.peak = target.held;
    return true;
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
        positions: new Map(),
        untracked: 0,
      };
      this.#mints.set(mint, state);
    } else {
      this.#mints.touch(mint);
    }
    if (ts > state.lastTs) state.lastTs = ts;
    this.#touched.set(mint, true);
    return state;
  }

  #trade(state: MintState, trade: Trade): void {
    state.prevPrice = state.vTok > 0 ? state.vSol / state.vTok : Number.NaN;
    state.vSol = trade.vSolAfter;
    state.vTok = trade.vTokAfter;
    state.trades++;
    let position = state.positions.get(trade.trader);
    if (position === undefined) {
      if (state.positions.size >= this.#maxPositions) {
        state.untracked++;
        return;
      }
      position = newPosition(trade.ts);
      state.positions.set(trade.trader, position);
    }
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
    let held = 0;
    for (const wallet of wallets) held += state.positions.get(wallet)?.held ?? 0;
    return held / state.totalSupply;
  }

  drainTouched(): string[] {
    const touched = [...this.#touched.keys()];
    this.#touched.clear();
    return touched;
  }

  prune(nowTs: number, idleMs: number): number {
    let removed = 0;
    for (const [mint, state] of this.#mints) {
      if (nowTs - state.lastTs > idleMs) {
        this.#mints.delete(mint);
        this.#touched.delete(mint);
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
    let n = 0;
    for (const state of this.#mints.values()) n += state.positions.size;
    return n;
  }
}

/**
 * Per-wallet rolling state each analyzer keeps for itself (no cross-actor reads): when the wallet was
 * first seen, how active it is, who funded it. Age is only what this analyzer has observed, which is
 * why the generator gives aged wallets a history prefix and why alerts carry a warm-up flag.
 *
 * Bounded: an entry is pruned after `idleMs` without events, unless a detector flagged it (then after
 * `flaggedIdleMs`); recent funders are capped at {@link MAX_FUNDERS}.
 *
 * Durable: the entries are the table `wallets` (with the marks of {@link TouchedKeys}: which were touched
 * since the last delta flush), the flush count the table `wallets.drains`; every change goes through the
 * book (detectors flag a wallet with {@link WalletBook.flag}).
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { recordCodec } from "../../runtime/record-codec.ts";
import type { ChainEvent } from "../schema.ts";
import { TouchedKeys, type TouchMark } from "./touched-keys.ts";

/** Enough to tell "funded directly by the creator" without keeping a wallet's whole inbound history. */
export const MAX_FUNDERS = 4;

export interface WalletState extends TouchMark {
  firstSeen: number;
  lastSeen: number;
  events: number;
  firstFunder: string | undefined;
  /** Most recent distinct SOL senders, newest last. */
  funders: string[];
  lastInboundTs: number;
  lastInboundSol: number;
  /** EWMA of inbound SOL transfer sizes, lamports. */
  inboundEwma: number;
  /** The EWMA before the latest inbound transfer: the baseline that transfer is judged against. */
  prevInboundEwma: number;
  /** SOL transfers sent: an exchange-sized fan-out is nobody's private funding source. */
  sent: number;
  /** Set by detectors: keeps the entry past the normal idle prune. */
  flagged: boolean;
}

const WALLET_CODEC = recordCodec<WalletState>({
  firstSeen: true,
  lastSeen: true,
  events: true,
  firstFunder: true,
  funders: true,
  lastInboundTs: true,
  lastInboundSol: true,
  inboundEwma: true,
  prevInboundEwma: true,
  sent: true,
  flagged: true,
  drain: true,
  order: true,
});

export class WalletBook {
  readonly #wallets: DurableTable<WalletState>;
  readonly #touched: TouchedKeys;
  readonly #ewmaAlpha: number;

  constructor(tables: Tables, ewmaAlpha = 0.2) {
    this.#wallets = tables.table("wallets", WALLET_CODEC);
    this.#touched = new TouchedKeys(tables, "wallets.drains", this.#wallets);
    this.#ewmaAlpha = ewmaAlpha;
  }

  /** The wallet's entry, to read: change it through the book only. */
  get(wallet: string): Readonly<WalletState> | undefined {
    return this.#wallets.get(wallet);
  }

  /** Keeps the wallet past the normal idle prune (a detector found it involved in something). */
  flag(wallet: string): void {
    const state = this.#wallets.get(wallet);
    if (state === undefined || state.flagged) return;
    state.flagged = true;
    this.#wallets.touch(wallet);
  }

  /** Age in ms as observed by this analyzer (0 for a wallet never seen before `ts`). */
  ageAt(wallet: string, ts: number): number {
    const state = this.#wallets.get(wallet);
    return state === undefined ? 0 : ts - state.firstSeen;
  }

  /** Records the event against every wallet it involves. */
  observe(event: ChainEvent): void {
    if (event.kind === "trade") {
      this.#touch(event.trader, event.ts);
    } else if (event.kind === "create") {
      this.#touch(event.creator, event.ts);
      if (event.payer !== event.creator) this.#touch(event.payer, event.ts);
    } else {
      const from = this.#touch(event.from, event.ts);
      const to = this.#touch(event.to, event.ts);
      if (event.asset === "SOL" && event.from !== event.to) {
        from.sent++;
        this.#inbound(to, event.from, event.amount, event.ts);
      }
    }
  }

  #touch(wallet: string, ts: number): WalletState {
    let state = this.#wallets.get(wallet);
    if (state === undefined) {
      state = {
        firstSeen: ts,
        lastSeen: ts,
        events: 0,
        firstFunder: undefined,
        funders: [],
        lastInboundTs: 0,
        lastInboundSol: 0,
        inboundEwma: 0,
        prevInboundEwma: 0,
        sent: 0,
        flagged: false,
        drain: -1,
        order: 0,
      };
      this.#wallets.set(wallet, state);
    } else {
      this.#wallets.touch(wallet);
    }
    state.events++;
    if (ts > state.lastSeen) state.lastSeen = ts;
    this.#touched.mark(wallet, state);
    return state;
  }

  #inbound(state: WalletState, from: string, lamports: number, ts: number): void {
    state.firstFunder ??= from;
    const funders = state.funders;
    const at = funders.indexOf(from);
    if (at >= 0) funders.splice(at, 1);
    funders.push(from);
    if (funders.length > MAX_FUNDERS) funders.shift();
    state.prevInboundEwma = state.inboundEwma;
    state.inboundEwma =
      state.inboundEwma === 0
        ? lamports
        : state.inboundEwma + this.#ewmaAlpha * (lamports - state.inboundEwma);
    state.lastInboundTs = ts;
    state.lastInboundSol = lamports;
  }

  /** Wallets touched since the last call, for a touched-delta flush. */
  drainTouched(): string[] {
    return this.#touched.drain();
  }

  prune(nowTs: number, idleMs: number, flaggedIdleMs: number): number {
    let removed = 0;
    for (const [wallet, state] of this.#wallets) {
      const idle = nowTs - state.lastSeen;
      if (idle > (state.flagged ? flaggedIdleMs : idleMs)) {
        this.#wallets.delete(wallet);
        this.#touched.delete(wallet);
        removed++;
      }
    }
    return removed;
  }

  get size(): number {
    return this.#wallets.size;
  }
}

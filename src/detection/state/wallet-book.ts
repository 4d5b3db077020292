/**
 * Per-wallet rolling state each analyzer keeps for itself (no cross-actor reads): when the wallet was
 * first seen, how active it is, who funded it. Age is only what this analyzer has observed, which is
 * why the generator gives aged wallets a history prefix and why alerts carry a warm-up flag.
 *
 * Bounded in two tiers. A full entry is pruned after `idleMs` without events, unless a detector flagged
 * it (then after `flaggedIdleMs`); recent funders are capped at {@link MAX_FUNDERS}. What a pruned wallet
 * leaves is its summary (first seen, last seen, event count, first funder, transfers sent, inbound EWMA:
 * one short string), kept until `summaryIdleMs` (30 days) without events: an aged wallet that paused
 * for a day comes back with its age and its first funder (issue 18), not as a new wallet. A wallet seen
 * again is rebuilt from its summary, with that first funder as its only known funder.
 *
 * Durable: the entries are the table `wallets` (with the marks of {@link TouchedKeys}: which were touched
 * since the last delta flush), the summaries the table `wallets.summary`, the flush count the table
 * `wallets.drains`; every change goes through the book (detectors flag a wallet with {@link WalletBook.flag}).
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

/**
 * A pruned wallet, as one string: base-36 numbers then the first funder (last, so it may hold any
 * character). A string is the smallest value a Map holds, and its codec is the default one.
 */
type WalletSummary = string;

interface Summary {
  firstSeen: number;
  lastSeen: number;
  events: number;
  sent: number;
  inboundEwma: number;
  firstFunder: string | undefined;
}

const SUMMARY_NUMBERS = 5;

function encodeSummary(s: Readonly<Summary>): WalletSummary {
  const n = [s.lastSeen, s.firstSeen, s.events, s.sent, Math.round(s.inboundEwma)];
  return `${n.map((x) => x.toString(36)).join(" ")} ${s.firstFunder ?? ""}`;
}

function decodeSummary(text: WalletSummary): Summary {
  const n: number[] = [];
  let from = 0;
  for (let i = 0; i < SUMMARY_NUMBERS; i++) {
    const space = text.indexOf(" ", from);
    n.push(Number.parseInt(text.slice(from, space), 36));
    from = space + 1;
  }
  const funder = text.slice(from);
  return {
    lastSeen: n[0] as number,
    firstSeen: n[1] as number,
    events: n[2] as number,
    sent: n[3] as number,
    inboundEwma: n[4] as number,
    firstFunder: funder === "" ? undefined : funder,
  };
}

/** The summary's last-seen time without decoding the rest: the prune sweep reads only that. */
function summaryLastSeen(text: WalletSummary): number {
  return Number.parseInt(text.slice(0, text.indexOf(" ")), 36);
}

export class WalletBook {
  readonly #wallets: DurableTable<WalletState>;
  readonly #summaries: DurableTable<WalletSummary>;
  readonly #touched: TouchedKeys;
  readonly #ewmaAlpha: number;
  /**
   * No full entry was last seen before this, nor any summary before the next (lower bounds, -Infinity until
   * a prune has looked at them all): a prune that cannot retire any of them skips them. Without them every
   * full flush read every entry and decoded every summary's last-seen time, to retire none for the first day
   * of a run and no summary for 30 (the prune took 11% of the three analyzers' time on seed 1's first hour,
   * whose aged wallets' histories flush and summarise days of event time, 6% on six hours; 4.6% and 2.9%
   * with the bounds). Not stored: a restored book looks at them all once.
   */
  #walletsSeenSince = Number.NEGATIVE_INFINITY;
  #summariesSeenSince = Number.NEGATIVE_INFINITY;

  constructor(tables: Tables, ewmaAlpha = 0.2) {
    this.#wallets = tables.table("wallets", WALLET_CODEC);
    this.#summaries = tables.table("wallets.summary");
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

  /** Age in ms as observed by this analyzer (0 for a wallet never seen before `ts`), summaries included. */
  ageAt(wallet: string, ts: number): number {
    const state = this.#wallets.get(wallet);
    if (state !== undefined) return ts - state.firstSeen;
    const summary = this.#summaries.get(wallet);
    return summary === undefined ? 0 : ts - decodeSummary(summary).firstSeen;
  }

  /** SOL transfers the wallet sent, as far as this analyzer remembers (summaries included). */
  sent(wallet: string): number {
    const state = this.#wallets.get(wallet);
    if (state !== undefined) return state.sent;
    const summary = this.#summaries.get(wallet);
    return summary === undefined ? 0 : decodeSummary(summary).sent;
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
      state = this.#revive(wallet, ts);
      this.#wallets.set(wallet, state);
      // An event older than every entry's last one (events may come out of order) lowers the bound.
      const seen = Math.max(state.lastSeen, ts);
      if (seen < this.#walletsSeenSince) this.#walletsSeenSince = seen;
    } else {
      this.#wallets.touch(wallet);
    }
    state.events++;
    if (ts > state.lastSeen) state.lastSeen = ts;
    this.#touched.mark(wallet, state);
    return state;
  }

  /** A new entry: from the wallet's summary when it has one (the summary then goes), else blank. */
  #revive(wallet: string, ts: number): WalletState {
    const text = this.#summaries.get(wallet);
    const s = text === undefined ? undefined : decodeSummary(text);
    if (text !== undefined) this.#summaries.delete(wallet);
    return {
      firstSeen: s?.firstSeen ?? ts,
      lastSeen: s?.lastSeen ?? ts,
      events: s?.events ?? 0,
      firstFunder: s?.firstFunder,
      funders: s?.firstFunder === undefined ? [] : [s.firstFunder],
      lastInboundTs: 0,
      lastInboundSol: 0,
      inboundEwma: s?.inboundEwma ?? 0,
      prevInboundEwma: s?.inboundEwma ?? 0,
      sent: s?.sent ?? 0,
      flagged: false,
      drain: -1,
      order: 0,
    };
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

  /**
   * Turns entries idle past `idleMs` (`flaggedIdleMs` when flagged) into summaries, and drops summaries
   * idle past `summaryIdleMs`. Returns how many entries were summarised.
   */
  prune(nowTs: number, idleMs: number, flaggedIdleMs: number, summaryIdleMs: number): number {
    if (nowTs - this.#summariesSeenSince > summaryIdleMs) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const [wallet, text] of this.#summaries) {
        const lastSeen = summaryLastSeen(text);
        if (nowTs - lastSeen > summaryIdleMs) this.#summaries.delete(wallet);
        else if (lastSeen < oldest) oldest = lastSeen;
      }
      this.#summariesSeenSince = oldest;
    }
    if (nowTs - this.#walletsSeenSince <= Math.min(idleMs, flaggedIdleMs)) return 0;
    let removed = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [wallet, state] of this.#wallets) {
      const idle = nowTs - state.lastSeen;
      if (idle > (state.flagged ? flaggedIdleMs : idleMs)) {
        this.#wallets.delete(wallet);
        this.#touched.delete(wallet);
        if (idle <= summaryIdleMs) {
          this.#summaries.set(wallet, encodeSummary(state));
          if (state.lastSeen < this.#summariesSeenSince) this.#summariesSeenSince = state.lastSeen;
        }
        removed++;
      } else if (state.lastSeen < oldest) oldest = state.lastSeen;
    }
    this.#walletsSeenSince = oldest;
    return removed;
  }

  /** Wallets with a full entry. */
  get size(): number {
    return this.#wallets.size;
  }

  /** Wallets remembered by their summary only. */
  get summaries(): number {
    return this.#summaries.size;
  }
}

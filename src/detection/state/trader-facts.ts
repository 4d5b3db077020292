/**
 * A trader's facts travelling with its trade (issue 14): what a mint-keyed detector reads of the wallet that
 * trades, taken from the wallet analyzer's book right after the book recorded the trade, as the detector
 * would have read it there: its age, events and recent funders, and its first funder with that funder's
 * fan-out (the transfers it has sent: a private funder or an exchange). A mint partition keeps no wallet
 * book (it sees only its mints' trades, so one would be partial); it answers from these facts, for the
 * trade's own trader (and its first funder's fan-out) only.
 */
import { InvalidOptionError } from "../../errors.ts";
import type { ChainEvent } from "../schema.ts";
import type { WalletBook, WalletState } from "./wallet-book.ts";

export interface TraderFacts {
  firstSeen: number;
  events: number;
  /** Most recent distinct SOL senders, newest last (at most `MAX_FUNDERS`). */
  funders: string[];
  /** The wallet's first funder, when it has one... */
  firstFunder?: string;
  /** ...and the SOL transfers that funder has sent. */
  funderFanout?: number;
}

/** The facts of `wallet` in `book` (it holds every wallet it has just seen), or undefined. */
export function traderFactsOf(book: WalletBook, wallet: string): TraderFacts | undefined {
  const state = book.get(wallet);
  if (state === undefined) return undefined;
  const facts: TraderFacts = {
    firstSeen: state.firstSeen,
    events: state.events,
    funders: [...state.funders],
  };
  const funder = state.firstFunder;
  if (funder !== undefined) {
    facts.firstFunder = funder;
    facts.funderFanout = book.sent(funder);
  }
  return facts;
}

/** True when `value` has the shape of {@link TraderFacts}. */
export function isTraderFacts(value: unknown): value is TraderFacts {
  const facts = value as Partial<TraderFacts> | null;
  return (
    typeof facts === "object" &&
    facts !== null &&
    Number.isSafeInteger(facts.firstSeen) &&
    Number.isSafeInteger(facts.events) &&
    Array.isArray(facts.funders) &&
    facts.funders.every((f) => typeof f === "string") &&
    (facts.firstFunder === undefined
      ? facts.funderFanout === undefined
      : typeof facts.firstFunder === "string" && Number.isSafeInteger(facts.funderFanout))
  );
}

/**
 * The wallet book as a mint partition has it: the current trade's trader, as its facts say. `get` gives
 * `firstSeen`, `events`, `funders` and `firstFunder` only, `ageAt` its age, `sent` its first funder's
 * fan-out; any other wallet, or any other use of the book, fails naming the detector (the fact it needs has
 * to travel with the event first).
 */
export class ForwardedWallets {
  #trader: string | undefined;
  #facts: TraderFacts | undefined;

  /** The event about to be handled, and its trader's facts (none for a create or a transfer). */
  set(event: ChainEvent, facts: TraderFacts | undefined): void {
    this.#trader = event.kind === "trade" ? event.trader : undefined;
    this.#facts = facts;
  }

  /** The book a detector sees: reads of the trader's facts, nothing else. */
  bookFor(analyzer: string, detector: string): WalletBook {
    const refuse = (what: string): never => {
      throw new InvalidOptionError(
        `detectors.${detector}`,
        `reads ${what} from the wallet book, which the ${analyzer} analyzer does not keep: only its trade's trader's facts travel with the trade`,
      );
    };
    const facts = (wallet: string): TraderFacts => {
      if (wallet !== this.#trader || this.#facts === undefined) return refuse(`wallet ${wallet}`);
      return this.#facts;
    };
    const reads: Partial<Record<keyof WalletBook, unknown>> = {
      get: (wallet: string) => facts(wallet) as unknown as Readonly<WalletState>,
      ageAt: (wallet: string, ts: number) => ts - facts(wallet).firstSeen,
      sent: (wallet: string) => {
        const own = this.#facts;
        if (own?.firstFunder !== wallet) return refuse(`the transfers sent by ${wallet}`);
        return own.funderFanout as number;
      },
    };
    return new Proxy({} as WalletBook, {
      get: (_target, property) => reads[property as keyof WalletBook] ?? refuse(String(property)),
    });
  }
}

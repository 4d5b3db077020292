/**
 * W1 liquidity_injection: a wallet receives SOL ≥ max(5 SOL, 20× its inbound EWMA) and spends ≥ 80%
 * of it on buys within 5 min (behaviour described by [BQ], [MOB]; thresholds project-defined): money
 * parked in a wallet just long enough to hide where a large buy came from.
 *
 * State: one pending injection per wallet that just received one, dropped after `windowMs`. O(1).
 * Durable table: `pending`.
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { MAX_ALERT_EVENTS, round4 } from "../alert.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { timingOf } from "../state/slots.ts";

export interface LiquidityInjectionOptions {
  /** Smallest injection, lamports. @defaultValue 5_000_000_000 */
  minLamports?: number;
  /** ...and at least this multiple of the wallet's inbound EWMA. @defaultValue 20 */
  ewmaMultiple?: number;
  /** Fraction that must be spent on buys... @defaultValue 0.8 */
  spendFraction?: number;
  /** ...within this long. @defaultValue 300_000 */
  windowMs?: number;
}

export const LIQUIDITY_INJECTION_DEFAULTS = {
  minLamports: 5_000_000_000,
  ewmaMultiple: 20,
  spendFraction: 0.8,
  windowMs: 300_000,
} satisfies Required<LiquidityInjectionOptions>;

interface Injection {
  ts: number;
  lamports: number;
  from: string;
  spent: number;
  /** Lamports spent per mint, to name the mint the money went into. */
  mints: Map<string, number>;
  /** The injecting transfer, then the buys that spent it (the latest few): the alert's events. */
  events: string[];
}

class LiquidityInjection {
  readonly #o: Required<LiquidityInjectionOptions>;
  readonly #pending: DurableTable<Injection>;

  constructor(options: Required<LiquidityInjectionOptions>, tables: Tables) {
    this.#o = options;
    this.#pending = tables.table("pending");
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    const o = this.#o;
    if (event.kind === "transfer") {
      if (event.asset !== "SOL" || event.amount < o.minLamports) return;
      const baseline = ctx.wallets.get(event.to)?.prevInboundEwma ?? 0;
      if (event.amount < o.ewmaMultiple * baseline) return;
      this.#pending.set(event.to, {
        ts: event.ts,
        lamports: event.amount,
        from: event.from,
        spent: 0,
        mints: new Map(),
        events: [event.id],
      });
    } else if (event.kind === "trade" && event.side === "buy") {
      const injection = this.#pending.get(event.trader);
      if (injection !== undefined) this.#onBuy(injection, event, ctx);
    }
  }

  #onBuy(injection: Injection, trade: Trade, ctx: DetectorContext): void {
    const o = this.#o;
    if (trade.ts - injection.ts > o.windowMs) {
      this.#pending.delete(trade.trader);
      return;
    }
    injection.spent += trade.sol;
    injection.mints.set(trade.mint, (injection.mints.get(trade.mint) ?? 0) + trade.sol);
    // An injection from before events were kept has none: the alert then lists the trigger alone.
    injection.events ??= [];
    injection.events.push(trade.id);
    // The transfer stays first; of the buys, the latest are kept.
    if (injection.events.length > MAX_ALERT_EVENTS) injection.events.splice(1, 1);
    this.#pending.touch(trade.trader);
    const spentFraction = injection.spent / injection.lamports;
    if (spentFraction < o.spendFraction) return;
    this.#pending.delete(trade.trader);
    let mint = trade.mint;
    for (const [m, sol] of injection.mints) if (sol > (injection.mints.get(mint) ?? 0)) mint = m;
    ctx.emit({
      severity: spentFraction >= 0.95 && trade.ts - injection.ts <= o.windowMs / 5 ? "high" : "med",
      score: Math.min(1, spentFraction),
      mint,
      key: trade.trader,
      wallets: [trade.trader],
      detectedAt: trade.ts,
      triggerId: trade.id,
      timing: timingOf(trade),
      events: injection.events,
      evidence: {
        injectedSol: round4(injection.lamports / 1e9),
        spentFraction: round4(spentFraction),
        secondsToSpend: Math.round((trade.ts - injection.ts) / 1000),
        funder: injection.from,
      },
    });
  }

  prune(nowTs: number): void {
    for (const [wallet, injection] of this.#pending) {
      if (nowTs - injection.ts > this.#o.windowMs) this.#pending.delete(wallet);
    }
  }

  size(): number {
    return this.#pending.size;
  }
}

export const liquidityInjection = defineDetector({
  name: "liquidity_injection",
  analyzer: "wallet",
  defaults: LIQUIDITY_INJECTION_DEFAULTS,
  create: (options, tables) => new LiquidityInjection(options, tables),
});

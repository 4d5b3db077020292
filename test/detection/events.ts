/**
 * Hand-built events for detector tests: one helper per kind with sensible defaults, timed by slot
 * (400 ms) from T0 so sequences read like a block explorer.
 */
import type { TokenCreated, Trade, Transfer } from "../../src/detection/schema.ts";

export const T0 = 1_760_000_000_000;
export const SLOT0 = 370_000_000;
export const SOL = 1_000_000_000;
export const SUPPLY = 1_000_000_000_000_000;
export const MINUTE = 60_000;
export const DAY = 86_400_000;

let counter = 0;

function base(ts: number, slot: number | null, signature = `sig${++counter}`, ix = 0) {
  return {
    v: 1 as const,
    id: `${signature}:${ix}`,
    signature,
    ix,
    slot,
    ts,
    tsSrc: "sim" as const,
    src: "sim" as const,
  };
}

/** ts at `slots` slots (400 ms) after T0, plus `ms`. */
export function at(slots: number, ms = 0): number {
  return T0 + slots * 400 + ms;
}

export function slotAt(ts: number): number {
  return SLOT0 + Math.floor((ts - T0) / 400);
}

export function create(mint: string, creator: string, ts = T0): TokenCreated {
  return {
    ...base(ts, slotAt(ts), `create-${mint}`),
    kind: "create",
    mint,
    creator,
    payer: creator,
    bondingCurve: `curve-${mint}`,
    name: mint,
    symbol: mint.slice(0, 4),
    uri: "",
    vSol: 30 * SOL,
    vTok: 1_073_000_000_000_000,
    totalSupply: SUPPLY,
  };
}

export interface TradeOpts {
  /** Fraction of supply moved by the trade. */
  supply: number;
  inCreateTx?: boolean;
  sol?: number;
  vSolAfter?: number;
  vTokAfter?: number;
  signature?: string;
}

export function trade(side: "buy" | "sell", mint: string, trader: string, ts: number, o: TradeOpts): Trade {
  return {
    ...base(
      ts,
      slotAt(ts),
      o.signature ?? (o.inCreateTx ? `create-${mint}` : undefined),
      o.inCreateTx ? 1 + counter++ : 0,
    ),
    kind: "trade",
    mint,
    trader,
    side,
    sol: o.sol ?? SOL,
    solDerived: false,
    tok: Math.round(o.supply * SUPPLY),
    vSolAfter: o.vSolAfter ?? 30 * SOL,
    vTokAfter: o.vTokAfter ?? 1_000_000_000_000_000,
    inCreateTx: o.inCreateTx ?? false,
    pool: "pump",
  };
}

export const buy = (mint: string, trader: string, ts: number, o: TradeOpts) =>
  trade("buy", mint, trader, ts, o);
export const sell = (mint: string, trader: string, ts: number, o: TradeOpts) =>
  trade("sell", mint, trader, ts, o);

export function fund(from: string, to: string, ts: number, sol: number): Transfer {
  return {
    ...base(ts, slotAt(ts)),
    kind: "transfer",
    asset: "SOL",
    from,
    to,
    amount: Math.round(sol * SOL),
    decimals: 9,
  };
}

/**
 * PumpPortal websocket messages → canonical events (DETECTORS.md section A, [PP]).
 *
 * - Amounts arrive as floats in UI units: SOL ×1e9 → lamports, tokens ×1e6 → raw units.
 * - Messages carry no slot and no time: `slot = null`, `ts` = receive time (`recvTs` stamped by our
 *   recorder, else the caller's clock), `tsSrc = 'recv'`; slot detectors then use 400 ms buckets.
 * - A create carries the dev's first buy: TokenCreated (ix 0) plus a Trade with `inCreateTx` (ix 1).
 * - Older trade messages lack `solAmount`: it is recovered from the reserves after the trade,
 *   buy `x1 − x1·y1/(y1+tok)`, sell `x1·y1/(y1−tok) − x1` (fee excluded), and flagged `solDerived`.
 */
import { PUMP_TOTAL_SUPPLY } from "../detection/chain.ts";
import type { ChainEvent, InvalidEventReason, TokenCreated, Trade } from "../detection/schema.ts";

const LAMPORTS_PER_SOL = 1e9;
const RAW_PER_TOKEN = 1e6;

export type MapResult = { ok: true; events: ChainEvent[] } | { ok: false; reason: InvalidEventReason };

/** Thrown inside this module only, to unwind a bad field; never escapes {@link mapPumpPortal}. */
class Reject {
  constructor(readonly reason: InvalidEventReason) {}
}

type Obj = Record<string, unknown>;

function text(o: Obj, field: string, required = true): string {
  const value = o[field];
  if (value === undefined && !required) return "";
  if (typeof value !== "string" || (required && value.length === 0)) {
    throw new Reject({
      code: value === undefined ? "missing_field" : "wrong_type",
      field,
      message: `"${field}" must be a non-empty string`,
    });
  }
  return value;
}

function amount(o: Obj, field: string, scale: number): number | undefined {
  const value = o[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new Reject({ code: "wrong_type", field, message: `"${field}" must be a finite number >= 0` });
  }
  return safe(Math.round(value * scale), field);
}

function required(o: Obj, field: string, scale: number): number {
  const value = amount(o, field, scale);
  if (value === undefined)
    throw new Reject({ code: "missing_field", field, message: `missing field "${field}"` });
  return value;
}

function safe(value: number, field: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new Reject({ code: "unsafe_integer", field, message: `"${field}" exceeds the safe integer range` });
  }
  return value;
}

/** Lamports that moved the curve, from the reserves after the trade (x = vSol, y = vTok). */
export function recoverSol(side: "buy" | "sell", x1: number, y1: number, tok: number): number {
  if (side === "buy") return Math.round(x1 - (x1 * y1) / (y1 + tok));
  return y1 > tok ? Math.round((x1 * y1) / (y1 - tok) - x1) : 0;
}

function pool(o: Obj): Trade["pool"] {
  const value = o.pool ?? "pump";
  if (value === "pump" || value === "pump-amm") return value;
  throw new Reject({
    code: "out_of_range",
    field: "pool",
    message: `unsupported pool ${JSON.stringify(value)}`,
  });
}

function trade(
  o: Obj,
  side: Trade["side"],
  ts: number,
  ix: number,
  tokField: string,
  inCreateTx: boolean,
): Trade {
  const signature = text(o, "signature");
  const tok = required(o, tokField, RAW_PER_TOKEN);
  const vSolAfter = required(o, "vSolInBondingCurve", LAMPORTS_PER_SOL);
  const vTokAfter = required(o, "vTokensInBondingCurve", RAW_PER_TOKEN);
  const reported = amount(o, "solAmount", LAMPORTS_PER_SOL);
  const event: Trade = {
    v: 1,
    id: `${signature}:${ix}`,
    signature,
    ix,
    slot: null,
    ts,
    tsSrc: "recv",
    src: "pumpportal",
    kind: "trade",
    mint: text(o, "mint"),
    trader: text(o, "traderPublicKey"),
    side,
    sol: reported ?? safe(recoverSol(side, vSolAfter, vTokAfter, tok), "solAmount"),
    solDerived: reported === undefined,
    tok,
    vSolAfter,
    vTokAfter,
    inCreateTx,
    pool: pool(o),
  };
  const balance = amount(o, "newTokenBalance", RAW_PER_TOKEN);
  if (balance !== undefined) event.balAfter = balance;
  else if (inCreateTx) event.balAfter = tok;
  return event;
}

function create(o: Obj, ts: number): ChainEvent[] {
  const signature = text(o, "signature");
  const creator = text(o, "traderPublicKey");
  const initialBuy = amount(o, "initialBuy", RAW_PER_TOKEN) ?? 0;
  const devBuy = initialBuy > 0 ? trade(o, "buy", ts, 1, "initialBuy", true) : undefined;
  const vSol = required(o, "vSolInBondingCurve", LAMPORTS_PER_SOL);
  const vTok = required(o, "vTokensInBondingCurve", RAW_PER_TOKEN);
  const created: TokenCreated = {
    v: 1,
    id: `${signature}:0`,
    signature,
    ix: 0,
    slot: null,
    ts,
    tsSrc: "recv",
    src: "pumpportal",
    kind: "create",
    mint: text(o, "mint"),
    creator,
    payer: creator,
    bondingCurve: text(o, "bondingCurveKey", false),
    name: text(o, "name", false),
    symbol: text(o, "symbol", false),
    uri: text(o, "uri", false),
    // The message reports reserves after the dev buy; the create itself saw them before it.
    vSol: devBuy === undefined ? vSol : vSol - devBuy.sol,
    vTok: devBuy === undefined ? vTok : vTok + devBuy.tok,
    totalSupply: PUMP_TOTAL_SUPPLY,
  };
  return devBuy === undefined ? [created] : [created, devBuy];
}

/**
 * Maps one parsed message. `recvTs` (ms) stamps it unless the message carries its own `recvTs`.
 * `migrate` (graduation) carries nothing the detectors use and maps to no event.
 */
export function mapPumpPortal(message: unknown, recvTs: number): MapResult {
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    return { ok: false, reason: { code: "not_object", message: "message must be a JSON object" } };
  }
  const o = message as Obj;
  // A recording's own receive time; one it carries must be one (a wrong one would move event time).
  if (
    o.recvTs !== undefined &&
    !(typeof o.recvTs === "number" && Number.isSafeInteger(o.recvTs) && o.recvTs >= 0)
  )
    return {
      ok: false,
      reason: {
        code: typeof o.recvTs === "number" ? "out_of_range" : "wrong_type",
        field: "recvTs",
        message: `recvTs must be a whole number of ms ≥ 0, got ${JSON.stringify(o.recvTs)}`,
      },
    };
  const ts = o.recvTs === undefined ? recvTs : (o.recvTs as number);
  try {
    switch (o.txType) {
      case "create":
        return { ok: true, events: create(o, ts) };
      case "buy":
      case "sell":
        return { ok: true, events: [trade(o, o.txType, ts, 0, "tokenAmount", false)] };
      case "migrate":
        return { ok: true, events: [] };
      default:
        return {
          ok: false,
          reason: {
            code: "unknown_kind",
            field: "txType",
            message: `unknown txType ${JSON.stringify(o.txType)}`,
          },
        };
    }
  } catch (error) {
    if (error instanceof Reject) return { ok: false, reason: error.reason };
    throw error;
  }
}

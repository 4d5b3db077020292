/**
 * pump.fun's Anchor events, as its program logs them (`Program data: <base64>`): an 8-byte discriminator,
 * sha256("event:<Name>")[0..8], then the fields in Borsh (little-endian integers, u32-prefixed strings,
 * 32-byte public keys). Newer program versions append fields to both events; what is read here is the
 * prefix every version has, plus CreateEvent's reserves when present.
 */
import { encodeBase58 } from "./base58.ts";

export const PUMP_PROGRAM_ID = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P";

export interface PumpTradeEvent {
  name: "TradeEvent";
  mint: string;
  solAmount: number;
  tokenAmount: number;
  isBuy: boolean;
  user: string;
  /** Seconds. */
  timestamp: number;
  virtualSolReserves: number;
  virtualTokenReserves: number;
}

export interface PumpCreateEvent {
  name: "CreateEvent";
  tokenName: string;
  symbol: string;
  uri: string;
  mint: string;
  bondingCurve: string;
  user: string;
  /** The fields newer program versions add; absent from older logs. */
  extended?: {
    creator: string;
    timestamp: number;
    virtualTokenReserves: number;
    virtualSolReserves: number;
    realTokenReserves: number;
    tokenTotalSupply: number;
  };
}

export type PumpEvent = PumpTradeEvent | PumpCreateEvent;

/** Why a payload with a known discriminator did not decode. */
export class PumpEventError extends Error {}

function discriminator(event: string): string {
  return new Bun.CryptoHasher("sha256").update(`event:${event}`).digest("hex").slice(0, 16);
}

export const TRADE_EVENT_DISCRIMINATOR = discriminator("TradeEvent");
export const CREATE_EVENT_DISCRIMINATOR = discriminator("CreateEvent");

/** A cursor over Borsh bytes that names the field it could not read. */
class Reader {
  #at = 8;
  constructor(
    readonly bytes: Uint8Array,
    readonly event: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.#at;
  }

  #take(n: number, field: string): Uint8Array {
    if (this.remaining < n) {
      throw new PumpEventError(
        `${this.event}.${field}: needs ${n} bytes at offset ${this.#at}, the payload has ${this.bytes.length}`,
      );
    }
    const slice = this.bytes.subarray(this.#at, this.#at + n);
    this.#at += n;
    return slice;
  }

  pubkey(field: string): string {
    return encodeBase58(this.#take(32, field));
  }

  u64(field: string): number {
    const b = this.#take(8, field);
    const value = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new PumpEventError(`${this.event}.${field}: ${value} exceeds the safe integer range`);
    }
    return Number(value);
  }

  i64(field: string): number {
    const b = this.#take(8, field);
    const value = new DataView(b.buffer, b.byteOffset, 8).getBigInt64(0, true);
    if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new PumpEventError(`${this.event}.${field}: ${value} is out of range`);
    }
    return Number(value);
  }

  bool(field: string): boolean {
    const b = this.#take(1, field)[0];
    if (b !== 0 && b !== 1) throw new PumpEventError(`${this.event}.${field}: ${b} is not a bool`);
    return b === 1;
  }

  string(field: string): string {
    const b = this.#take(4, field);
    const length = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
    return new TextDecoder("utf-8", { fatal: false }).decode(this.#take(length, field));
  }
}

function trade(r: Reader): PumpTradeEvent {
  return {
    name: "TradeEvent",
    mint: r.pubkey("mint"),
    solAmount: r.u64("solAmount"),
    tokenAmount: r.u64("tokenAmount"),
    isBuy: r.bool("isBuy"),
    user: r.pubkey("user"),
    timestamp: r.i64("timestamp"),
    virtualSolReserves: r.u64("virtualSolReserves"),
    virtualTokenReserves: r.u64("virtualTokenReserves"),
  };
}

const EXTENDED_CREATE_BYTES = 32 + 8 * 5;

function create(r: Reader): PumpCreateEvent {
  const event: PumpCreateEvent = {
    name: "CreateEvent",
    tokenName: r.string("name"),
    symbol: r.string("symbol"),
    uri: r.string("uri"),
    mint: r.pubkey("mint"),
    bondingCurve: r.pubkey("bondingCurve"),
    user: r.pubkey("user"),
  };
  if (r.remaining >= EXTENDED_CREATE_BYTES) {
    event.extended = {
      creator: r.pubkey("creator"),
      timestamp: r.i64("timestamp"),
      virtualTokenReserves: r.u64("virtualTokenReserves"),
      virtualSolReserves: r.u64("virtualSolReserves"),
      realTokenReserves: r.u64("realTokenReserves"),
      tokenTotalSupply: r.u64("tokenTotalSupply"),
    };
  }
  return event;
}

/**
 * Decodes one event payload. Null for a discriminator other than TradeEvent / CreateEvent (the program
 * logs others, such as CompleteEvent, that carry nothing the detectors use); throws
 * {@link PumpEventError} when a known event is cut short or holds an impossible value.
 */
export function decodePumpEvent(bytes: Uint8Array): PumpEvent | null {
  if (bytes.length < 8)
    throw new PumpEventError(`event payload of ${bytes.length} bytes has no discriminator`);
  const tag = Buffer.from(bytes.subarray(0, 8)).toString("hex");
  if (tag === TRADE_EVENT_DISCRIMINATOR) return trade(new Reader(bytes, "TradeEvent"));
  if (tag === CREATE_EVENT_DISCRIMINATOR) return create(new Reader(bytes, "CreateEvent"));
  return null;
}

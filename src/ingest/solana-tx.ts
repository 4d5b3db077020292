/**
 * Solana JSON-RPC `getTransaction` responses (`encoding: "json"`) → canonical events (DETECTORS.md section A,
 * [IDL] column): what ingest makes of a transaction recorded from a node.
 *
 * - pump.fun creates and trades come from the program's `Program data:` log lines (pump-events.ts). A line
 *   counts only while pump.fun is the running program, as the `invoke [n]` / `success` lines tell: another
 *   program may log bytes that look alike. `src = 'pump_idl'`.
 * - SOL transfers are System Program `Transfer` instructions, token transfers SPL Token (or Token-2022)
 *   `Transfer` / `TransferChecked` ones, with wallets (not token accounts) as `from` / `to`, read from the
 *   token balances. Instructions run by pump.fun (its curve payments, fees and token legs, which its events
 *   already report as the trade) are skipped; so are those of the pump.fun AMM, whose swaps are not decoded.
 *   `src = 'rpc_parsed'`.
 * - `slot` is the transaction's, `ts` its `blockTime` (s → ms; the events' own clock when a node left it
 *   null), `tsSrc = 'block'`. Events are numbered (`ix`) in the order the transaction ran them.
 * - A trade is `inCreateTx` when the transaction also created its mint; `balAfter` is the trader's token
 *   balance after the transaction, when the node reported one.
 * - Rejected, each with a reason naming the field: a JSON-RPC error or null result, a transaction that
 *   failed on chain (it changed nothing), truncated logs (events may be missing), a malformed `Program
 *   data:` line, and a transaction with nothing this ingest reads (the reason lists its programs).
 */
import { PUMP_TOTAL_SUPPLY } from "../detection/chain.ts";
import type { ChainEvent, InvalidEventCode, TokenCreated, Trade, Transfer } from "../detection/schema.ts";
import { decodeBase58 } from "./base58.ts";
import { decodePumpEvent, PUMP_PROGRAM_ID, type PumpEvent, PumpEventError } from "./pump-events.ts";
import type { MapResult } from "./pumpportal.ts";
import { INITIAL_VSOL, INITIAL_VTOK } from "./sim/curve.ts";

export const SYSTEM_PROGRAM_ID = "11111111111111111111111111111111";
export const TOKEN_PROGRAM_ID = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
export const TOKEN_2022_PROGRAM_ID = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
const PUMP_AMM_PROGRAM_ID = "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA";
/** Programs whose inner transfers are the legs of a trade, not transfers of their own. */
const TRADING_PROGRAMS: ReadonlySet<string> = new Set([PUMP_PROGRAM_ID, PUMP_AMM_PROGRAM_ID]);

const SYSTEM_TRANSFER = 2;
const TOKEN_TRANSFER = 3;
const TOKEN_TRANSFER_CHECKED = 12;

type Obj = Record<string, unknown>;

/** Thrown inside this module only, to unwind a bad field; never escapes {@link mapSolanaTx}. */
class Reject {
  constructor(
    readonly code: InvalidEventCode,
    readonly field: string,
    readonly message: string,
  ) {}
}

/** True for what looks like a `getTransaction` response or its bare `result`. */
export function isSolanaTx(o: object): boolean {
  return ("jsonrpc" in o && ("result" in o || "error" in o)) || ("transaction" in o && "meta" in o);
}

function object(value: unknown, field: string): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Reject(
      value === undefined ? "missing_field" : "wrong_type",
      field,
      `"${field}" must be an object`,
    );
  }
  return value as Obj;
}

function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new Reject(
      value === undefined ? "missing_field" : "wrong_type",
      field,
      `"${field}" must be an array`,
    );
  }
  return value;
}

function count(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new Reject(
      value === undefined ? "missing_field" : "wrong_type",
      field,
      `"${field}" must be an integer >= 0`,
    );
  }
  return value;
}

/** The transaction inside a response, or the response itself when it is a bare `result`. */
function unwrap(o: Obj): Obj {
  if (!("jsonrpc" in o)) return o;
  if (o.error !== undefined) {
    const error = object(o.error, "error");
    throw new Reject(
      "missing_field",
      "result",
      `JSON-RPC error ${String(error.code)}: ${String(error.message)}`,
    );
  }
  if (o.result === null)
    throw new Reject("missing_field", "result", "result is null: the node has no such transaction");
  return object(o.result, "result");
}

/** The account keys in the order instructions index them: static keys, then loaded writable, then readonly. */
function accountKeys(message: Obj, meta: Obj): string[] {
  const loaded =
    meta.loadedAddresses === undefined || meta.loadedAddresses === null
      ? {}
      : object(meta.loadedAddresses, "meta.loadedAddresses");
  const keys = [
    ...array(message.accountKeys, "transaction.message.accountKeys"),
    ...(loaded.writable === undefined ? [] : array(loaded.writable, "meta.loadedAddresses.writable")),
    ...(loaded.readonly === undefined ? [] : array(loaded.readonly, "meta.loadedAddresses.readonly")),
  ];
  for (const key of keys) {
    if (typeof key !== "string") {
      throw new Reject(
        "wrong_type",
        "transaction.message.accountKeys",
        'account keys must be strings: ask getTransaction for encoding "json"',
      );
    }
  }
  return keys as string[];
}

interface Instruction {
  program: string;
  accounts: string[];
  data: Uint8Array;
  /** 1 for a top-level instruction; null when the node did not record it (older transactions). */
  height: number | null;
  field: string;
}

function instruction(value: unknown, keys: string[], field: string): Instruction {
  const o = object(value, field);
  const key = (index: unknown, at: string): string => {
    const k = keys[count(index, at)];
    if (k === undefined) throw new Reject("out_of_range", at, `"${at}" indexes no account key`);
    return k;
  };
  const text = o.data;
  if (typeof text !== "string")
    throw new Reject("wrong_type", `${field}.data`, `"${field}.data" must be a string`);
  const data = decodeBase58(text);
  if (data === null) throw new Reject("wrong_type", `${field}.data`, `"${field}.data" is not base58`);
  return {
    program: key(o.programIdIndex, `${field}.programIdIndex`),
    accounts: array(o.accounts, `${field}.accounts`).map((a, i) => key(a, `${field}.accounts[${i}]`)),
    data,
    height: typeof o.stackHeight === "number" ? o.stackHeight : null,
    field,
  };
}

/** An event with where in the run it happened, so that logs and instructions sort into one order. */
interface Placed {
  /** The log line the event happened at (its `Program data:` line, or its instruction's `invoke`). */
  at: number;
  event: PumpEvent | SolTransfer | TokenMove;
}

/** The log line of each instruction's `invoke`: per top-level instruction, its own and its inner ones'. */
interface Invocations {
  top: number[];
  inner: number[][];
}

interface SolTransfer {
  name: "sol";
  from: string;
  to: string;
  lamports: number;
}

interface TokenMove {
  name: "token";
  source: string;
  destination: string;
  authority: string;
  amount: number;
  mint: string | null;
  decimals: number | null;
  field: string;
}

function u64(bytes: Uint8Array, at: number, field: string): number {
  const value = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Reject("unsafe_integer", field, `"${field}": ${value} exceeds the safe integer range`);
  }
  return Number(value);
}

/** The transfer an instruction makes, or null when it is another instruction. */
function transfer(ix: Instruction): SolTransfer | TokenMove | null {
  const { data, accounts } = ix;
  if (ix.program === SYSTEM_PROGRAM_ID) {
    if (data.length !== 12 || data[0] !== SYSTEM_TRANSFER || data[1] !== 0 || data[2] !== 0 || data[3] !== 0)
      return null;
    return {
      name: "sol",
      from: at(accounts, 0, ix),
      to: at(accounts, 1, ix),
      lamports: u64(data, 4, ix.field),
    };
  }
  if (ix.program !== TOKEN_PROGRAM_ID && ix.program !== TOKEN_2022_PROGRAM_ID) return null;
  if (data[0] === TOKEN_TRANSFER && data.length === 9) {
    return {
      name: "token",
      source: at(accounts, 0, ix),
      destination: at(accounts, 1, ix),
      authority: at(accounts, 2, ix),
      amount: u64(data, 1, ix.field),
      mint: null,
      decimals: null,
      field: ix.field,
    };
  }
  if (data[0] === TOKEN_TRANSFER_CHECKED && data.length === 10) {
    return {
      name: "token",
      source: at(accounts, 0, ix),
      mint: at(accounts, 1, ix),
      destination: at(accounts, 2, ix),
      authority: at(accounts, 3, ix),
      amount: u64(data, 1, ix.field),
      decimals: data[9] as number,
      field: ix.field,
    };
  }
  return null;
}

function at(accounts: string[], i: number, ix: Instruction): string {
  const account = accounts[i];
  if (account === undefined) {
    throw new Reject("missing_field", `${ix.field}.accounts`, `"${ix.field}.accounts" lacks account ${i}`);
  }
  return account;
}

/** Transfers of the top-level instructions and of the inner ones no trading program ran. */
function transfers(tops: Instruction[], meta: Obj, keys: string[], invoked: Invocations): Placed[] {
  const placed: Placed[] = [];
  const inner = new Map<number, Instruction[]>();
  const groups =
    meta.innerInstructions === null || meta.innerInstructions === undefined
      ? []
      : array(meta.innerInstructions, "meta.innerInstructions");
  groups.forEach((g, gi) => {
    const group = object(g, `meta.innerInstructions[${gi}]`);
    const field = `meta.innerInstructions[${gi}]`;
    inner.set(
      count(group.index, `${field}.index`),
      array(group.instructions, `${field}.instructions`).map((v, i) =>
        instruction(v, keys, `${field}.instructions[${i}]`),
      ),
    );
  });
  tops.forEach((top, index) => {
    if (TRADING_PROGRAMS.has(top.program)) return;
    // Logs that do not match the instructions (a node's quirk) still give the top-level order.
    const topLine = invoked.top[index] ?? Number.MAX_SAFE_INTEGER;
    const innerLines = invoked.inner[index] ?? [];
    const own = transfer(top);
    if (own !== null) placed.push({ at: topLine, event: own });
    // callers[h] is the program running at stack height h: an inner instruction at height h was called
    // by callers[1..h-1]. Without recorded heights only the top-level program is known.
    const callers: string[] = ["", top.program];
    for (const [k, ix] of (inner.get(index) ?? []).entries()) {
      const height = ix.height ?? 2;
      callers.length = height;
      callers[height] = ix.program;
      if (callers.slice(1, height).some((p) => TRADING_PROGRAMS.has(p))) continue;
      const moved = transfer(ix);
      if (moved !== null) placed.push({ at: innerLines[k] ?? topLine, event: moved });
    }
  });
  return placed;
}

const INVOKE = /^Program (\S+) invoke \[(\d+)\]$/;
const EXIT = /^Program (\S+) (success|failed)/;
const DATA = "Program data: ";
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** pump.fun's events from the logs, and where each instruction was invoked. */
function readLogs(meta: Obj): { events: Placed[]; invoked: Invocations } {
  const logs = array(meta.logMessages, "meta.logMessages");
  const placed: Placed[] = [];
  const invoked: Invocations = { top: [], inner: [] };
  const running: string[] = [];
  logs.forEach((line, i) => {
    const field = `meta.logMessages[${i}]`;
    if (typeof line !== "string") throw new Reject("wrong_type", field, `"${field}" must be a string`);
    if (line === "Log truncated") {
      throw new Reject("out_of_range", field, "the node truncated the logs, so events may be missing");
    }
    const invoke = INVOKE.exec(line);
    if (invoke) {
      const depth = Number(invoke[2]);
      if (depth === 1) {
        invoked.top.push(i);
        invoked.inner.push([]);
      } else invoked.inner.at(-1)?.push(i);
      running.length = depth - 1;
      running.push(invoke[1] as string);
      return;
    }
    if (EXIT.test(line)) {
      running.pop();
      return;
    }
    if (!line.startsWith(DATA) || running.at(-1) !== PUMP_PROGRAM_ID) return;
    const payload = line.slice(DATA.length);
    if (!BASE64.test(payload) || payload.length % 4 !== 0) {
      throw new Reject("wrong_type", field, `"${field}": pump.fun event data is not base64`);
    }
    try {
      const event = decodePumpEvent(Buffer.from(payload, "base64"));
      if (event !== null) placed.push({ at: i, event });
    } catch (error) {
      if (error instanceof PumpEventError)
        throw new Reject("out_of_range", field, `"${field}": ${error.message}`);
      throw error;
    }
  });
  return { events: placed, invoked };
}

interface TokenAccount {
  mint: string;
  owner: string | null;
  decimals: number;
  /** Raw units after the transaction (0 when only a pre-balance names the account). */
  post: number;
}

/** Token accounts by address, from the balances the node recorded around the transaction. */
function tokenAccounts(meta: Obj, keys: string[]): Map<string, TokenAccount> {
  const accounts = new Map<string, TokenAccount>();
  for (const side of ["preTokenBalances", "postTokenBalances"] as const) {
    const list = meta[side] === undefined || meta[side] === null ? [] : array(meta[side], `meta.${side}`);
    list.forEach((v, i) => {
      const field = `meta.${side}[${i}]`;
      const b = object(v, field);
      const address = keys[count(b.accountIndex, `${field}.accountIndex`)];
      const amount = object(b.uiTokenAmount, `${field}.uiTokenAmount`);
      if (address === undefined || typeof b.mint !== "string") {
        throw new Reject("wrong_type", field, `"${field}" names no account or mint`);
      }
      const raw = Number(amount.amount);
      if (!Number.isSafeInteger(raw) || raw < 0) {
        throw new Reject(
          "unsafe_integer",
          `${field}.uiTokenAmount.amount`,
          `"${field}.uiTokenAmount.amount" must be a safe integer`,
        );
      }
      accounts.set(address, {
        mint: b.mint,
        owner: typeof b.owner === "string" ? b.owner : null,
        decimals: count(amount.decimals, `${field}.uiTokenAmount.decimals`),
        post: side === "postTokenBalances" ? raw : (accounts.get(address)?.post ?? 0),
      });
    });
  }
  return accounts;
}

interface TxContext {
  signature: string;
  slot: number;
  ts: number;
  created: ReadonlySet<string>;
  accounts: Map<string, TokenAccount>;
}

function base(c: TxContext, ix: number, src: "pump_idl" | "rpc_parsed") {
  return {
    v: 1 as const,
    id: `${c.signature}:${ix}`,
    signature: c.signature,
    ix,
    slot: c.slot,
    ts: c.ts,
    tsSrc: "block" as const,
    src,
  };
}

function canonical(placed: Placed["event"], ix: number, c: TxContext): ChainEvent {
  switch (placed.name) {
    case "CreateEvent": {
      const x = placed.extended;
      const created: TokenCreated = {
        ...base(c, ix, "pump_idl"),
        kind: "create",
        mint: placed.mint,
        creator: x?.creator ?? placed.user,
        payer: placed.user,
        bondingCurve: placed.bondingCurve,
        name: placed.tokenName,
        symbol: placed.symbol,
        uri: placed.uri,
        // Older CreateEvents carry no reserves: every curve then started from the same constants [IDL].
        vSol: x?.virtualSolReserves ?? INITIAL_VSOL,
        vTok: x?.virtualTokenReserves ?? INITIAL_VTOK,
        totalSupply: x?.tokenTotalSupply ?? PUMP_TOTAL_SUPPLY,
      };
      return created;
    }
    case "TradeEvent": {
      const trade: Trade = {
        ...base(c, ix, "pump_idl"),
        kind: "trade",
        mint: placed.mint,
        trader: placed.user,
        side: placed.isBuy ? "buy" : "sell",
        sol: placed.solAmount,
        solDerived: false,
        tok: placed.tokenAmount,
        vSolAfter: placed.virtualSolReserves,
        vTokAfter: placed.virtualTokenReserves,
        inCreateTx: c.created.has(placed.mint),
        pool: "pump",
      };
      let balance: number | undefined;
      for (const account of c.accounts.values()) {
        if (account.owner === placed.user && account.mint === placed.mint)
          balance = (balance ?? 0) + account.post;
      }
      if (balance !== undefined) trade.balAfter = balance;
      return trade;
    }
    case "sol": {
      const sent: Transfer = {
        ...base(c, ix, "rpc_parsed"),
        kind: "transfer",
        asset: "SOL",
        from: placed.from,
        to: placed.to,
        amount: placed.lamports,
        decimals: 9,
      };
      return sent;
    }
    case "token": {
      const source = c.accounts.get(placed.source);
      const destination = c.accounts.get(placed.destination);
      const mint = placed.mint ?? source?.mint ?? destination?.mint;
      const decimals = placed.decimals ?? source?.decimals ?? destination?.decimals;
      if (mint === undefined || decimals === undefined) {
        throw new Reject(
          "missing_field",
          placed.field,
          `"${placed.field}": no token balance names the mint of account ${placed.source} or ${placed.destination}`,
        );
      }
      const sent: Transfer = {
        ...base(c, ix, "rpc_parsed"),
        kind: "transfer",
        asset: mint,
        from: source?.owner ?? placed.authority,
        // An account opened and closed within the transaction has no balance to name its owner.
        to: destination?.owner ?? placed.destination,
        amount: placed.amount,
        decimals,
      };
      return sent;
    }
  }
}

function eventSeconds(placed: Placed[]): number | undefined {
  for (const { event } of placed) {
    if (event.name === "TradeEvent") return event.timestamp;
    if (event.name === "CreateEvent" && event.extended) return event.extended.timestamp;
  }
  return undefined;
}

function map(o: Obj): ChainEvent[] {
  const tx = unwrap(o);
  const meta = object(tx.meta, "meta");
  if (meta.err !== null && meta.err !== undefined) {
    throw new Reject(
      "out_of_range",
      "meta.err",
      `the transaction failed on chain (${JSON.stringify(meta.err)}): it changed nothing`,
    );
  }
  const transaction = object(tx.transaction, "transaction");
  const message = object(transaction.message, "transaction.message");
  const signature = array(transaction.signatures, "transaction.signatures")[0];
  if (typeof signature !== "string" || signature.length === 0) {
    throw new Reject("missing_field", "transaction.signatures", "the transaction has no signature");
  }
  const keys = accountKeys(message, meta);
  const tops = array(message.instructions, "transaction.message.instructions").map((v, i) =>
    instruction(v, keys, `transaction.message.instructions[${i}]`),
  );
  const logs = readLogs(meta);
  // In the order the transaction ran them: the log lines say when each instruction and event happened.
  const placed = [...transfers(tops, meta, keys, logs.invoked), ...logs.events].sort((a, b) => a.at - b.at);
  if (placed.length === 0) {
    const programs = [...new Set(tops.map((ix) => ix.program))];
    throw new Reject(
      "unknown_kind",
      "transaction.message.instructions",
      `no pump.fun event, SOL transfer or token transfer in the transaction (programs: ${programs.join(", ")})`,
    );
  }
  const seconds =
    tx.blockTime === null || tx.blockTime === undefined
      ? eventSeconds(placed)
      : count(tx.blockTime, "blockTime");
  if (seconds === undefined)
    throw new Reject("missing_field", "blockTime", "blockTime is null and no event carries a time");
  const context: TxContext = {
    signature,
    slot: count(tx.slot, "slot"),
    ts: seconds * 1000,
    created: new Set(placed.flatMap(({ event }) => (event.name === "CreateEvent" ? [event.mint] : []))),
    accounts: tokenAccounts(meta, keys),
  };
  return placed.map(({ event }, ix) => canonical(event, ix, context));
}

/** Maps one parsed `getTransaction` response (or bare result) to the events it holds, or a reason. */
export function mapSolanaTx(value: unknown): MapResult {
  try {
    return { ok: true, events: map(object(value, "transaction")) };
  } catch (error) {
    if (error instanceof Reject) {
      return { ok: false, reason: { code: error.code, field: error.field, message: error.message } };
    }
    throw error;
  }
}

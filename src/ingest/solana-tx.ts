/**
 * Solana JSON-RPC `getTransaction` responses (`encoding: "json"`) → canonical events (DETECTORS.md section A,
 * [IDL] column): what ingest makes of a transaction recorded from a node.
 *
 * - pump.fun creates and trades come from the program's `Program data:` log lines (pump-events.ts). A line
 *   counts only while pump.fun is the running program, as the `invoke [n]` / `success` lines tell: another
 *   program may log bytes that look alike. `src = 'pump_idl'`.
 * - SOL and token transfers (solana-instructions.ts): System Program `Transfer`, SPL Token (or Token-2022)
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
import type { ChainEvent, TokenCreated, Trade, Transfer } from "../detection/schema.ts";
import { decodePumpEvent, PUMP_PROGRAM_ID, PumpEventError } from "./pump-events.ts";
import type { MapResult } from "./pumpportal.ts";
import { INITIAL_VSOL, INITIAL_VTOK } from "./sim/curve.ts";
import { array, count, type Obj, object, Reject } from "./solana-fields.ts";
import { type Invocations, instruction, type Placed, transfers } from "./solana-instructions.ts";

/** True for what looks like a `getTransaction` response or its bare `result`. */
export function isSolanaTx(o: object): boolean {
  return ("jsonrpc" in o && ("result" in o || "error" in o)) || ("transaction" in o && "meta" in o);
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

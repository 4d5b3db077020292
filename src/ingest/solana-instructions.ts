/**
 * A transaction's instructions, and the SOL and token transfers among them: System Program `Transfer`,
 * SPL Token (or Token-2022) `Transfer` / `TransferChecked`. Instructions run by a trading program (its
 * curve payments, fees and token legs, which its events already report as the trade) are skipped; which
 * program ran an inner instruction is read from the stack heights the node recorded.
 */
import { decodeBase58 } from "./base58.ts";
import { PUMP_PROGRAM_ID, type PumpEvent } from "./pump-events.ts";
import { array, count, type Obj, object, Reject } from "./solana-fields.ts";

export const SYSTEM_PROGRAM_ID = "11111111111111111111111111111111";
export const TOKEN_PROGRAM_ID = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
export const TOKEN_2022_PROGRAM_ID = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
const PUMP_AMM_PROGRAM_ID = "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA";
/** Programs whose inner transfers are the legs of a trade, not transfers of their own. */
const TRADING_PROGRAMS: ReadonlySet<string> = new Set([PUMP_PROGRAM_ID, PUMP_AMM_PROGRAM_ID]);

const SYSTEM_TRANSFER = 2;
const TOKEN_TRANSFER = 3;
const TOKEN_TRANSFER_CHECKED = 12;

export interface Instruction {
  program: string;
  accounts: string[];
  data: Uint8Array;
  /** 1 for a top-level instruction; null when the node did not record it (older transactions). */
  height: number | null;
  field: string;
}

export function instruction(value: unknown, keys: string[], field: string): Instruction {
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
export interface Placed {
  /** The log line the event happened at (its `Program data:` line, or its instruction's `invoke`). */
  at: number;
  event: PumpEvent | SolTransfer | TokenMove;
}

/** The log line of each instruction's `invoke`: per top-level instruction, its own and its inner ones'. */
export interface Invocations {
  top: number[];
  inner: number[][];
}

export interface SolTransfer {
  name: "sol";
  from: string;
  to: string;
  lamports: number;
}

export interface TokenMove {
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
export function transfers(tops: Instruction[], meta: Obj, keys: string[], invoked: Invocations): Placed[] {
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

/**
 * getTransaction responses → canonical events: every field of each kind, the order events get within a
 * transaction, and the clear reason a transaction that cannot be read gets. The responses come from the
 * fixture encoder (test/fixtures/solana-tx/encoder.ts), which writes them as a node does.
 */
import { describe, expect, test } from "bun:test";
import type { ChainEvent, Trade } from "../../src/detection/schema.ts";
import { decodeBase58, encodeBase58 } from "../../src/ingest/base58.ts";
import { parseJsonl, replayJsonl } from "../../src/ingest/jsonl.ts";
import { decodePumpEvent, PUMP_PROGRAM_ID } from "../../src/ingest/pump-events.ts";
import { mapSolanaTx } from "../../src/ingest/solana-tx.ts";
import {
  Chain,
  createEventData,
  key,
  SOL,
  signature,
  tokenAccount,
  tradeEventData,
} from "../fixtures/solana-tx/encoder.ts";
import {
  BUNDLE,
  DEV,
  LAUNCH_FILE,
  launchText,
  MINT,
  recordings,
  SLOT0,
  T0,
  TRANSFERS_FILE,
  transfersText,
} from "../fixtures/solana-tx/recordings.ts";

type Response = { result: { blockTime: number | null; meta: Record<string, unknown> } };

function events(response: object): ChainEvent[] {
  const mapped = mapSolanaTx(response);
  if (!mapped.ok) throw new Error(`rejected: ${mapped.reason.message}`);
  return mapped.events;
}

function reason(response: object) {
  const mapped = mapSolanaTx(response);
  if (mapped.ok) throw new Error("accepted");
  return mapped.reason;
}

/** A launch (create + dev buy) on a fresh chain. */
function launchTx(chain = new Chain()): Response {
  chain.fund(DEV, 3 * SOL);
  return chain.tx(
    "create",
    [DEV],
    [
      {
        kind: "create",
        mint: MINT,
        dev: DEV,
        name: "Fixture Coin",
        symbol: "FIX",
        uri: "https://x.invalid/f",
      },
      { kind: "buy", mint: MINT, wallet: DEV, lamports: 0.5 * SOL },
    ],
    { slot: SLOT0, blockTime: T0 },
  ) as Response;
}

function logs(response: Response): string[] {
  return response.result.meta.logMessages as string[];
}

describe("base58", () => {
  test("round-trips keys, and leading zero bytes as leading 1s", () => {
    expect(encodeBase58(decodeBase58(PUMP_PROGRAM_ID) as Uint8Array)).toBe(PUMP_PROGRAM_ID);
    expect(decodeBase58("11111111111111111111111111111111")).toEqual(new Uint8Array(32));
    expect(encodeBase58(new Uint8Array([0, 0, 1]))).toBe("112");
    expect(decodeBase58("0OIl")).toBeNull();
  });
});

describe("mapSolanaTx", () => {
  test("a create with the dev's buy: TokenCreated (ix 0) and a Trade in the create tx (ix 1), every field", () => {
    const [created, devBuy, ...rest] = events(launchTx());
    const sig = signature("create");
    expect(rest).toEqual([]);
    expect(created).toEqual({
      v: 1,
      id: `${sig}:0`,
      signature: sig,
      ix: 0,
      slot: SLOT0,
      ts: T0 * 1000,
      tsSrc: "block",
      src: "pump_idl",
      kind: "create",
      mint: key(MINT),
      creator: key(DEV),
      payer: key(DEV),
      bondingCurve: key(`${MINT}:curve`),
      name: "Fixture Coin",
      symbol: "FIX",
      uri: "https://x.invalid/f",
      // An older CreateEvent carries no reserves: the curve's starting constants.
      vSol: 30_000_000_000,
      vTok: 1_073_000_000_000_000,
      totalSupply: 1_000_000_000_000_000,
    });
    const tok = Math.floor(1_073_000_000_000_000 - (30e9 * 1_073_000_000_000_000) / 30.5e9);
    expect(devBuy).toEqual({
      v: 1,
      id: `${sig}:1`,
      signature: sig,
      ix: 1,
      slot: SLOT0,
      ts: T0 * 1000,
      tsSrc: "block",
      src: "pump_idl",
      kind: "trade",
      mint: key(MINT),
      trader: key(DEV),
      side: "buy",
      sol: 500_000_000,
      solDerived: false,
      tok,
      vSolAfter: 30_500_000_000,
      vTokAfter: 1_073_000_000_000_000 - tok,
      balAfter: tok,
      inCreateTx: true,
      pool: "pump",
    });
  });

  test("a bundle: four trades numbered in order, one slot and time, and none of pump.fun's own transfers", () => {
    const { launch } = recordings();
    const bundle = events(launch[1] as object) as Trade[];
    expect(bundle.map((t) => [t.ix, t.trader, t.side, t.sol, t.inCreateTx, t.slot])).toEqual(
      BUNDLE.map((w, i) => [i, key(w), "buy", SOL, false, SLOT0 + 1]),
    );
    // Each buy moves the curve: later buys get fewer tokens for the same SOL.
    for (let i = 1; i < 4; i++) expect(bundle[i]!.tok).toBeLessThan(bundle[i - 1]!.tok);
    expect(bundle.map((t) => t.balAfter)).toEqual(bundle.map((t) => t.tok));
    // The recording's wallets start alike, as a bundler funds them.
    const pre = (launch[1] as Response).result.meta.preBalances as number[];
    expect(pre.slice(0, 4)).toEqual([1.5 * SOL, 1.5 * SOL, 1.5 * SOL, 1.5 * SOL]);
  });

  test("a sell: side, SOL out of the curve, and the balance left", () => {
    const { launch } = recordings();
    const [sell] = events(launch[5] as object) as Trade[];
    expect(sell).toMatchObject({ side: "sell", trader: key("crowd-1"), inCreateTx: false });
    expect(sell!.sol).toBeGreaterThan(0);
    expect(sell!.balAfter).toBeGreaterThan(0);
  });

  test("SOL and token transfers: wallets (not token accounts) as from / to, the mint as asset", () => {
    const { transfers } = recordings();
    expect(events(transfers[0] as object)).toEqual([
      {
        v: 1,
        id: `${signature("sol-transfer")}:0`,
        signature: signature("sol-transfer"),
        ix: 0,
        slot: SLOT0 + 500,
        ts: (T0 + 200) * 1000,
        tsSrc: "block",
        src: "rpc_parsed",
        kind: "transfer",
        asset: "SOL",
        from: key("whale"),
        to: key("friend"),
        amount: 2 * SOL,
        decimals: 9,
      },
    ]);
    const [checked] = events(transfers[1] as object);
    expect(checked).toMatchObject({
      src: "rpc_parsed",
      kind: "transfer",
      asset: key(MINT),
      from: key("crowd-3"),
      to: key("friend"),
      amount: 1_000_000_000_000,
      decimals: 6,
    });
    // A plain Transfer names no mint: it comes from the token balances.
    const [plain] = events(transfers[2] as object);
    expect(plain).toMatchObject({ asset: key(MINT), from: key("bundle-2"), to: key("friend"), decimals: 6 });
  });

  test("a token transfer to an account no balance names (opened and closed in the tx): the account as `to`", () => {
    const response = recordings().transfers[2] as Response;
    const meta = response.result.meta as Record<string, { owner: string }[]>;
    for (const side of ["preTokenBalances", "postTokenBalances"]) {
      meta[side] = meta[side]!.filter((b) => b.owner !== key("friend"));
    }
    expect(events(response)).toMatchObject([
      { asset: key(MINT), from: key("bundle-2"), to: tokenAccount(key("friend"), key(MINT)), decimals: 6 },
    ]);
    for (const side of ["preTokenBalances", "postTokenBalances"]) meta[side] = [];
    expect(reason(response)).toMatchObject({
      code: "missing_field",
      field: "transaction.message.instructions[0]",
    });
  });

  test("pump.fun called by a router: its events read at depth 2, its own payments skipped, the router's tip kept", () => {
    const chain = new Chain();
    launchTx(chain);
    chain.fund("w", SOL);
    const response = chain.tx(
      "routed",
      ["w"],
      [{ kind: "buy", mint: MINT, wallet: "w", lamports: 0.1 * SOL }],
      {
        slot: SLOT0 + 3,
        blockTime: T0 + 1,
      },
    ) as Response & {
      result: { transaction: { message: { accountKeys: string[]; instructions: object[] } } };
    };
    const direct = events(response);
    // Rewrite the buy as a router's instruction that calls pump.fun and tips: as bots send them.
    const message = response.result.transaction.message;
    const meta = response.result.meta as {
      innerInstructions: { index: number; instructions: { stackHeight: number }[] }[];
      logMessages: string[];
    };
    const router = message.accountKeys.push(key("router")) - 1;
    const tipAccount = message.accountKeys.push(key("tip")) - 1;
    const wallet = message.accountKeys.indexOf(key("w"));
    const pumpIx = { ...(message.instructions[0] as object), stackHeight: 2 };
    message.instructions[0] = { programIdIndex: router, accounts: [wallet], data: "2", stackHeight: null };
    const group = meta.innerInstructions[0]!;
    const tip = new Uint8Array(12);
    tip[0] = 2;
    new DataView(tip.buffer).setBigUint64(4, 1_000_000n, true);
    group.instructions = [
      pumpIx,
      ...group.instructions.map((ix) => ({ ...ix, stackHeight: ix.stackHeight + 1 })),
      { programIdIndex: 2, accounts: [wallet, tipAccount], data: encodeBase58(tip), stackHeight: 2 },
    ] as { stackHeight: number }[];
    (group.instructions.at(-1) as unknown as { programIdIndex: number }).programIdIndex =
      message.accountKeys.indexOf("11111111111111111111111111111111");
    meta.logMessages = [
      `Program ${key("router")} invoke [1]`,
      ...meta.logMessages.map((l) => l.replace(/invoke \[(\d+)\]$/, (_, n) => `invoke [${Number(n) + 1}]`)),
      "Program 11111111111111111111111111111111 invoke [2]",
      "Program 11111111111111111111111111111111 success",
      `Program ${key("router")} success`,
    ];
    const [trade, sent, ...rest] = events(response);
    expect(rest).toEqual([]);
    expect(trade).toEqual(direct[0]);
    expect(sent).toMatchObject({
      ix: 1,
      kind: "transfer",
      asset: "SOL",
      from: key("w"),
      to: key("tip"),
      amount: 1_000_000,
    });
  });

  test("a bare result (no JSON-RPC envelope) maps alike; a null blockTime falls back to the event's clock", () => {
    const response = launchTx();
    expect(events(response.result)).toEqual(events(response));
    response.result.blockTime = null;
    expect(events(response).map((e) => e.ts)).toEqual([T0 * 1000, T0 * 1000]);
  });

  test("CreateEvent's newer layout: creator and reserves from the event", () => {
    const older = createEventData({
      name: "N",
      symbol: "S",
      uri: "U",
      mint: "m",
      bondingCurve: "c",
      user: "payer",
    });
    const tail = Buffer.alloc(32 + 40);
    tail.set(decodeBase58(key("creator")) as Uint8Array, 0);
    for (const [i, n] of [T0, 1_000, 2_000, 3_000, 4_000].entries()) {
      tail.writeBigUInt64LE(BigInt(n), 32 + 8 * i);
    }
    expect(decodePumpEvent(Buffer.concat([older, tail]))).toMatchObject({
      name: "CreateEvent",
      tokenName: "N",
      user: key("payer"),
      extended: {
        creator: key("creator"),
        timestamp: T0,
        virtualTokenReserves: 1_000,
        virtualSolReserves: 2_000,
        realTokenReserves: 3_000,
        tokenTotalSupply: 4_000,
      },
    });
  });

  test("another pump.fun event (not a create or trade) is skipped", () => {
    expect(decodePumpEvent(new Uint8Array(40))).toBeNull();
  });

  describe("rejected, with the reason naming the field", () => {
    test("a Program data line that is not base64", () => {
      const response = launchTx();
      const at = logs(response).findIndex((l) => l.startsWith("Program data: "));
      logs(response)[at] = "Program data: not*base64!";
      expect(reason(response)).toEqual({
        code: "wrong_type",
        field: `meta.logMessages[${at}]`,
        message: `"meta.logMessages[${at}]": pump.fun event data is not base64`,
      });
    });

    test("a TradeEvent cut short", () => {
      const response = launchTx();
      const lines = logs(response);
      const at = lines.findLastIndex((l) => l.startsWith("Program data: "));
      const payload = Buffer.from(lines[at]!.slice("Program data: ".length), "base64").subarray(0, 52);
      lines[at] = `Program data: ${payload.toString("base64")}`;
      expect(reason(response)).toMatchObject({
        code: "out_of_range",
        field: `meta.logMessages[${at}]`,
        message: expect.stringContaining(
          "TradeEvent.tokenAmount: needs 8 bytes at offset 48, the payload has 52",
        ),
      });
    });

    test("an unknown program: its Program data is not read as pump.fun's, and nothing else is there", () => {
      const chain = new Chain();
      chain.fund("w", SOL);
      const trade = tradeEventData({
        mint: MINT,
        solAmount: 1,
        tokenAmount: 1,
        isBuy: true,
        user: "w",
        timestamp: T0,
        virtualSolReserves: 31 * SOL,
        virtualTokenReserves: 1_000_000_000_000_000,
      });
      const response = chain.tx(
        "other",
        ["w"],
        [
          {
            kind: "program",
            program: "other-program",
            signer: "w",
            logs: [`Program data: ${Buffer.from(trade).toString("base64")}`],
          },
        ],
        { slot: SLOT0, blockTime: T0 },
      );
      expect(reason(response)).toEqual({
        code: "unknown_kind",
        field: "transaction.message.instructions",
        message: `no pump.fun event, SOL transfer or token transfer in the transaction (programs: ${key("other-program")})`,
      });
    });

    test("a transaction that failed on chain", () => {
      const chain = new Chain();
      chain.fund("w", SOL);
      const failed = chain.tx("f", ["w"], [{ kind: "sol", from: "w", to: "v", lamports: 1 }], {
        slot: SLOT0,
        blockTime: T0,
        failed: true,
      });
      expect(reason(failed)).toMatchObject({ code: "out_of_range", field: "meta.err" });
    });

    test("truncated logs, a JSON-RPC error, a null result, jsonParsed account keys", () => {
      const truncated = launchTx();
      logs(truncated).push("Log truncated");
      expect(reason(truncated).message).toBe("the node truncated the logs, so events may be missing");
      expect(
        reason({ jsonrpc: "2.0", error: { code: -32009, message: "Slot 1 was skipped" }, id: 1 }).message,
      ).toBe("JSON-RPC error -32009: Slot 1 was skipped");
      expect(reason({ jsonrpc: "2.0", result: null, id: 1 }).message).toBe(
        "result is null: the node has no such transaction",
      );
      const parsed = launchTx() as unknown as {
        result: { transaction: { message: { accountKeys: unknown[] } } };
      };
      const keys = parsed.result.transaction.message.accountKeys;
      parsed.result.transaction.message.accountKeys = keys.map((pubkey) => ({ pubkey, signer: false }));
      expect(reason(parsed).message).toBe(
        'account keys must be strings: ask getTransaction for encoding "json"',
      );
    });
  });
});

describe("the recorded fixtures", () => {
  test("hold what the encoder builds (regenerate: bun test/fixtures/solana-tx/recordings.ts)", async () => {
    const { launch, transfers } = recordings();
    expect(JSON.parse(await Bun.file(LAUNCH_FILE).text())).toEqual(JSON.parse(launchText(launch)));
    expect(await Bun.file(TRANSFERS_FILE).text()).toBe(transfersText(transfers));
  });

  test("a JSON array is read element by element, numbered like lines, streamed or whole", async () => {
    const text = await Bun.file(LAUNCH_FILE).text();
    const streamed = await Array.fromAsync(replayJsonl(Bun.file(LAUNCH_FILE).stream()));
    expect(streamed.map((r) => [r.line, r.ok])).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => [n, true]));
    expect([...parseJsonl(text)]).toEqual(streamed);
    expect(streamed.flatMap((r) => (r.ok ? r.events : [])).length).toBe(11);
  });

  test("only a source that starts with one is an array: a later line of JSON lines starting with [ is one bad line", async () => {
    const text = `${(await Bun.file(TRANSFERS_FILE).text()).split("\n")[0]}\n[1, 2]\n`;
    const streamed = await Array.fromAsync(replayJsonl(new Blob([text]).stream()));
    expect(streamed.map((r) => [r.line, r.ok])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect([...parseJsonl(text)]).toEqual(streamed);
  });

  test("a broken array is one bad_json record", () => {
    expect([...parseJsonl('[{"jsonrpc": "2.0",')]).toMatchObject([
      { ok: false, line: 1, reason: { code: "bad_json" } },
    ]);
  });
});

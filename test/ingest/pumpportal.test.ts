import { describe, expect, test } from "bun:test";
import { mapPumpPortal, recoverSol } from "../../src/ingest/pumpportal.ts";
import { Curve } from "../../src/ingest/sim/curve.ts";

const RECV = 1_760_000_000_123;

const createMsg = {
  signature: "5sigCreate",
  mint: "MintAaa",
  traderPublicKey: "DevBbb",
  txType: "create",
  initialBuy: 34612903.225806,
  solAmount: 1,
  bondingCurveKey: "CurveCcc",
  vTokensInBondingCurve: 1038387096.774194,
  vSolInBondingCurve: 31,
  marketCapSol: 29.85,
  name: "Moon Peg",
  symbol: "MPEG",
  uri: "https://ipfs.invalid/x",
  pool: "pump",
};

describe("mapPumpPortal", () => {
  test("create → TokenCreated (ix 0) + the dev buy in the create tx (ix 1)", () => {
    const result = mapPumpPortal(createMsg, RECV);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const [created, devBuy] = result.events;
    expect(created).toMatchObject({
      kind: "create",
      id: "5sigCreate:0",
      slot: null,
      ts: RECV,
      tsSrc: "recv",
      src: "pumpportal",
      creator: "DevBbb",
      payer: "DevBbb",
      vSol: 30_000_000_000,
      vTok: 1_073_000_000_000_000,
      totalSupply: 1_000_000_000_000_000,
    });
    expect(devBuy).toMatchObject({
      kind: "trade",
      id: "5sigCreate:1",
      ix: 1,
      side: "buy",
      trader: "DevBbb",
      sol: 1_000_000_000,
      solDerived: false,
      tok: 34_612_903_225_806,
      inCreateTx: true,
      balAfter: 34_612_903_225_806,
    });
  });

  test("old-format trades without solAmount recover it from the curve, both sides", () => {
    const curve = new Curve();
    curve.buy(5_000_000_000);
    for (const [side, step] of [
      ["buy", () => curve.buy(700_000_000)],
      ["sell", () => curve.sell(20_000_000_000_000)],
    ] as const) {
      const { sol, tok } = step();
      const message = {
        signature: `sig-${side}`,
        mint: "MintAaa",
        traderPublicKey: "Trader",
        txType: side,
        tokenAmount: tok / 1e6,
        newTokenBalance: 1.5,
        vTokensInBondingCurve: curve.vTok / 1e6,
        vSolInBondingCurve: curve.vSol / 1e9,
        marketCapSol: 40,
        pool: "pump",
      };
      const result = mapPumpPortal(message, RECV);
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      const trade = result.events[0]!;
      expect(trade).toMatchObject({
        kind: "trade",
        side,
        solDerived: true,
        balAfter: 1_500_000,
        inCreateTx: false,
      });
      if (trade.kind === "trade") expect(Math.abs(trade.sol - sol)).toBeLessThanOrEqual(2);
    }
  });

  test("recoverSol inverts the constant product", () => {
    expect(recoverSol("buy", 40e9, 800e12, 50e12)).toBe(Math.round(40e9 - (40e9 * 800e12) / 850e12));
    expect(recoverSol("sell", 40e9, 800e12, 50e12)).toBe(Math.round((40e9 * 800e12) / 750e12 - 40e9));
  });

  test("recvTs stamped by the recorder wins; migrate maps to nothing", () => {
    const result = mapPumpPortal({ ...createMsg, recvTs: 42, initialBuy: 0 }, RECV);
    expect(result.ok && result.events.map((e) => [e.kind, e.ts])).toEqual([["create", 42]]);
    expect(mapPumpPortal({ signature: "s", mint: "m", txType: "migrate" }, RECV)).toEqual({
      ok: true,
      events: [],
    });
  });

  const bad: [string, unknown, object][] = [
    ["unknown txType", { ...createMsg, txType: "swap" }, { code: "unknown_kind", field: "txType" }],
    [
      "missing trader",
      { ...createMsg, traderPublicKey: undefined },
      { code: "missing_field", field: "traderPublicKey" },
    ],
    ["string amount", { ...createMsg, solAmount: "1" }, { code: "wrong_type", field: "solAmount" }],
    [
      "overflowing amount",
      { ...createMsg, vSolInBondingCurve: 1e12 },
      { code: "unsafe_integer", field: "vSolInBondingCurve" },
    ],
    ["other pool", { ...createMsg, pool: "bonk" }, { code: "out_of_range", field: "pool" }],
    // Taken for the receive time before: event time jumped to the replay's wall clock.
    [
      "a recvTs that is no time",
      { ...createMsg, recvTs: "2024-01-01T00:00:00Z" },
      { code: "wrong_type", field: "recvTs" },
    ],
    ["a negative recvTs", { ...createMsg, recvTs: -5 }, { code: "out_of_range", field: "recvTs" }],
    ["not an object", "create", { code: "not_object" }],
  ];
  for (const [name, message, reason] of bad) {
    test(`rejects ${name} with a reason`, () => {
      const result = mapPumpPortal(message, RECV);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatchObject(reason);
    });
  }
});

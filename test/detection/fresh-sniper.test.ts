import { describe, expect, test } from "bun:test";
import { WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";
import { at, buy, create, DAY, fund, T0 } from "./events.ts";
import { history, run } from "./run.ts";

describe("W2 fresh_sniper", () => {
  test("fresh wallets sniping ≥ 10% fire med, ≥ 25% escalate to high", () => {
    const alerts = run(new WalletAnalyzer(), [
      create("M", "dev"),
      buy("M", "dev", at(0), { supply: 0.05, inCreateTx: true }),
      buy("M", "a", at(1), { supply: 0.06 }),
      buy("M", "b", at(2), { supply: 0.06 }),
      buy("M", "c", at(3), { supply: 0.15 }),
    ]);
    expect(alerts.map((a) => [a.severity, a.wallets])).toEqual([
      ["med", ["a", "b"]],
      ["high", ["a", "b", "c"]],
    ]);
    expect(alerts[0]).toMatchObject({
      detector: "fresh_sniper",
      analyzer: "wallet",
      mint: "M",
      key: "M",
      timing: "exact",
    });
    expect(alerts[0]!.evidence).toMatchObject({ supplyFraction: 0.12, snipers: 2, slotDelta: 2 });
    expect(alerts[0]!.groupId).toBe(alerts[1]!.groupId);
    expect(alerts[0]!.alertId).not.toBe(alerts[1]!.alertId);
  });

  test("near miss: aged sniper bots with a week of history stay quiet", () => {
    const bots = ["bot1", "bot2", "bot3"];
    const prefix = bots.flatMap((bot) => history((ts) => fund("exchange", bot, ts, 3), T0, 8));
    const alerts = run(new WalletAnalyzer(), [
      ...prefix,
      create("M", "dev"),
      ...bots.map((bot, i) => buy("M", bot, at(1 + i), { supply: 0.1 })),
    ]);
    expect(alerts).toEqual([]);
  });

  test("near miss: fresh buys after slot 5, and the creator's own buys, do not count", () => {
    const alerts = run(new WalletAnalyzer(), [
      create("M", "dev"),
      buy("M", "dev", at(1), { supply: 0.2 }),
      buy("M", "late", at(6), { supply: 0.3 }),
    ]);
    expect(alerts).toEqual([]);
  });

  test("a wallet an hour old is no longer fresh; thresholds are configurable", () => {
    const events = [
      fund("exchange", "w", T0 - 2 * 3_600_000, 5),
      create("M", "dev"),
      buy("M", "w", at(1), { supply: 0.2 }),
    ];
    expect(run(new WalletAnalyzer(), events)).toEqual([]);
    const lenient = new WalletAnalyzer({ detectors: { fresh_sniper: { freshMaxAgeMs: 3 * 3_600_000 } } });
    expect(run(lenient, events).map((a) => a.severity)).toEqual(["med"]);
  });

  test("before an hour of observation the alert says it is warming up", () => {
    const [alert] = run(new WalletAnalyzer(), [create("M", "dev"), buy("M", "a", at(1), { supply: 0.12 })]);
    expect(alert?.evidence.warmup).toBe(true);
    const [late] = run(new WalletAnalyzer(), [
      fund("x", "y", T0 - DAY / 2, 1),
      create("M", "dev"),
      buy("M", "a", at(1), { supply: 0.12 }),
    ]);
    expect(late?.evidence.warmup).toBe(false);
  });
});

/**
 * Issue 18 point 2: a wallet's age and first funder outlive the 24 h idle prune of its full entry, as a
 * summary kept 30 days: an aged wallet that paused for a day is not a new wallet.
 */
import { describe, expect, test } from "bun:test";
import { PatternAnalyzer } from "../../src/detection/pattern-analyzer.ts";
import { WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";
import { at, buy, create, DAY, fund, MINUTE, SOL, sell, T0 } from "./events.ts";
import { run } from "./run.ts";

const HOUR = 3_600_000;

/** A wallet funded by `funder` `days` ago, with activity until `quietHours` before T0. */
function aged(wallet: string, funder: string, days: number, quietHours: number) {
  const events = [fund(funder, wallet, T0 - days * DAY, 5)];
  for (let ts = T0 - days * DAY + 20 * HOUR; ts < T0 - quietHours * HOUR; ts += 20 * HOUR)
    events.push(fund(wallet, `${wallet}-spend`, ts, 0.01));
  return events;
}

describe("wallet summaries", () => {
  test("W4: three wallets funded 35 days ago and idle for 30 h sweep their proceeds back to their funder", () => {
    const traders = ["a1", "a2", "a3"];
    const events = [
      ...traders.flatMap((w) => aged(w, "boss", 35, 30)),
      create("M", "dev", T0),
      ...traders.flatMap((w, i) => [
        buy("M", w, T0 + MINUTE + i * 1_000, { supply: 0.02, sol: SOL }),
        sell("M", w, T0 + 10 * MINUTE + i * 1_000, { supply: 0.02, sol: 1.2 * SOL }),
        fund(w, "boss", T0 + 12 * MINUTE + i * 1_000, 1.15),
      ]),
    ].sort((a, b) => a.ts - b.ts);
    const alerts = run(new WalletAnalyzer(), events).filter((a) => a.detector === "sweep_back");
    expect(alerts.map((a) => a.wallets)).toEqual([["boss", ...traders]]);
  });

  test("W2 / P1: an aged sniper quiet for 26 h that snipes 13% in slot 2 is not fresh; in slot 1 it is a bundle", () => {
    const events = [...aged("bot", "exchange", 35, 26), create("M", "dev", T0)];
    const wallet = new WalletAnalyzer();
    expect(run(wallet, [...events, buy("M", "bot", at(2), { supply: 0.13 })])).toEqual([]);
    // P1 exempts nobody by age (DETECTORS.md exempts aged wallets from W2 only).
    const pattern = run(new PatternAnalyzer(), [...events, buy("M", "bot", at(1), { supply: 0.13 })]);
    expect(pattern.map((a) => [a.detector, a.severity])).toEqual([["launch_bundle", "med"]]);
  });

  test("a summary is kept 30 days after the wallet's last event, then the wallet is forgotten", () => {
    const analyzer = new WalletAnalyzer();
    run(analyzer, [fund("cex1", "w", T0 - 40 * DAY, 5)]);
    // Each later event runs the prune: entries idle past a day become summaries...
    run(analyzer, [fund("cex2", "v", T0 - 35 * DAY, 5)]);
    expect(analyzer.stateSize()).toMatchObject({ wallets: 2, walletSummaries: 2 });
    // ...and summaries idle past 30 days go (cex1 and w: 31 days), the younger ones stay (cex2 and v).
    run(analyzer, [fund("cex3", "u", T0 - 9 * DAY, 5)]);
    expect(analyzer.stateSize()).toMatchObject({ wallets: 2, walletSummaries: 2 });
    // A remembered wallet seen again has a full entry again, rebuilt from its summary.
    run(analyzer, [fund("v", "x", T0 - 8 * DAY, 1)]);
    expect(analyzer.stateSize()).toMatchObject({ wallets: 4, walletSummaries: 1 });
  });

  test("a summary horizon shorter than the full entry's is refused at start, by name", () => {
    expect(() => new WalletAnalyzer({ walletSummaryIdleMs: HOUR })).toThrow(/walletSummaryIdleMs/);
  });
});

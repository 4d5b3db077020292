import { describe, expect, test } from "bun:test";
import { PatternAnalyzer } from "../../src/detection/pattern-analyzer.ts";
import { at, buy, create, fund, T0 } from "./events.ts";
import { history, run } from "./run.ts";

const launchBundle = (alerts: ReturnType<typeof run>) => alerts.filter((a) => a.detector === "launch_bundle");

describe("P1 launch_bundle", () => {
  test("buys in the create tx and the next slot: med at 10%, high at 25%", () => {
    const alerts = launchBundle(
      run(new PatternAnalyzer(), [
        create("M", "dev"),
        buy("M", "dev", at(0), { supply: 0.03, inCreateTx: true }),
        buy("M", "b1", at(0), { supply: 0.06, inCreateTx: true }),
        buy("M", "b2", at(0), { supply: 0.06, inCreateTx: true }),
        buy("M", "b3", at(1), { supply: 0.14 }),
      ]),
    );
    expect(alerts.map((a) => [a.severity, a.wallets])).toEqual([
      ["med", ["b1", "b2"]],
      ["high", ["b1", "b2", "b3"]],
    ]);
    expect(alerts[0]!.evidence).toMatchObject({ supplyFraction: 0.12, inCreateTx: true });
  });

  test("≥ 4 buys by young wallets in one early slot form a bundle", () => {
    const alerts = launchBundle(
      run(new PatternAnalyzer(), [
        create("M", "dev"),
        ...["w1", "w2", "w3", "w4"].map((w) => buy("M", w, at(10), { supply: 0.03 })),
      ]),
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: "med", wallets: ["w1", "w2", "w3", "w4"] });
    expect(alerts[0]!.evidence).toMatchObject({ slotBuys: 4, slotDelta: 10 });
  });

  test("aged wallets in slot 1 are a bundle too (DETECTORS.md exempts them from W2 only); in slot 2 they are not", () => {
    const bots = ["bot1", "bot2"];
    const launch = (slot: number) =>
      launchBundle(
        run(new PatternAnalyzer(), [
          ...bots.flatMap((bot) => history((ts) => fund("exchange", bot, ts, 3), T0, 8)),
          create("M", "dev"),
          ...bots.map((bot) => buy("M", bot, at(slot), { supply: 0.15 })),
        ]),
      );
    expect(launch(1).map((a) => [a.severity, a.wallets])).toEqual([
      ["med", ["bot1"]],
      ["high", bots],
    ]);
    expect(launch(2)).toEqual([]);
  });

  test("near miss: a same-slot rush of established wallets, and buys after slot 20, stay quiet", () => {
    const crowd = ["u1", "u2", "u3", "u4"];
    const alerts = launchBundle(
      run(new PatternAnalyzer(), [
        ...crowd.map((u) => fund("exchange", u, T0 - 2 * 3_600_000, 2)),
        create("M", "dev"),
        ...crowd.map((u) => buy("M", u, at(10), { supply: 0.05 })),
        ...["n1", "n2", "n3", "n4"].map((n) => buy("M", n, at(21), { supply: 0.05 })),
      ]),
    );
    expect(alerts).toEqual([]);
  });
});

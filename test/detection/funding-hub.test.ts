import { describe, expect, test } from "bun:test";
import { SybilAnalyzer } from "../../src/detection/sybil-analyzer.ts";
import { buy, fund, MINUTE, T0 } from "./events.ts";
import { run } from "./run.ts";

const wallets = (n: number, prefix = "f") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const fanOut = (hub: string, to: string[], sol: (i: number) => number) =>
  to.map((w, i) => fund(hub, w, T0 + i * 10_000, sol(i)));

describe("S1 funding_hub", () => {
  test("templated fan-out → low once the hub pauses; ≥ 3 recipients co-buying → med", () => {
    const farm = wallets(6);
    const analyzer = new SybilAnalyzer();
    const fundings = fanOut("hub", farm, (i) => 1 + (i % 3) * 0.005);
    const low = run(analyzer, fundings, T0 + 3 * MINUTE);
    expect(low).toHaveLength(1);
    expect(low[0]).toMatchObject({
      detector: "funding_hub",
      severity: "low",
      key: "hub",
      wallets: ["hub", ...farm],
    });
    expect(low[0]!.mint).toBeUndefined();
    // The fundings from the one that proved the template (the fifth) on.
    const transfers = fundings.filter((e) => e.kind === "transfer" && e.from === "hub").map((e) => e.id);
    expect(low[0]!.events).toEqual(transfers.slice(4));
    const buys = farm.slice(0, 3).map((w, i) => buy("M", w, T0 + 4 * MINUTE + i * 15_000, { supply: 0.01 }));
    const med = run(analyzer, buys);
    expect(med).toHaveLength(1);
    expect(med[0]).toMatchObject({ severity: "med", mint: "M", groupId: low[0]!.groupId });
    expect(med[0]!.evidence).toMatchObject({ recipients: 6, coBuyers: 3 });
    expect(med[0]!.events).toEqual(buys.map((e) => e.id));
  });

  test("≥ 20 recipients raise the co-buy alert to high", () => {
    const farm = wallets(20);
    const alerts = run(new SybilAnalyzer(), [
      ...fanOut("hub", farm, () => 0.5),
      ...farm.slice(0, 3).map((w, i) => buy("M", w, T0 + 5 * MINUTE + i * 1_000, { supply: 0.01 })),
    ]);
    expect(alerts.at(-1)?.severity).toBe("high");
  });

  test("near miss: an exchange paying new wallets user-chosen amounts stays quiet", () => {
    const users = wallets(12, "u");
    const amounts = [0.3, 1.7, 0.9, 2.4, 5, 0.12, 1.1, 3.3, 0.55, 7.5, 0.8, 1.45];
    const alerts = run(
      new SybilAnalyzer(),
      [
        ...fanOut("exchange", users, (i) => amounts[i]!),
        ...users.slice(0, 4).map((u) => buy("M", u, T0 + 3 * MINUTE, { supply: 0.01 })),
      ],
      T0 + 10 * MINUTE,
    );
    expect(alerts).toEqual([]);
  });

  test("near miss: four templated recipients, or templated payments to established wallets", () => {
    const old = wallets(6, "old");
    const alerts = run(
      new SybilAnalyzer(),
      [
        ...fanOut("hub1", wallets(4), () => 1),
        ...old.map((w, i) => fund(`exchange${i}`, w, T0 - 3 * 3_600_000, 2)),
        ...fanOut("hub2", old, () => 1),
      ],
      T0 + 10 * MINUTE,
    );
    expect(alerts).toEqual([]);
  });

  test("near miss: four new wallets, one of them funded twice, are four wallets, not five", () => {
    const four = wallets(4);
    const fundings = [...fanOut("hub", four, () => 1), fund("hub", "f0", T0 + 50_000, 1)];
    expect(run(new SybilAnalyzer(), fundings, T0 + 10 * MINUTE)).toEqual([]);
  });
});

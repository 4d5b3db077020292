import { describe, expect, test } from "bun:test";
import { PatternAnalyzer } from "../../src/detection/pattern-analyzer.ts";
import type { ChainEvent } from "../../src/detection/schema.ts";
import { at, buy, create, fund, MINUTE, SOL, sell, T0 } from "./events.ts";
import { run } from "./run.ts";

const devDump = (events: ChainEvent[]) =>
  run(new PatternAnalyzer(), events).filter((a) => a.detector === "dev_dump");

describe("P2 dev_dump", () => {
  test("creator sells ≥ 80% of its peak within 60 s → high", () => {
    const alerts = devDump([
      create("M", "dev"),
      buy("M", "dev", at(0), { supply: 0.05, inCreateTx: true }),
      buy("M", "u1", at(20), { supply: 0.02 }),
      sell("M", "dev", T0 + 30_000, { supply: 0.045 }),
    ]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: "high", wallets: ["dev"], mint: "M" });
    expect(alerts[0]!.evidence).toMatchObject({ soldOfPeak: 0.9, ageMs: 30_000, creator: "dev" });
  });

  test("after a minute it is med, and wallets the creator funded directly count with it", () => {
    const sells = [
      sell("M", "dev", T0 + 3 * MINUTE, { supply: 0.01 }),
      sell("M", "side", T0 + 3 * MINUTE + 5_000, { supply: 0.05 }),
    ];
    const alerts = devDump([
      fund("dev", "side", T0 - MINUTE, 1),
      create("M", "dev"),
      buy("M", "dev", at(0), { supply: 0.01, inCreateTx: true }),
      buy("M", "side", at(10), { supply: 0.05 }),
      ...sells,
    ]);
    expect(alerts.map((a) => [a.severity, a.wallets])).toEqual([["med", ["dev", "side"]]]);
    // The dev group's sells: the dump.
    expect(alerts[0]!.events).toEqual(sells.map((e) => e.id));
  });

  test("a sell whose return is below −4·σ_MAD of recent trades → high even after 60 s", () => {
    // 40 small alternating moves around a price, then the dev's sell knocks 30% off.
    const vTok = 1_000_000_000_000_000;
    const noise: ChainEvent[] = Array.from({ length: 40 }, (_, i) =>
      buy("M", `u${i}`, T0 + 5_000 + i * 2_000, {
        supply: 0.0001,
        vSolAfter: (i % 2 === 0 ? 30.3 : 30) * SOL,
        vTokAfter: vTok,
      }),
    );
    const alerts = devDump([
      create("M", "dev"),
      buy("M", "dev", at(0), { supply: 0.05, inCreateTx: true, vSolAfter: 30 * SOL, vTokAfter: vTok }),
      ...noise,
      sell("M", "dev", T0 + 5 * MINUTE, { supply: 0.05, vSolAfter: 21 * SOL, vTokAfter: vTok }),
    ]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.severity).toBe("high");
    expect(alerts[0]!.evidence.logReturn).toBeLessThan(-4 * (alerts[0]!.evidence.sigmaMad as number));
  });

  test("near miss: a slow sell-off (50% in 10 min, the rest later) stays quiet", () => {
    const alerts = devDump([
      create("M", "dev"),
      buy("M", "dev", at(0), { supply: 0.04, inCreateTx: true }),
      sell("M", "dev", T0 + 4 * MINUTE, { supply: 0.01 }),
      sell("M", "dev", T0 + 8 * MINUTE, { supply: 0.01 }),
      sell("M", "dev", T0 + 14 * MINUTE, { supply: 0.01 }),
      sell("M", "dev", T0 + 22 * MINUTE, { supply: 0.01 }),
    ]);
    expect(alerts).toEqual([]);
  });

  test("near miss: a wallet funded by someone else selling is not the dev", () => {
    const alerts = devDump([
      fund("exchange", "w", T0 - MINUTE, 1),
      create("M", "dev"),
      buy("M", "w", at(5), { supply: 0.05 }),
      sell("M", "w", T0 + 30_000, { supply: 0.05 }),
    ]);
    expect(alerts).toEqual([]);
  });
});

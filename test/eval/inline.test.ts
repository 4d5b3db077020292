import { expect, test } from "bun:test";
import { IMPLEMENTED_DETECTORS, runInline } from "../../src/eval/run-inline.ts";

// A small workload (~120k events, one to two seconds): every detector must hold its bar.
test("inline eval: precision and recall ≥ 0.9 on canonical scenarios, the four core ones with ≥ 10 each", () => {
  const result = runInline({ seed: 3, durationMs: 4 * 3_600_000, scale: 0.2, scenarioRate: 4 });
  expect(result.events).toBeGreaterThan(100_000);
  for (const name of ["fresh_sniper", "launch_bundle", "dev_dump", "funding_hub"]) {
    const card = result.scorecard.detectors.find((d) => d.detector === name);
    expect(card!.canonical.scenarios).toBeGreaterThanOrEqual(10);
    expect(card!.precision ?? 0).toBeGreaterThanOrEqual(0.9);
    expect(card!.canonical.recall ?? 0).toBeGreaterThanOrEqual(0.9);
    expect(card!.decoyAlerts).toBe(0);
  }
  // Every other implemented detector holds the same bar wherever its scenarios were planted.
  for (const card of result.scorecard.detectors.filter((d) => d.canonical.scenarios > 0)) {
    expect({
      detector: card.detector,
      ok: (card.precision ?? 0) >= 0.9 && (card.canonical.recall ?? 0) >= 0.9,
    }).toEqual({
      detector: card.detector,
      ok: true,
    });
  }
  expect(result.scorecard.detectors.map((d) => d.detector)).toEqual(IMPLEMENTED_DETECTORS);
  // ~120k events through the three analyzers: 2–5 s on this 2-core box, past bun's default 5 s under load.
}, 30_000);

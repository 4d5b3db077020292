import { describe, expect, test } from "bun:test";
import type { Alert, DetectorName } from "../../src/detection/alert.ts";
import { score } from "../../src/eval/score.ts";
import type { TruthRecord } from "../../src/ingest/truth.ts";

const T = 1_000_000;

function alert(detector: DetectorName, detectedAt: number, wallets: string[], mint?: string): Alert {
  return {
    alertId: `${detector}-${detectedAt}`,
    groupId: "g",
    detector,
    analyzer: "pattern",
    severity: "med",
    score: 1,
    ...(mint === undefined ? {} : { mint }),
    key: mint ?? wallets[0]!,
    wallets,
    windowStart: detectedAt,
    detectedAt,
    triggerId: "t",
    timing: "exact",
    evidence: {},
    events: ["t"],
  };
}

function record(id: string, variant: "canonical" | "evasive", over: Partial<TruthRecord> = {}): TruthRecord {
  return {
    id,
    kind: "scenario",
    type: "BUNDLE",
    variant,
    detectors: ["launch_bundle", "funding_hub"],
    mints: [`M-${id}`],
    wallets: ["hub", `a-${id}`, `b-${id}`, `c-${id}`],
    tStart: T,
    tOnset: T + 1_000,
    tEnd: T + 60_000,
    ...over,
  };
}

describe("score", () => {
  const truth: TruthRecord[] = [
    record("1", "canonical"),
    record("2", "canonical"),
    record("3", "evasive"),
    {
      ...record("d", "canonical"),
      kind: "decoy",
      type: "EXCHANGE_BURST",
      detectors: [],
      mints: ["M-d"],
      wallets: ["ex", "u1"],
    },
  ];

  test("matches on detector, mint, wallet overlap and time; precision counts alerts, recall scenarios", () => {
    const alerts = [
      alert("launch_bundle", T + 3_000, ["a-1", "b-1"], "M-1"),
      alert("launch_bundle", T + 5_000, ["a-1", "x"], "M-1"), // |A∩S|/|A| = 0.5: matches
      alert("launch_bundle", T + 5_000, ["a-2", "x", "y"], "M-2"), // 1/3: no
      alert("launch_bundle", T + 70_000 + 600_000, ["a-2"], "M-2"), // past tEnd + 10 min: no
      alert("launch_bundle", T + 2_000, ["a-3"], "M-1"), // wrong mint
      alert("launch_bundle", T + 4_000, ["a-3", "b-3"], "M-3"),
      alert("launch_bundle", T + 4_000, ["u1"], "M-d"), // on a decoy
    ];
    const [card] = score(alerts, truth, { detectors: ["launch_bundle"], totalMints: 500 }).detectors;
    expect(card).toMatchObject({
      detector: "launch_bundle",
      alerts: 7,
      matched: 3,
      canonical: { scenarios: 2, detected: 1, recall: 0.5 },
      evasive: { scenarios: 1, detected: 1, recall: 1 },
      ttdP50Ms: 2_000,
      ttdP95Ms: 3_000,
      decoyAlerts: 1,
      decoyAlertsPer1kMints: 2,
    });
    expect(card!.precision).toBeCloseTo(3 / 7);
  });

  test("cluster detectors use Jaccard ≥ 0.3 and may omit the mint", () => {
    const alerts = [
      alert("funding_hub", T + 2_000, ["hub", "a-1", "b-1"]), // 3 / 4 of the union
      alert("funding_hub", T + 2_000, ["hub", "a-2", "x", "y", "z", "w", "v"]), // 2 / 9
    ];
    const [card] = score(alerts, truth, { detectors: ["funding_hub"] }).detectors;
    expect(card).toMatchObject({
      matched: 1,
      canonical: { detected: 1, recall: 0.5 },
      decoyAlertsPer1kMints: null,
    });
  });

  test("a detector with no alerts has null precision and zero recall", () => {
    const [card] = score([], truth, { detectors: ["launch_bundle"] }).detectors;
    expect(card).toMatchObject({ precision: null, canonical: { recall: 0 }, ttdP50Ms: null });
  });
});

/** The alert envelope, the gate and determinism (DETECTORS.md sections A and B), over the fixture timeline. */
import { describe, expect, test } from "bun:test";
import type { Alert } from "../../../src/detection/alert.ts";
import { PatternAnalyzer } from "../../../src/detection/pattern-analyzer.ts";
import type { ChainEvent } from "../../../src/detection/schema.ts";
import { WalletAnalyzer } from "../../../src/detection/wallet-analyzer.ts";
import { scenarios, timeline } from "../../fixtures/scenarios/index.ts";
import { MINUTE, of, runAll, Script, SECOND, top } from "./harness.ts";

const EVENTS: ChainEvent[] = timeline(scenarios());
const ANALYZER: Record<string, string> = {
  liquidity_injection: "wallet",
  fresh_sniper: "wallet",
  whale_dominance: "wallet",
  sweep_back: "wallet",
  creator_reputation: "wallet",
  launch_bundle: "pattern",
  dev_dump: "pattern",
  coordinated_dump: "pattern",
  daisy_chain: "pattern",
  wash_trading: "pattern",
  flash_roundtrip: "pattern",
  funding_hub: "sybil",
  co_entry_signature: "sybil",
  cluster_control: "sybil",
};

describe("envelope and determinism on the fixture timeline", () => {
  const first = runAll(EVENTS);
  const second = runAll(EVENTS);
  const _byId = new Map(EVENTS.map((e) => [e.id, e]));

  test("the timeline raises alerts of many detectors", () => {
    expect(new Set(first.map((a) => a.detector)).size).toBeGreaterThanOrEqual(10);
  });

  test("same events twice -> same alert ids, in the same order", () => {
    expect(second.map((a) => a.alertId)).toEqual(first.map((a) => a.alertId));
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
  });

  test("every alert: analyzer of its detector, score in [0,1], wallets non-empty, timing exact", () => {
    const bad = first.filter(
      (a) =>
        a.analyzer !== ANALYZER[a.detector] ||
        !(a.score >= 0 && a.score <= 1) ||
        a.wallets.length === 0 ||
        a.timing !== "exact" ||
        !["low", "med", "high"].includes(a.severity),
    );
    expect(bad.map((a) => `${a.detector} ${a.analyzer} ${a.score} ${a.timing}`)).toEqual([]);
  });

  test("one alert per (detector, key) per 5 min unless severity rises", () => {
    const rank = { low: 0, med: 1, high: 2 };
    const bad: string[] = [];
    const last = new Map<string, Alert>();
    for (const a of first) {
      const k = `${a.detector}|${a.key}`;
      const prev = last.get(k);
      if (prev && a.detectedAt - prev.detectedAt < 5 * MINUTE && rank[a.severity] <= rank[prev.severity])
        bad.push(`${k} ${prev.severity}@${prev.detectedAt} -> ${a.severity}@${a.detectedAt}`);
      last.set(k, a);
    }
    expect(bad).toEqual([]);
  });

  test("alert ids are unique", () => {
    expect(new Set(first.map((a) => a.alertId)).size).toBe(first.length);
  });

  test("a shifted timeline (+1 h) gives the same alerts, shifted", () => {
    const shifted = EVENTS.map((e) => ({
      ...e,
      ts: e.ts + 3_600_000,
      slot: e.slot === null ? null : e.slot + 9_000,
    }));
    const alerts = runAll(shifted as ChainEvent[]);
    const key = (a: Alert) => `${a.detector}:${a.severity}:${a.key}:${a.detectedAt - 3_600_000}`;
    expect(alerts.map(key)).toEqual(first.map((a) => `${a.detector}:${a.severity}:${a.key}:${a.detectedAt}`));
  });
});

describe("slotless source (PumpPortal): 400 ms buckets, timing approx", () => {
  test("a bundle in the first receive-time bucket -> launch_bundle with timing 'approx'", () => {
    const s = new Script("env-pp", 0);
    s.launch("mint", "dev", 0.3);
    s.wait(150).buy("mint", "b1", 1.3);
    s.wait(100).buy("mint", "b2", 1.3);
    s.wait(100).buy("mint", "b3", 1.3);
    s.wait(MINUTE);
    const ev = s.events.map((e) => ({
      ...e,
      slot: null,
      tsSrc: "recv" as const,
      src: "pumpportal" as const,
    }));
    const a = top(runAll(ev), "launch_bundle");
    expect(a).toBeDefined();
    expect(a!.timing).toBe("approx");
    const w2 = top(runAll(ev), "fresh_sniper");
    expect(w2?.timing).toBe("approx");
  });
});

void SECOND;
void of;

import { validateEvent } from "../../../src/detection/schema.ts";

describe("ingest checks amounts (section A: integers, Number.isSafeInteger)", () => {
  const s = new Script("env-val", 0);
  s.launch("mint", "dev", 0.3);
  const buy = s.events[1]!;
  test("negative sol is rejected", () => {
    expect(validateEvent({ ...buy, sol: -1 }).ok).toBe(false);
  });
  test("unsafe (2^53) amount is rejected", () => {
    expect(validateEvent({ ...buy, tok: 2 ** 53 }).ok).toBe(false);
  });
  test("huge safe amount (Number.MAX_SAFE_INTEGER) is accepted", () => {
    expect(validateEvent({ ...buy, sol: Number.MAX_SAFE_INTEGER }).ok).toBe(true);
  });
});

describe("W2 warm-up (section C): age-based alerts say so until the analyzer watched its warm-up", () => {
  test("an analyzer that started with the launch marks W2 evidence warmup", () => {
    const s = new Script("env-warm", 0);
    s.launch("mint", "dev", 0.3);
    for (const w of ["s1", "s2", "s3"]) s.atSlot("mint", 1).buy("mint", w, 1.3);
    expect(top(runAll(s.events), "fresh_sniper")?.evidence.warmup).toBe(true);
  });
  test("an analyzer that watched 2 h before the launch does not", () => {
    const s = new Script("env-warm2", 0);
    s.send("x", "y", 1);
    s.wait(2 * 3_600_000);
    s.launch("mint", "dev", 0.3);
    for (const w of ["s1", "s2", "s3"]) s.atSlot("mint", 1).buy("mint", w, 1.3);
    expect(top(runAll(s.events), "fresh_sniper")?.evidence.warmup).not.toBe(true);
  });
});

describe("P1 and S1 warm-up (section C): their age limits mark alerts raised before that age was watched", () => {
  /** A same-slot rush of four never-seen wallets, 5 slots after the create; `watched`: event time seen before. */
  const rush = (name: string, watched: number) => {
    const s = new Script(name, 0);
    if (watched > 0) {
      s.send("x", "y", 1);
      s.wait(watched);
    }
    s.launch("mint", "dev", 0.3);
    s.atSlot("mint", 5);
    for (const w of ["r1", "r2", "r3", "r4"]) s.buy("mint", w, 1.3);
    return top(runAll(s.events), "launch_bundle");
  };
  /** A hub funding five never-seen wallets the same amount, then pausing. */
  const fanOut = (name: string, watched: number) => {
    const s = new Script(name, 0);
    if (watched > 0) {
      s.send("x", "y", 1);
      s.wait(watched);
    }
    for (const w of ["f1", "f2", "f3", "f4", "f5"]) s.wait(5 * SECOND).send("hub", w, 0.5);
    return top(runAll(s.events, { flushAfter: 2 * 60_000 }), "funding_hub");
  };
  test("P1's rush in the analyzer's first hour says warmup; after two hours watched it does not", () => {
    expect(rush("env-p1-warm", 0)?.evidence.warmup).toBe(true);
    expect(rush("env-p1-aged", 2 * 3_600_000)?.evidence.warmup).toBe(false);
  });
  test("S1's fan-out in the analyzer's first hour says warmup; after two hours watched it does not", () => {
    expect(fanOut("env-s1-warm", 0)?.evidence.warmup).toBe(true);
    expect(fanOut("env-s1-aged", 2 * 3_600_000)?.evidence.warmup).toBe(false);
  });
});

describe("analyzer configuration is checked by name (docs/detection.md, Configuration)", () => {
  test("a misspelt analyzer option", () => {
    expect(() => new WalletAnalyzer({ deltaFlushMss: 5 } as never)).toThrow("deltaFlushMss: unknown option");
  });
  test("a name in detectors that is no detector", () => {
    expect(() => new PatternAnalyzer({ detectors: { dev_dumpp: {} } } as never)).toThrow(
      /^detectors\.dev_dumpp: unknown detector \(known: liquidity_injection, /,
    );
  });
  test("options for a detector of another analyzer; turning one off is allowed", () => {
    expect(() => new WalletAnalyzer({ detectors: { funding_hub: { minRecipients: 3 } } } as never)).toThrow(
      "detectors.funding_hub: is not a detector of the wallet analyzer (its detectors: liquidity_injection, fresh_sniper, whale_dominance, sweep_back, creator_reputation)",
    );
    expect(() => new WalletAnalyzer({ detectors: { funding_hub: false } } as never)).not.toThrow();
  });
  test("a detector's section that is not an object or false", () => {
    for (const [value, got] of [
      [true, "boolean"],
      [0.12, "number"],
      [null, "null"],
      [[], "an array"],
    ] as const)
      expect(() => new WalletAnalyzer({ detectors: { fresh_sniper: value } } as never)).toThrow(
        `detectors.fresh_sniper: must be an object of options, or false to turn it off, got ${got}`,
      );
  });
});

describe("P3 'score up if the sellers share a cluster root'", () => {
  const crew = (name: string, shared: boolean) => {
    const s = new Script(name, 0);
    const ws = ["k1", "k2", "k3"];
    for (const w of ws) {
      s.aged(w, shared ? "boss" : `${w}-exchange`, { days: 3 });
    }
    s.launch("mint", "dev", 0.3);
    s.wait(30 * SECOND);
    for (const w of ws) s.wait(3 * SECOND).buy("mint", w, 2.2);
    s.crowd("mint", "c", 4, () => 0.3, 10 * SECOND);
    s.wait(4 * MINUTE);
    for (const w of ws) s.wait(2 * SECOND).sell("mint", w, 1);
    return top(runAll(s.events), "coordinated_dump");
  };
  test("a crew with one shared funder scores higher than one funded by three exchanges", () => {
    const a = crew("env-p3s", true);
    const b = crew("env-p3n", false);
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect({ score: a!.score > b!.score, sev: [a!.severity, b!.severity] }).toEqual({
      score: true,
      sev: [a!.severity, b!.severity],
    });
  });
});

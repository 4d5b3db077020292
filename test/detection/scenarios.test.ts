/**
 * The hand-written scenario set (test/fixtures/scenarios, written from DETECTORS.md alone) through the
 * whole scanner, as a user runs it: one JSONL file of canonical events into `bun run start --replay`.
 * Every expected alert must fire, and nothing may be raised about a decoy's mints or wallets.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Alert, SEVERITY_RANK } from "../../src/detection/alert.ts";
import { PatternAnalyzer } from "../../src/detection/pattern-analyzer.ts";
import type { Trade } from "../../src/detection/schema.ts";
import { SybilAnalyzer } from "../../src/detection/sybil-analyzer.ts";
import { WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";
import { scenarios, timeline } from "../fixtures/scenarios/index.ts";
import { type Expected, type Scenario, SUPPLY } from "../fixtures/scenarios/kit.ts";
import { reaper, runToEnd } from "../support/reaper.ts";
import { run } from "./run.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const ENV = { ...process.env, TROUPE_HTTP_PORT: "0", REDIS_URL: "", TROUPE_ALERTS_FILE: "" };
const track = reaper();
const SET = scenarios();

let dir: string;
let alerts: Alert[] = [];
let stderr = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-scenarios-"));
  const file = join(dir, "scenarios.jsonl");
  await Bun.write(
    file,
    `${timeline(SET)
      .map((e) => JSON.stringify(e))
      .join("\n")}\n`,
  );
  const {
    code,
    stdout: out,
    stderr: err,
  } = await runToEnd(track, ["bun", "src/main.ts", "--replay", file], {
    cwd: ROOT,
    env: ENV,
  });
  stderr = err;
  expect(code).toBe(0);
  alerts = out
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Alert);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function about(alert: Alert, scenario: Scenario): boolean {
  const mine = (name: string | undefined) => name?.startsWith(`${scenario.name}.`) ?? false;
  return mine(alert.mint) || mine(alert.key) || alert.wallets.some(mine);
}

function matches(alert: Alert, e: Expected): boolean {
  if (alert.detector !== e.detector) return false;
  if (e.mint !== undefined && alert.mint !== e.mint) return false;
  if (SEVERITY_RANK[alert.severity] < SEVERITY_RANK[e.severity ?? "low"]) return false;
  if (e.wallets === undefined) return true;
  const named = new Set(alert.wallets);
  return e.wallets.filter((w) => named.has(w)).length * 2 >= e.wallets.length;
}

test("the replay reads every event and rejects none", () => {
  expect(stderr).toMatch(new RegExp(`${timeline(SET).length.toLocaleString("en-US")} events in, 0 rejected`));
});

const ANALYZERS = {
  wallet: (detectors: Record<string, object>) => new WalletAnalyzer({ detectors }),
  pattern: (detectors: Record<string, object>) => new PatternAnalyzer({ detectors }),
  sybil: (detectors: Record<string, object>) => new SybilAnalyzer({ detectors }),
};

describe.each(SET.filter((s) => !s.decoy).map((s) => [s.name, s] as const))("%s", (_name, scenario) => {
  const kept = scenario.expect.filter((e) => e.deviation === undefined);
  const deviations = scenario.expect.filter((e) => e.deviation !== undefined);
  test.each(kept.map((e) => [`${e.detector} ${e.severity ?? ""}`, e] as const))("raises %s", (_label, e) => {
    const mine = alerts.filter((a) => about(a, scenario));
    const summary = mine.map((a) => `${a.detector}/${a.severity} ${a.wallets.join(",")}`);
    expect({ found: mine.some((a) => matches(a, e)), alerts: summary }).toEqual({
      found: true,
      alerts: summary,
    });
  });
  test.each(deviations.map((e) => [e.detector, e] as const))(
    "documented deviation: %s only under the literal rule",
    (_label, e) => {
      expect(alerts.some((a) => about(a, scenario) && matches(a, e))).toBe(false);
      const deviation = e.deviation as NonNullable<Expected["deviation"]>;
      const literal = ANALYZERS[deviation.analyzer](deviation.detectors);
      expect(run(literal, scenario.events).some((a) => matches(a, e))).toBe(true);
    },
  );
});

test.each(SET.filter((s) => s.decoy).map((s) => [s.name, s] as const))("decoy %s raises nothing", (_n, s) => {
  expect(alerts.filter((a) => about(a, s)).map((a) => `${a.detector}/${a.severity} ${a.wallets}`)).toEqual(
    [],
  );
});

describe("the scenarios say what they claim (the curve, not the detectors)", () => {
  const byName = new Map(SET.map((s) => [s.name, s]));
  const trades = (name: string) =>
    (byName.get(name)?.events ?? []).filter((e): e is Trade => e.kind === "trade");
  const price = (t: Trade) => t.vSolAfter / t.vTokAfter;

  test("p3: four sellers within 10 s, >= 5% of supply together, the price down >= 30%", () => {
    const sells = trades("p3-coord").filter((t) => t.side === "sell");
    const all = trades("p3-coord");
    const before = all[all.indexOf(sells[0] as Trade) - 1] as Trade;
    expect(sells).toHaveLength(4);
    expect((sells[3] as Trade).ts - (sells[0] as Trade).ts).toBeLessThanOrEqual(10_000);
    expect(sells.reduce((n, t) => n + t.tok, 0) / SUPPLY).toBeGreaterThanOrEqual(0.05);
    expect(1 - price(sells[3] as Trade) / price(before)).toBeGreaterThanOrEqual(0.3);
  });

  test("w2: fresh snipers hold >= 10% of supply, none >= 5% alone", () => {
    const snipes = trades("w2-sniper").filter((t) => t.trader.includes("sniper"));
    expect(snipes.reduce((n, t) => n + t.tok, 0) / SUPPLY).toBeGreaterThanOrEqual(0.1);
    for (const t of snipes) expect(t.tok / SUPPLY).toBeLessThan(0.05);
  });

  test("w3-holder: the holder's two buys leave it >= 5% of supply at < 40% of the buy volume", () => {
    const buys = trades("w3-holder").filter((t) => t.side === "buy");
    const holder = buys.filter((t) => t.trader.endsWith(".holder"));
    expect(holder.reduce((n, t) => n + t.tok, 0) / SUPPLY).toBeGreaterThanOrEqual(0.05);
    expect(holder.reduce((n, t) => n + t.sol, 0) / buys.reduce((n, t) => n + t.sol, 0)).toBeLessThan(0.4);
  });

  test("s3: the farm holds >= 20% of supply", () => {
    const farm = trades("s3-cluster").filter((t) => /\.w\d$/.test(t.trader));
    expect(farm.reduce((n, t) => n + t.tok, 0) / SUPPLY).toBeGreaterThanOrEqual(0.2);
  });

  test("decoy-aged-snipers: 13% of supply, no bot at 5%", () => {
    const bots = trades("decoy-aged-snipers").filter((t) => t.trader.includes(".bot"));
    expect(bots.reduce((n, t) => n + t.tok, 0) / SUPPLY).toBeGreaterThanOrEqual(0.12);
    for (const t of bots) expect(t.tok / SUPPLY).toBeLessThan(0.05);
  });
});

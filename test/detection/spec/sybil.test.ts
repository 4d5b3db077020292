/** S1–S3 from DETECTORS.md section B alone. */
import { describe, expect, test } from "bun:test";
import { random as rnd } from "../../fixtures/scenarios/kit.ts";
import { HOUR, held, MINUTE, of, runAll, Script, SECOND, top } from "./harness.ts";

const FLUSH = { flushAfter: 5 * MINUTE };

// ---------------------------------------------------------------- S1
describe("S1 funding_hub: >= 5 new wallets in 10 min, >= 60% within 5% of the mode; med on co-buy; high at 20", () => {
  const fan = (
    name: string,
    amounts: number[],
    o: { gap?: number; aged?: boolean; pre?: (s: Script) => void } = {},
  ) => {
    const s = new Script(name, 0);
    o.pre?.(s);
    const rs = amounts.map((_, i) => `r${i + 1}`);
    if (o.aged) for (const r of rs) s.aged(r, `${r}-exch`, { days: 30 });
    for (const [i, a] of amounts.entries()) s.wait(o.gap ?? 10 * SECOND).send("hub", rs[i]!, a);
    return { s, rs };
  };

  test("1 SOL to 5 new wallets in a minute -> alert keyed on the hub naming the recipients", () => {
    const { s, rs } = fan("s1-a", [1, 1, 1, 1, 1]);
    s.wait(2 * MINUTE);
    const a = top(runAll(s.events, FLUSH), "funding_hub");
    expect(a).toBeDefined();
    expect(a!.analyzer).toBe("sybil");
    expect(a!.key).toBe(s.id("hub"));
    for (const r of rs) expect(a!.wallets).toContain(s.id(r));
  });

  test("templated within +-4% of the mode -> alert", () => {
    const { s } = fan("s1-band", [1, 1, 1, 1.04, 0.96]);
    expect(of(runAll(s.events, FLUSH), "funding_hub").length).toBeGreaterThan(0);
  });

  test("4 new wallets -> nothing", () => {
    expect(of(runAll(fan("s1-four", [1, 1, 1, 1]).s.events, FLUSH), "funding_hub")).toEqual([]);
  });

  test("random amounts to 8 new wallets -> nothing", () => {
    const r = rnd(7);
    const amounts = Array.from({ length: 8 }, () => 0.2 + r() * 4);
    expect(of(runAll(fan("s1-rand", amounts).s.events, FLUSH), "funding_hub")).toEqual([]);
  });

  test("8 new wallets, 5 templated (62.5%) + 3 random -> alert", () => {
    const { s } = fan("s1-mix", [1, 2.3, 1, 0.4, 1, 3.7, 1.01, 0.99]);
    expect(of(runAll(s.events, FLUSH), "funding_hub").length).toBeGreaterThan(0);
  });

  test("5 templated fundings spread over 11 min -> nothing", () => {
    const { s } = fan("s1-slow", [1, 1, 1, 1, 1], { gap: 2.75 * MINUTE });
    expect(of(runAll(s.events, FLUSH), "funding_hub")).toEqual([]);
  });

  test("recipients are aged (30 d) wallets -> nothing", () => {
    const { s } = fan("s1-aged", [1, 1, 1, 1, 1], { aged: true });
    expect(of(runAll(s.events, FLUSH), "funding_hub")).toEqual([]);
  });

  test("3 recipients buy one mint within 60 s -> med", () => {
    const { s } = fan("s1-cobuy", [1, 1, 1, 1, 1]);
    s.wait(5 * MINUTE);
    s.launch("mint", "dev", 0.2);
    s.wait(MINUTE);
    for (const r of ["r1", "r2", "r3"]) s.wait(15 * SECOND).buy("mint", r, 0.3);
    const a = top(runAll(s.events, FLUSH), "funding_hub");
    expect(a?.severity === "med" || a?.severity === "high").toBe(true);
  });

  test("exchange-like hub (600 random-amount recipients in 20 h) then 1 SOL to 5 new wallets -> nothing", () => {
    const r = rnd(11);
    const { s } = fan("s1-exch", [1, 1, 1, 1, 1], {
      pre: (s) => {
        for (let i = 0; i < 600; i++) {
          s.send("hub", `cust${i}`, 0.05 + r() * 20);
          s.wait(2 * MINUTE);
        }
      },
    });
    expect(of(runAll(s.events, FLUSH), "funding_hub")).toEqual([]);
  });

  test("4 distinct new wallets, one of them funded twice (5 fundings, distinct txs) -> nothing", () => {
    const { s } = fan("s1-twice", [1, 1, 1, 1]);
    s.wait(10 * SECOND).send("hub", "r1", 1);
    s.wait(2 * MINUTE);
    expect(of(runAll(s.events, FLUSH), "funding_hub")).toEqual([]);
  });

  test("20 templated recipients, 3 of them co-buying one mint -> high", () => {
    const { s } = fan(
      "s1-20co",
      Array.from({ length: 20 }, () => 1),
      { gap: 5 * SECOND },
    );
    s.wait(5 * MINUTE);
    s.launch("mint", "dev", 0.2);
    s.wait(MINUTE);
    for (const r of ["r1", "r2", "r3"]) s.wait(15 * SECOND).buy("mint", r, 0.3);
    expect(top(runAll(s.events, FLUSH), "funding_hub")?.severity).toBe("high");
  });
});

// ---------------------------------------------------------------- S2
describe("S2 co_entry_signature: shared (mint, side, 2-slot, 5% amount) keys on >= 3 mints in 24 h; cluster >= 3", () => {
  const co = (
    name: string,
    o: { wallets?: number; mints?: number; gap?: number; slotGap?: number; ampl?: number } = {},
  ) => {
    const s = new Script(name, 0);
    const ws = Array.from({ length: o.wallets ?? 3 }, (_, i) => `x${i + 1}`);
    for (let m = 0; m < (o.mints ?? 3); m++) {
      s.launch(`m${m}`, `dev${m}`, 0.2);
      s.atSlot(`m${m}`, 30);
      ws.forEach((w, i) => {
        s.atSlot(`m${m}`, 30 + i * (o.slotGap ?? 0), 10 * (i + 1)).buy(`m${m}`, w, 0.5 * (o.ampl ?? 1) ** i);
      });
      s.wait(o.gap ?? 30 * MINUTE);
    }
    return { s, ws };
  };

  test("3 wallets, same slot and size, on 3 mints -> alert naming them", () => {
    const { s, ws } = co("s2-a");
    const a = top(runAll(s.events, FLUSH), "co_entry_signature");
    expect(a).toBeDefined();
    for (const w of ws) expect(a!.wallets).toContain(s.id(w));
  });

  test("only 2 mints -> nothing", () => {
    expect(of(runAll(co("s2-2m", { mints: 2 }).s.events, FLUSH), "co_entry_signature")).toEqual([]);
  });

  test("only 2 wallets -> nothing", () => {
    expect(of(runAll(co("s2-2w", { wallets: 2 }).s.events, FLUSH), "co_entry_signature")).toEqual([]);
  });

  test("sizes 20% apart -> nothing", () => {
    expect(of(runAll(co("s2-size", { ampl: 1.2 }).s.events, FLUSH), "co_entry_signature")).toEqual([]);
  });

  test("buys 4 slots apart -> nothing", () => {
    expect(of(runAll(co("s2-slots", { slotGap: 4 }).s.events, FLUSH), "co_entry_signature")).toEqual([]);
  });

  test("the 3 mints spread over 26 h -> nothing", () => {
    expect(of(runAll(co("s2-slowday", { gap: 13 * HOUR }).s.events, FLUSH), "co_entry_signature")).toEqual(
      [],
    );
  });
});

// ---------------------------------------------------------------- S3
describe("S3 cluster_control: component holds >= 20% med / >= 35% high, or >= 50% of buys in 10 min", () => {
  const farm = (name: string, each: number, crowd = 0) => {
    const s = new Script(name, 0);
    const ws = ["f1", "f2", "f3", "f4", "f5"];
    for (const w of ws) s.wait(5 * SECOND).send("hub", w, each + 0.1);
    s.wait(2 * HOUR);
    s.launch("mint", "dev", 0.2);
    s.wait(MINUTE);
    if (crowd > 0) s.crowd("mint", "c", 4, () => crowd / 4, 10 * SECOND);
    for (const w of ws) s.wait(30 * SECOND).buy("mint", w, each);
    s.wait(2 * MINUTE);
    return { s, ws };
  };

  test("S1 cluster holding >= 20% -> med naming the farm", () => {
    const { s, ws } = farm("s3-a", 1.5);
    const h = held(s, ws);
    expect(h).toBeGreaterThanOrEqual(0.2);
    expect(h).toBeLessThan(0.35);
    const a = top(runAll(s.events, FLUSH), "cluster_control");
    expect(a?.severity).toBe("med");
    for (const w of ws) expect(a!.wallets).toContain(s.id(w));
  });

  test("S1 cluster holding >= 35% -> high", () => {
    const { s, ws } = farm("s3-high", 3.4);
    expect(held(s, ws)).toBeGreaterThanOrEqual(0.35);
    expect(top(runAll(s.events, FLUSH), "cluster_control")?.severity).toBe("high");
  });

  test("S1 cluster holding 16% with < 50% of buys -> nothing", () => {
    const { s, ws } = farm("s3-low", 1.2, 8);
    expect(held(s, ws)).toBeLessThan(0.2);
    expect(of(runAll(s.events, FLUSH), "cluster_control")).toEqual([]);
  });

  test("S1 cluster making >= 50% of the buys in 10 min while holding < 20% -> alert", () => {
    const { s, ws } = farm("s3-share", 0.5, 2);
    expect(held(s, ws)).toBeLessThan(0.2);
    expect(of(runAll(s.events, FLUSH), "cluster_control").length).toBeGreaterThan(0);
  });
});

/** P1–P6 from DETECTORS.md section B alone. */
import { describe, expect, test } from "bun:test";
import type { Trade } from "../../../src/detection/schema.ts";
import { held, MINUTE, of, runAll, Script, SECOND, SUPPLY, top } from "./harness.ts";

const _dup = <T extends object>(events: T[]) => events.flatMap((e) => [e, { ...e }]);

// ---------------------------------------------------------------- P1
describe("P1 launch_bundle: create tx or slot 0-1, or >= 4 buys in one slot in the first 20; 10% med, 25% high", () => {
  const bundle = (name: string, sols: number[], o: { slot?: number | "tx"; samePlot?: boolean } = {}) => {
    const s = new Script(name, 0);
    s.launch("mint", "dev", 0.3);
    sols.forEach((sol, i) => {
      if (o.slot === "tx") s.buy("mint", `b${i + 1}`, sol, { signature: s.createTx("mint"), ix: 2 + i });
      else s.atSlot("mint", o.slot ?? 1, i * 10).buy("mint", `b${i + 1}`, sol);
    });
    s.wait(MINUTE);
    s.crowd("mint", "buyer", 3, () => 0.1, 10 * SECOND);
    return s;
  };
  const names = (n: number) => Array.from({ length: n }, (_, i) => `b${i + 1}`);

  test("3 buys in the create tx holding >= 10% -> med naming the bundle, not the creator", () => {
    const s = bundle("p1-tx", [1.2, 1.2, 1.2], { slot: "tx" });
    expect(held(s, names(3))).toBeGreaterThanOrEqual(0.1);
    const a = top(runAll(s.events), "launch_bundle");
    expect(a?.severity).toBe("med");
    expect(a!.analyzer).toBe("pattern");
    expect(a!.mint).toBe(s.id("mint"));
    expect(new Set(a!.wallets)).toEqual(new Set(names(3).map((w) => s.id(w))));
  });

  test("bundle in slot 1 holding >= 25% -> high", () => {
    const s = bundle("p1-high", [3.5, 3.5, 3.5]);
    expect(held(s, names(3))).toBeGreaterThanOrEqual(0.25);
    expect(top(runAll(s.events), "launch_bundle")?.severity).toBe("high");
  });

  test("bundle in slot 1 holding just under 10% -> no med/high alert", () => {
    const s = bundle("p1-under", [0.95, 0.95, 0.95]);
    expect(held(s, names(3))).toBeLessThan(0.1);
    expect(of(runAll(s.events), "launch_bundle").filter((a) => a.severity !== "low")).toEqual([]);
  });

  test("3 buys (not 4) in slot 2 -> nothing", () => {
    expect(of(runAll(bundle("p1-slot2", [1.5, 1.5, 1.5], { slot: 2 }).events), "launch_bundle")).toEqual([]);
  });

  test("4 fresh buys in slot 20 -> med", () => {
    const s = bundle("p1-burst20", [1, 1, 1, 1], { slot: 20 });
    expect(held(s, names(4))).toBeGreaterThanOrEqual(0.1);
    expect(top(runAll(s.events), "launch_bundle")?.severity).toBe("med");
  });

  test("4 fresh buys in slot 21 -> nothing", () => {
    expect(of(runAll(bundle("p1-burst21", [1, 1, 1, 1], { slot: 21 }).events), "launch_bundle")).toEqual([]);
  });

  test("the creator alone buying 30% in the create tx -> nothing", () => {
    const s = new Script("p1-dev", 0);
    s.launch("mint", "dev", 12);
    s.atSlot("mint", 1).buy("mint", "dev", 1);
    expect(of(runAll(s.events), "launch_bundle")).toEqual([]);
  });

  test("slot-1 buy delivered before the slot-0 buy (out of order by 1 slot) still bundles", () => {
    const s = new Script("p1-ooo", 0);
    s.launch("mint", "dev", 0.3);
    s.atSlot("mint", 0, 100).buy("mint", "b1", 1.8);
    s.atSlot("mint", 1, 100).buy("mint", "b2", 1.8);
    const ev = [...s.events];
    const reordered = [ev[0]!, ev[1]!, ev[3]!, ev[2]!];
    expect(top(runAll(reordered, { raw: true }), "launch_bundle")?.severity).toBe("med");
  });
});

// ---------------------------------------------------------------- P2
describe("P2 dev_dump: creator (+ funded) sells >= 80% of peak within 10 min; high within 60 s", () => {
  const dump = (name: string, at: number, fractions: number[], gap = 30 * SECOND) => {
    const s = new Script(name, 0);
    s.launch("mint", "dev", 2);
    s.wait(10 * SECOND);
    s.crowd("mint", "c", 4, () => 0.3, 5 * SECOND);
    s.wait(at - s.now + s.events[0]!.ts);
    for (const f of fractions) s.wait(gap).sell("mint", "dev", f);
    return s;
  };

  test("dev sells 100% at ~5 min -> alert naming the dev", () => {
    const s = dump("p2-a", 4.5 * MINUTE, [1]);
    const a = top(runAll(s.events), "dev_dump");
    expect(a).toBeDefined();
    expect(a!.wallets).toContain(s.id("dev"));
    expect(a!.mint).toBe(s.id("mint"));
  });

  test("dev sells 100% within 60 s of creation -> high", () => {
    const s = dump("p2-fast", 20 * SECOND, [1], 5 * SECOND);
    expect(top(runAll(s.events), "dev_dump")?.severity).toBe("high");
  });

  test("dev sells 79% -> nothing", () => {
    expect(of(runAll(dump("p2-79", 4 * MINUTE, [0.79]).events), "dev_dump")).toEqual([]);
  });

  test("dev sells 80% of peak in two parts (50% then 60% of rest) -> alert", () => {
    expect(of(runAll(dump("p2-two", 3 * MINUTE, [0.5, 0.60001]).events), "dev_dump").length).toBeGreaterThan(
      0,
    );
  });

  test("dev sells 100% at 10 min + 10 s -> nothing", () => {
    expect(of(runAll(dump("p2-late", 9.5 * MINUTE + 10 * SECOND, [1]).events), "dev_dump")).toEqual([]);
  });

  test("slow sell-off: 50% within 10 min -> nothing", () => {
    expect(of(runAll(dump("p2-slow", 3 * MINUTE, [0.25, 0.34]).events), "dev_dump")).toEqual([]);
  });

  test("a wallet the creator funded directly buys and dumps -> alert", () => {
    const s = new Script("p2-side", 0);
    s.send("dev", "side", 3);
    s.wait(10 * MINUTE);
    s.launch("mint", "dev");
    s.atSlot("mint", 3).buy("mint", "side", 2);
    s.wait(20 * SECOND);
    s.crowd("mint", "c", 4, () => 0.3, 5 * SECOND);
    s.wait(2 * MINUTE).sell("mint", "side", 1);
    const a = top(runAll(s.events), "dev_dump");
    expect(a).toBeDefined();
    expect(a!.wallets).toContain(s.id("side"));
  });
});

// ---------------------------------------------------------------- P3
describe("P3 coordinated_dump: 10 s, >= 3 sellers (5 high), >= 5% supply, each >= 50%, price -30%", () => {
  const coord = (name: string, n: number, o: { buy?: number; frac?: number; gap?: number } = {}) => {
    const s = new Script(name, 0);
    const crew = Array.from({ length: n }, (_, i) => `k${i + 1}`);
    for (const w of crew) s.aged(w, `${w}-exchange`, { days: 30 });
    s.launch("mint", "dev", 0.3);
    s.wait(30 * SECOND);
    for (const w of crew) s.wait(3 * SECOND).buy("mint", w, o.buy ?? 2.2);
    s.crowd("mint", "c", 4, () => 0.3, 10 * SECOND);
    s.wait(4 * MINUTE);
    const before = s.events.filter((e): e is Trade => e.kind === "trade").at(-1)!;
    const sells: Trade[] = [];
    for (const w of crew) {
      sells.push(s.sell("mint", w, o.frac ?? 1));
      s.wait(o.gap ?? 2 * SECOND);
    }
    s.wait(MINUTE);
    const drop =
      1 - sells.at(-1)!.vSolAfter / sells.at(-1)!.vTokAfter / (before.vSolAfter / before.vTokAfter);
    const sold = sells.reduce((n, t) => n + t.tok, 0) / SUPPLY;
    return { s, crew, drop, sold };
  };

  test("3 crew wallets exit whole positions held 4 min within 6 s -> med, names them", () => {
    const { s, crew, drop, sold } = coord("p3-a", 3);
    expect(drop).toBeGreaterThanOrEqual(0.3);
    expect(sold).toBeGreaterThanOrEqual(0.05);
    const a = top(runAll(s.events), "coordinated_dump");
    expect(a).toBeDefined();
    for (const w of crew) expect(a!.wallets).toContain(s.id(w));
    expect(a!.mint).toBe(s.id("mint"));
  });

  test("5 sellers -> high", () => {
    const { s, drop } = coord("p3-high", 5, { buy: 1.4 });
    expect(drop).toBeGreaterThanOrEqual(0.3);
    expect(top(runAll(s.events), "coordinated_dump")?.severity).toBe("high");
  });

  test("2 distinct sellers, one selling in two parts (3 sells) -> nothing", () => {
    const s = new Script("p3-twice", 0);
    for (const w of ["k1", "k2"]) s.aged(w, `${w}-exchange`, { days: 30 });
    s.launch("mint", "dev", 0.3);
    s.wait(30 * SECOND);
    for (const w of ["k1", "k2"]) s.wait(3 * SECOND).buy("mint", w, 3.5);
    s.crowd("mint", "c", 4, () => 0.3, 10 * SECOND);
    s.wait(4 * MINUTE);
    s.sell("mint", "k1", 0.6);
    s.wait(2 * SECOND).sell("mint", "k2", 1);
    s.wait(2 * SECOND).sell("mint", "k1", 1);
    expect(of(runAll(s.events), "coordinated_dump")).toEqual([]);
  });

  test("2 sellers -> nothing", () => {
    const { s } = coord("p3-two", 2, { buy: 3.5 });
    expect(of(runAll(s.events), "coordinated_dump")).toEqual([]);
  });

  test("each sells 40% of its position -> nothing", () => {
    const { s } = coord("p3-part", 3, { buy: 4, frac: 0.4 });
    expect(of(runAll(s.events), "coordinated_dump")).toEqual([]);
  });

  test("3 sellers spread over 12 s (no 10 s window holds 3) -> nothing", () => {
    const { s } = coord("p3-spread", 3, { gap: 6 * SECOND });
    expect(of(runAll(s.events), "coordinated_dump")).toEqual([]);
  });

  test("3 sellers, >= 5% of supply, price down < 30% -> nothing", () => {
    const { s, drop, sold } = coord("p3-small", 3, { buy: 0.8 });
    expect(sold).toBeGreaterThanOrEqual(0.05);
    expect(drop).toBeLessThan(0.3);
    expect(of(runAll(s.events), "coordinated_dump")).toEqual([]);
  });

  test("last two sells delivered swapped (1 s apart; the first two already drop the price >= 30%) -> still alert", () => {
    const { s } = coord("p3-ooo2", 3, { buy: 3 });
    const ev = [...s.events].sort((a, b) => a.ts - b.ts);
    const idx = ev.map((e, i) => (e.kind === "trade" && e.side === "sell" ? i : -1)).filter((i) => i >= 0);
    const [i1, i2, i3] = idx as [number, number, number];
    const t1 = ev[i1] as Trade;
    const t2 = ev[i2] as Trade;
    const before = ev[i1 - 1] as Trade;
    expect(1 - t2.vSolAfter / t2.vTokAfter / (before.vSolAfter / before.vTokAfter)).toBeGreaterThanOrEqual(
      0.3,
    );
    void t1;
    [ev[i2], ev[i3]] = [ev[i3]!, ev[i2]!];
    expect(of(runAll(ev, { raw: true }), "coordinated_dump").length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- P4
describe("P4 daisy_chain: A->B->C->D, single-inbound intermediates forward >= 90% in 10 min, >= 3 hops", () => {
  const chain = (
    name: string,
    hops: number,
    o: { fwd?: number; delay?: number; extraInbound?: boolean; tail?: "buy" | "fund" } = {},
  ) => {
    const s = new Script(name, 0);
    if (o.tail === "buy") {
      s.launch("mint", "dev", 0.3);
      s.wait(MINUTE);
    }
    const path = ["src", ...Array.from({ length: hops - 1 }, (_, i) => `h${i + 1}`), "tail"];
    let amount = 5;
    s.send(path[0]!, path[1]!, amount);
    if (o.extraInbound) s.wait(10 * SECOND).send("other", "h1", 1);
    for (let i = 1; i < hops; i++) {
      s.wait(o.delay ?? MINUTE);
      amount = amount * (o.fwd ?? 0.98);
      s.send(path[i]!, path[i + 1]!, amount);
    }
    if (o.tail === "buy") s.wait(MINUTE).buy("mint", "tail", amount * 0.9);
    if (o.tail === "fund") for (let i = 0; i < 3; i++) s.wait(MINUTE).send("tail", `f${i}`, amount / 4);
    s.wait(MINUTE);
    return { s, path };
  };

  test("3 hops -> alert naming the intermediates and tail", () => {
    const { s, path } = chain("p4-a", 3);
    const a = top(runAll(s.events), "daisy_chain");
    expect(a).toBeDefined();
    for (const w of path.slice(1)) expect(a!.wallets).toContain(s.id(w));
  });

  test("2 hops -> nothing", () => {
    expect(of(runAll(chain("p4-two", 2).s.events), "daisy_chain")).toEqual([]);
  });

  test("intermediates forward 89% -> nothing", () => {
    expect(of(runAll(chain("p4-89", 3, { fwd: 0.89 }).s.events), "daisy_chain")).toEqual([]);
  });

  test("intermediates forward exactly 90% -> alert", () => {
    expect(of(runAll(chain("p4-90", 3, { fwd: 0.9 }).s.events), "daisy_chain").length).toBeGreaterThan(0);
  });

  test("forwarding 11 min after receipt -> nothing", () => {
    expect(of(runAll(chain("p4-slow", 3, { delay: 11 * MINUTE }).s.events), "daisy_chain")).toEqual([]);
  });

  test("an intermediate with another inbound -> nothing", () => {
    expect(of(runAll(chain("p4-other", 3, { extraInbound: true }).s.events), "daisy_chain")).toEqual([]);
  });

  test("3 hops, tail buys -> high", () => {
    expect(top(runAll(chain("p4-buy", 3, { tail: "buy" }).s.events), "daisy_chain")?.severity).toBe("high");
  });

  test("3 hops, tail funds 3 wallets -> high", () => {
    expect(top(runAll(chain("p4-fund", 3, { tail: "fund" }).s.events), "daisy_chain")?.severity).toBe("high");
  });

  test("3 hops without tail activity -> not high", () => {
    expect(top(runAll(chain("p4-med", 3).s.events), "daisy_chain")?.severity).not.toBe("high");
  });
});

// ---------------------------------------------------------------- P5
describe("P5 wash_trading: 10 min, >= 3 buys & sells, balance >= 0.9, net <= 10%, >= 0.5 SOL; high >= 50% volume", () => {
  const wash = (
    name: string,
    trips: number,
    o: { sol?: number; frac?: number; gap?: number; crowd?: number } = {},
  ) => {
    const s = new Script(name, 0);
    s.launch("mint", "dev", 0.3);
    s.wait(MINUTE);
    const n = o.crowd ?? 0;
    if (n > 0) s.crowd("mint", "c", n, () => 1, 5 * SECOND);
    for (let i = 0; i < trips; i++) {
      s.wait(o.gap ?? 30 * SECOND).buy("mint", "w", o.sol ?? 0.3);
      s.wait(10 * SECOND).sell("mint", "w", o.frac ?? 1);
    }
    s.wait(MINUTE);
    return s;
  };

  test("3 flat round trips of 0.3 SOL on a quiet mint -> high naming the wallet", () => {
    const s = wash("p5-a", 3);
    const a = top(runAll(s.events), "wash_trading");
    expect(a?.severity).toBe("high");
    expect(a!.wallets).toContain(s.id("w"));
    expect(a!.mint).toBe(s.id("mint"));
  });

  test("3 flat round trips among heavy other volume -> alert, not high", () => {
    const a = top(runAll(wash("p5-busy", 3, { crowd: 6 }).events), "wash_trading");
    expect(a).toBeDefined();
    expect(a!.severity).not.toBe("high");
  });

  test("2 round trips -> nothing", () => {
    expect(of(runAll(wash("p5-two", 2).events), "wash_trading")).toEqual([]);
  });

  test("volume 0.42 SOL (buys 0.07 x 3, sells) -> nothing", () => {
    expect(of(runAll(wash("p5-small", 3, { sol: 0.07 }).events), "wash_trading")).toEqual([]);
  });

  test("keeps 15% of each buy's tokens (net > 10% of bought) -> nothing", () => {
    const s = new Script("p5-net", 0);
    s.launch("mint", "dev", 0.3);
    s.wait(MINUTE);
    let holding = 0;
    let bought = 0;
    for (let i = 0; i < 3; i++) {
      const b = s.wait(30 * SECOND).buy("mint", "w", 0.3);
      holding += b.tok;
      bought += b.tok;
      const sell = s.wait(10 * SECOND).sell("mint", "w", (0.85 * b.tok) / holding);
      holding -= sell.tok;
    }
    expect(holding / bought).toBeGreaterThan(0.1);
    expect(of(runAll(s.events), "wash_trading")).toEqual([]);
  });

  test("3 round trips spread over 11+ min -> nothing", () => {
    expect(of(runAll(wash("p5-slow", 3, { gap: 5 * MINUTE }).events), "wash_trading")).toEqual([]);
  });

  test("the creator washing its own mint -> alert", () => {
    const s = new Script("p5-dev", 0);
    s.launch("mint", "dev");
    s.wait(MINUTE);
    for (let i = 0; i < 3; i++) {
      s.wait(30 * SECOND).buy("mint", "dev", 0.3);
      s.wait(10 * SECOND).sell("mint", "dev", 1);
    }
    expect(of(runAll(s.events), "wash_trading").length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- P6
describe("P6 flash_roundtrip: buy then sell within <= 2 slots, |net| <= 1%, >= 3 times in 10 min", () => {
  const flash = (name: string, trips: number, o: { slots?: number; frac?: number; gap?: number } = {}) => {
    const s = new Script(name, 0);
    s.launch("mint", "dev", 0.3);
    s.wait(MINUTE);
    for (let i = 0; i < trips; i++) {
      s.wait(o.gap ?? MINUTE);
      const b = s.buy("mint", "bot", 0.5);
      s.wait((o.slots ?? 1) * 400).sell("mint", "bot", o.frac ?? 1);
      void b;
    }
    s.wait(MINUTE);
    return s;
  };

  test("3 round trips 1 slot each -> alert naming the bot", () => {
    const s = flash("p6-a", 3);
    const a = top(runAll(s.events), "flash_roundtrip");
    expect(a).toBeDefined();
    expect(a!.wallets).toContain(s.id("bot"));
  });

  test("3 round trips exactly 2 slots each -> alert", () => {
    expect(of(runAll(flash("p6-2", 3, { slots: 2 }).events), "flash_roundtrip").length).toBeGreaterThan(0);
  });

  test("3 round trips of 3 slots -> nothing", () => {
    expect(of(runAll(flash("p6-3", 3, { slots: 3 }).events), "flash_roundtrip")).toEqual([]);
  });

  test("2 round trips -> nothing", () => {
    expect(of(runAll(flash("p6-two", 2).events), "flash_roundtrip")).toEqual([]);
  });

  test("sells 98% (net 2%) -> nothing", () => {
    expect(of(runAll(flash("p6-net", 3, { frac: 0.98 }).events), "flash_roundtrip")).toEqual([]);
  });

  test("sells 99.5% (net 0.5%) -> alert", () => {
    expect(
      of(runAll(flash("p6-net05", 3, { frac: 0.995 }).events), "flash_roundtrip").length,
    ).toBeGreaterThan(0);
  });

  test("3 round trips over 10 min + (5 min 10 s apart) -> nothing", () => {
    expect(
      of(runAll(flash("p6-slow", 3, { gap: 5 * MINUTE + 10 * SECOND }).events), "flash_roundtrip"),
    ).toEqual([]);
  });

  test("3 round trips of zero amount (sol 0, tok 0) -> nothing", () => {
    const s = flash("p6-zero", 3);
    const ev = s.events.map((e) =>
      e.kind === "trade" && e.trader === s.id("bot") ? { ...e, sol: 0, tok: 0 } : e,
    );
    expect(of(runAll(ev), "flash_roundtrip")).toEqual([]);
  });

  test("3 sandwiches (A buy, B buy, A sell in one slot) -> high", () => {
    const s = new Script("p6-sand", 0);
    s.launch("mint", "dev", 0.3);
    s.wait(MINUTE);
    for (let i = 0; i < 3; i++) {
      s.wait(MINUTE);
      s.buy("mint", "A", 0.5);
      s.wait(50).buy("mint", `victim${i}`, 0.4);
      s.wait(50).sell("mint", "A", 1);
    }
    expect(top(runAll(s.events), "flash_roundtrip")?.severity).toBe("high");
  });
});

/** Windows exactly at their boundary ("within X" read as inclusive), and cross-analyzer edges into S3. */
import { describe, expect, test } from "bun:test";
import { HOUR, MINUTE, of, runAll, Script, SECOND, SOL, top } from "./harness.ts";

const FLUSH = { flushAfter: 5 * MINUTE };

describe("exact window boundaries", () => {
  test("W1: the buy reaching 80% lands exactly 5 min after the injection -> alert", () => {
    const s = new Script("b-w1", 0);
    s.launch("mint", "dev", 0.2);
    s.wait(MINUTE);
    s.send("src", "w", 10);
    s.wait(MINUTE).buy("mint", "w", 4);
    s.wait(4 * MINUTE).buy("mint", "w", 4);
    expect(of(runAll(s.events), "liquidity_injection").length).toBeGreaterThan(0);
  });

  test("W1: 10 SOL spent 45% on mint A and 45% on mint B within 5 min -> alert", () => {
    const s = new Script("b-w1two", 0);
    s.launch("a", "dev", 0.2);
    s.launch("b", "dev2", 0.2);
    s.wait(MINUTE);
    s.send("src", "w", 10);
    s.wait(MINUTE).buy("a", "w", 4.5);
    s.wait(MINUTE).buy("b", "w", 4.5);
    expect(of(runAll(s.events), "liquidity_injection").length).toBeGreaterThan(0);
  });

  test("P2: dev sells 100% exactly 10 min after creation -> alert", () => {
    const s = new Script("b-p2", 0);
    s.launch("mint", "dev", 2);
    s.wait(10 * SECOND);
    s.crowd("mint", "c", 4, () => 0.3, 5 * SECOND);
    s.wait(10 * MINUTE - (s.now - s.events[0]!.ts));
    s.sell("mint", "dev", 1);
    expect(of(runAll(s.events), "dev_dump").length).toBeGreaterThan(0);
  });

  test("P2: dev sells 100% exactly 60 s after creation -> high", () => {
    const s = new Script("b-p2f", 0);
    s.launch("mint", "dev", 2);
    s.wait(10 * SECOND);
    s.crowd("mint", "c", 4, () => 0.3, 5 * SECOND);
    s.wait(60 * SECOND - (s.now - s.events[0]!.ts));
    s.sell("mint", "dev", 1);
    expect(top(runAll(s.events), "dev_dump")?.severity).toBe("high");
  });

  test("W4: sweeps exactly 30 min after each sale -> alert", () => {
    const s = new Script("b-w4", 0);
    const traders = ["a1", "a2", "a3"];
    for (const w of traders) s.send("boss", w, 2);
    s.wait(40 * MINUTE);
    s.launch("mint", "dev", 0.3);
    s.wait(MINUTE);
    s.crowd("mint", "buyer", 4, () => 0.5, 10 * SECOND);
    for (const w of traders) s.wait(15 * SECOND).buy("mint", w, 0.8);
    s.wait(5 * MINUTE);
    for (const w of traders) {
      const sale = s.wait(20 * SECOND).sell("mint", w, 1);
      s.wait(30 * MINUTE).send(w, "boss", Math.ceil(sale.sol * 0.95) / SOL);
      s.wait(-30 * MINUTE);
    }
    expect(of(runAll(s.events), "sweep_back").length).toBeGreaterThan(0);
  });

  test("S1: 5 templated fundings spanning exactly 10 min -> alert", () => {
    const s = new Script("b-s1", 0);
    for (let i = 0; i < 5; i++) {
      if (i > 0) s.wait(2.5 * MINUTE);
      s.send("hub", `r${i}`, 1);
    }
    expect(of(runAll(s.events, FLUSH), "funding_hub").length).toBeGreaterThan(0);
  });

  test("P6: 3 round trips, first buy to last sell exactly 10 min -> alert", () => {
    const s = new Script("b-p6", 0);
    s.launch("mint", "dev", 0.3);
    s.wait(MINUTE);
    const t0 = s.now;
    for (let i = 0; i < 3; i++) {
      s.buy("mint", "bot", 0.5);
      s.wait(400).sell("mint", "bot", 1);
      if (i < 2) s.wait(5 * MINUTE - 400 - (i === 1 ? 400 : 0));
    }
    expect(s.now - t0).toBeLessThanOrEqual(10 * MINUTE);
    expect(of(runAll(s.events), "flash_roundtrip").length).toBeGreaterThan(0);
  });
});

describe("S3 over edges of other detectors", () => {
  test("W4 sweepers (3 wallets, one boss) later hold >= 20% of a mint together -> cluster_control", () => {
    const s = new Script("b-s3w4", 0);
    const traders = ["a1", "a2", "a3"];
    for (const [i, w] of traders.entries()) s.send("boss", w, 2 + i * 1.7);
    s.wait(40 * MINUTE);
    s.launch("m1", "dev", 0.3);
    s.wait(MINUTE);
    s.crowd("m1", "buyer", 4, () => 0.5, 10 * SECOND);
    for (const w of traders) s.wait(15 * SECOND).buy("m1", w, 0.8);
    s.wait(5 * MINUTE);
    for (const w of traders) {
      const sale = s.wait(20 * SECOND).sell("m1", w, 1);
      s.wait(MINUTE).send(w, "boss", Math.ceil(sale.sol * 0.95) / SOL);
    }
    s.wait(HOUR);
    s.launch("m2", "dev2", 0.2);
    s.wait(MINUTE);
    for (const w of traders) s.wait(30 * SECOND).buy("m2", w, 2.8);
    s.wait(2 * MINUTE);
    const alerts = runAll(s.events, FLUSH);
    expect(of(alerts, "sweep_back").length).toBeGreaterThan(0);
    const a = of(alerts, "cluster_control").find((x) => x.mint === s.id("m2"));
    expect(a).toBeDefined();
  });

  test("S2 co-entry cluster (3 shared mints) later holds >= 20% of a 4th mint -> cluster_control", () => {
    const s = new Script("b-s3s2", 0);
    const ws = ["x1", "x2", "x3"];
    for (let m = 0; m < 3; m++) {
      s.launch(`m${m}`, `dev${m}`, 0.2);
      s.atSlot(`m${m}`, 30);
      for (const [i, w] of ws.entries()) s.atSlot(`m${m}`, 30, 10 * (i + 1)).buy(`m${m}`, w, 0.5);
      s.wait(30 * MINUTE);
    }
    s.launch("big", "devb", 0.2);
    s.wait(MINUTE);
    for (const w of ws) s.wait(40 * SECOND).buy("big", w, 2.8);
    s.wait(2 * MINUTE);
    const alerts = runAll(s.events, FLUSH);
    expect(of(alerts, "co_entry_signature").length).toBeGreaterThan(0);
    expect(of(alerts, "cluster_control").some((x) => x.mint === s.id("big"))).toBe(true);
  });
});

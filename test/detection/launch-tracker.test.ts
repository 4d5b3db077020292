import { describe, expect, test } from "bun:test";
import type { AlertCandidate } from "../../src/detection/alert.ts";
import type { DetectorContext } from "../../src/detection/detector.ts";
import type { ChainEvent } from "../../src/detection/schema.ts";
import { type EarlyBuy, type Launch, LaunchTracker } from "../../src/detection/state/launch-tracker.ts";
import { MintBook } from "../../src/detection/state/mint-book.ts";
import { WalletBook } from "../../src/detection/state/wallet-book.ts";
import { memoryTables } from "../../src/runtime/durable-table.ts";
import { at, buy, create, sell, T0 } from "./events.ts";

const OPTIONS = { windowSlots: 5, medSupplyFraction: 0.1, highSupplyFraction: 0.25, maxWallets: 2 };

/** A tracker fed as a detector is: the books record each event first; every early buy is kept. */
function harness() {
  const tables = memoryTables();
  const tracker = new LaunchTracker(tables.table<Launch<{ seen: number }>>("launches"), OPTIONS, () => ({
    seen: 0,
  }));
  const emitted: AlertCandidate[] = [];
  const ctx: DetectorContext = {
    mints: new MintBook(tables, 100),
    wallets: new WalletBook(tables),
    observedSince: T0,
    emit: (candidate) => emitted.push(candidate),
    link: () => {},
  };
  const buys: EarlyBuy<{ seen: number }>[] = [];
  const feed = (...events: ChainEvent[]) => {
    for (const event of events) {
      ctx.mints.observe(event);
      ctx.wallets.observe(event);
      const early = tracker.observe(event);
      if (early !== undefined) {
        early.launch.extra.seen++;
        buys.push(early);
      }
    }
  };
  return { tracker, ctx, emitted, buys, feed };
}

describe("LaunchTracker", () => {
  test("hands over buys inside the window by neither creator nor payer, with their slot delta", () => {
    const { tracker, buys, feed } = harness();
    const launch = { ...create("M", "dev"), payer: "funder" };
    feed(
      launch,
      buy("M", "dev", at(0), { supply: 0.1, inCreateTx: true }),
      buy("M", "funder", at(1), { supply: 0.1 }),
      sell("M", "a", at(2), { supply: 0.01 }),
      buy("M", "a", at(3), { supply: 0.01 }),
      buy("M", "b", at(5), { supply: 0.01 }),
      buy("X", "c", at(1), { supply: 0.01 }),
    );
    expect(buys.map((b) => [b.trade.trader, b.slotDelta])).toEqual([
      ["a", 3],
      ["b", 5],
    ]);
    expect(buys[0]!.launch).toMatchObject({ creator: "dev", payer: "funder", createTs: T0 });
    expect(buys[0]!.launch.extra).toEqual({ seen: 2 });
    expect(tracker.size).toBe(1);
  });

  test("the first buy past the window ends the launch; prune drops launches older than the window", () => {
    const { tracker, buys, feed } = harness();
    feed(
      create("M", "dev"),
      buy("M", "late", at(6), { supply: 0.01 }),
      buy("M", "a", at(6), { supply: 0.01 }),
    );
    expect(buys).toEqual([]);
    expect(tracker.size).toBe(0);

    feed(create("N", "dev", at(10)));
    tracker.prune(at(10 + 6));
    expect(tracker.size).toBe(1);
    tracker.prune(at(10 + 6, 1));
    expect(tracker.size).toBe(0);
  });

  test("counts at most maxWallets per launch", () => {
    const { tracker, buys, feed } = harness();
    feed(create("M", "dev"), buy("M", "a", at(1), { supply: 0.01 }));
    const launch = buys[0]!.launch;
    expect(["a", "b", "c"].map((w) => tracker.count(launch, w))).toEqual([true, true, false]);
    expect([...launch.wallets]).toEqual(["a", "b"]);
  });

  test("reports the counted wallets' share of supply: nothing below med, med, then high", () => {
    const { tracker, ctx, emitted, buys, feed } = harness();
    const report = (early: EarlyBuy<{ seen: number }>) => {
      tracker.count(early.launch, early.trade.trader);
      tracker.reportHeldShare(ctx, early, () => ({ counted: early.launch.wallets.size }));
    };
    feed(create("M", "dev"), buy("M", "a", at(1), { supply: 0.05 }));
    report(buys.at(-1)!);
    feed(buy("M", "b", at(2), { supply: 0.07 }));
    report(buys.at(-1)!);
    feed(buy("M", "a", at(3), { supply: 0.2 }));
    report(buys.at(-1)!);
    expect(emitted.map((c) => [c.severity, c.score, c.evidence])).toEqual([
      ["med", 0.48, { supplyFraction: 0.12, counted: 2 }],
      ["high", 1, { supplyFraction: 0.32, counted: 2 }],
    ]);
    expect(Object.keys(emitted[0]!.evidence)[0]).toBe("supplyFraction");
    expect(emitted[1]).toMatchObject({ mint: "M", key: "M", wallets: ["a", "b"], timing: "exact" });
    expect(emitted[1]!.triggerId).toBe(buys.at(-1)!.trade.id);
  });
});

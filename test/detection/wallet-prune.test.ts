/**
 * The wallet book's prune skips its entries and summaries when none can be old enough to retire (a lower
 * bound on their last-seen times): it must retire exactly what a look at every one of them retires, with
 * events out of order, flags, and revivals from summaries.
 */
import { expect, test } from "bun:test";
import { WalletBook } from "../../src/detection/state/wallet-book.ts";
import { memoryTables } from "../../src/runtime/durable-table.ts";
import { fund, T0 } from "./events.ts";

const IDLE = 1_000;
const FLAGGED_IDLE = 3_000;
const SUMMARY_IDLE = 10_000;

/** The rules, looked up every time: an entry idle past its horizon becomes a summary, a summary goes later. */
class EveryWallet {
  readonly entries = new Map<string, { lastSeen: number; flagged: boolean }>();
  readonly summaries = new Map<string, number>();

  observe(wallets: string[], ts: number): void {
    for (const wallet of wallets) {
      const entry = this.entries.get(wallet);
      if (entry) entry.lastSeen = Math.max(entry.lastSeen, ts);
      else {
        const summarised = this.summaries.get(wallet);
        this.summaries.delete(wallet);
        this.entries.set(wallet, { lastSeen: Math.max(summarised ?? ts, ts), flagged: false });
      }
    }
  }

  prune(now: number): void {
    for (const [wallet, lastSeen] of this.summaries)
      if (now - lastSeen > SUMMARY_IDLE) this.summaries.delete(wallet);
    for (const [wallet, entry] of this.entries) {
      const idle = now - entry.lastSeen;
      if (idle <= (entry.flagged ? FLAGGED_IDLE : IDLE)) continue;
      this.entries.delete(wallet);
      if (idle <= SUMMARY_IDLE) this.summaries.set(wallet, entry.lastSeen);
    }
  }
}

test("a prune that skips what cannot be old enough retires what a look at every wallet retires", () => {
  // A fixed pseudo-random sequence (LCG): the same run every time.
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const tables = memoryTables();
  const book = new WalletBook(tables);
  const entries = tables.table("wallets");
  const summaries = tables.table("wallets.summary");
  const model = new EveryWallet();
  let now = T0;
  let retired = 0;
  for (let step = 0; step < 20_000; step++) {
    now += Math.floor(random() * 20);
    // Mostly now, sometimes far in the past: an out-of-order event older than every entry's last one.
    const ts = random() < 0.05 ? now - Math.floor(random() * 2 * SUMMARY_IDLE) : now;
    const from = `w${Math.floor(random() * 400)}`;
    const to = `w${Math.floor(random() * 400)}`;
    book.observe(fund(from, to, ts, 1));
    model.observe([from, to], ts);
    if (random() < 0.02) {
      book.flag(to);
      const entry = model.entries.get(to);
      if (entry) entry.flagged = true;
    }
    if (random() < 0.05) {
      const before = entries.size;
      book.prune(now, IDLE, FLAGGED_IDLE, SUMMARY_IDLE);
      model.prune(now);
      retired += before - entries.size;
      expect([...entries.keys()]).toEqual([...model.entries.keys()]);
      expect([...summaries.keys()].sort()).toEqual([...model.summaries.keys()].sort());
    }
  }
  // The sequence did exercise it: entries retired, summaries kept and dropped.
  expect(retired).toBeGreaterThan(1_000);
  expect(summaries.size).toBeGreaterThan(0);
});

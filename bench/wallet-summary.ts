/**
 * What a remembered wallet costs (issue 18): the wallet book keeps a full entry for a day after a wallet's
 * last event, then a summary (first seen, last seen, events, first funder, transfers sent, inbound EWMA)
 * for 30 days. This measures both in one process on the same wallets, as JS heap bytes per wallet after a
 * full collection: `count` wallets with 44-character addresses, funded from 1 in 1,000 of as many
 * exchange-like funders, as full entries (the baseline), then pruned into summaries. Ratio below 1: a
 * summary is that fraction of a full entry. The budget for 30 days follows: bytes per summary × wallets
 * seen in 30 days but not in the last day.
 *
 *   bun bench/wallet-summary.ts [--count 200000] [--json]
 */
import { parseCommandLine } from "../src/command-line.ts";
import { WalletBook } from "../src/detection/state/wallet-book.ts";
import { memoryTables } from "../src/runtime/durable-table.ts";
import { figure, integer, printReport } from "./lib/report.ts";

const BENCH = "wallet-summary";
const DAY = 86_400_000;
const T0 = 1_760_000_000_000;
const USAGE = "usage: bun bench/wallet-summary.ts [--count 200000] [--json]";
// Not parseBenchArgs: one run, no --rounds.
const args = parseCommandLine(USAGE, {
  count: { type: "string", default: "200000" },
  json: { type: "boolean", default: false },
});
const count = integer(USAGE, "--count", args.count);

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/** A base58 address of 44 characters, as Solana's are, distinct per `i`; one flat string (no rope). */
function address(i: number, salt: number): string {
  const codes: number[] = [];
  let x = (i * 2_654_435_761 + salt) % 2_147_483_648;
  for (let k = 0; k < 36; k++) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    codes.push(ALPHABET.charCodeAt(x % 58));
  }
  for (const c of i.toString(36).padStart(8, "1")) codes.push(c.charCodeAt(0));
  return String.fromCharCode(...codes);
}

function heapBytes(): number {
  Bun.gc(true);
  return process.memoryUsage().heapUsed;
}

const funders = Array.from({ length: Math.max(1, Math.floor(count / 1_000)) }, (_, i) => address(i, 1));
const wallets = Array.from({ length: count }, (_, i) => address(i, 2));
const base = heapBytes();
const book = new WalletBook(memoryTables());
wallets.forEach((wallet, i) => {
  const ts = T0 + i;
  book.observe({
    v: 1,
    id: `s${i}:0`,
    signature: `s${i}`,
    ix: 0,
    slot: null,
    ts,
    tsSrc: "sim",
    src: "sim",
    kind: "transfer",
    asset: "SOL",
    from: funders[i % funders.length] as string,
    to: wallet,
    amount: 1_000_000_000 + i,
    decimals: 9,
  });
});
book.drainTouched();
const entries = book.size;
const full = (heapBytes() - base) / entries;
book.prune(T0 + 2 * DAY, DAY, 7 * DAY, 30 * DAY);
if (book.size !== 0 || book.summaries !== entries) throw new Error("every entry should now be a summary");
const summary = (heapBytes() - base) / entries;

const baseline = { bench: BENCH, metric: "full entry", value: Math.round(full), unit: "B/wallet" };
printReport(
  [
    figure(baseline),
    figure({ bench: BENCH, metric: "summary", value: Math.round(summary), unit: "B/wallet" }, baseline),
  ],
  args,
);

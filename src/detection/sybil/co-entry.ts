/**
 * S2 co_entry_signature: wallets whose trades share a signature, (mint, side, 2-slot bucket, amount on
 * a 5% log scale), on ≥ 3 distinct mints within 24 h get an edge; a cluster of ≥ 3 wallets joined by
 * such edges is alerted; high when the chance of that overlap is below 1e-6 ([GCTS], [TRB], [INT]).
 * A script firing one buy size from many wallets in the same slot leaves exactly this signature;
 * unrelated traders share a key on one mint now and then, on three mints almost never.
 *
 * Quantisation: time and amount buckets each come in two grids offset by half a bucket, so two
 * trades one slot apart or within 2.5% of each other always share a key in one of the four grid
 * combinations (a single grid splits them at every bucket boundary).
 *
 * Sharpened edge (docs/detection.md): as literally specified, Zipf's busiest traders, who trade most
 * launches, share a key on three mints within hours by chance alone. So an edge also needs the
 * overlap to be unlikely given how active the two wallets are: with q = `keyChance`, the chance that
 * two unrelated traders of one mint share a key (≈ 2.7e-4 measured on organic traffic; 1e-3 is the
 * conservative default), and n the less active wallet's event count (an upper bound on the mints the
 * two could have shared), the chance of ≥ k shared mints is the binomial tail P(X ≥ k; n, q); the
 * pair is an edge when it is below `edgeChance`. A farm wallet that did nothing but the farm's
 * buys (n ≈ 10) passes at k = 3; two traders with hundreds of trades never do. A cluster's chance
 * is the product over the edges that joined it; high below `highChance`.
 *
 * State: per mint and grid, the keys of the current time bucket only (older buckets can no longer
 * be joined: events arrive in time order), at most `maxWalletsPerKey` wallets each; per pair that
 * shared a key, its shared mints for `windowMs` (at most `maxPairs`, oldest evicted first); a
 * union-find of the edges, pruned `windowMs` after a cluster's last edge. A trade costs four key
 * lookups plus one pair update per wallet already on its keys. Durable tables: `mints`, `pairs`, `uf`,
 * `chance`, `alerted`, `pending` (the last three keyed by cluster root) and `meta` (the next sweep).
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { round4 } from "../alert.ts";
import type { DetectorContext, FlushInfo } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { slotOf, timingOf } from "../state/slots.ts";
import { Scalars } from "../state/tables.ts";
import { UnionFind } from "../state/union-find.ts";

export interface CoEntrySignatureOptions {
  /** Slots per time bucket. @defaultValue 2 */
  slotsPerBucket?: number;
  /** Amount buckets are powers of (1 + amountStep). @defaultValue 0.05 */
  amountStep?: number;
  /** Distinct mints two wallets must share keys on for an edge. @defaultValue 3 */
  minSharedMints?: number;
  /** Chance that two unrelated traders of one mint share a key. @defaultValue 0.001 */
  keyChance?: number;
  /** A pair is an edge only when its overlap is less likely than this by chance. @defaultValue 1e-4 */
  edgeChance?: number;
  /** ...within this long. @defaultValue 86_400_000 */
  windowMs?: number;
  /** Wallets in a cluster for an alert. @defaultValue 3 */
  minCluster?: number;
  /** A cluster whose chance overlap is below this is high. @defaultValue 1e-6 */
  highChance?: number;
  /** Wallets remembered per key (a crowd on one key is no signature). @defaultValue 50 */
  maxWalletsPerKey?: number;
  /** The alert waits until the cluster stopped growing this long, to name all of it. @defaultValue 10_000 */
  quietMs?: number;
  /** Trades below this are ignored, lamports. @defaultValue 1_000_000 */
  minLamports?: number;
  /** A mint's key index is dropped after this long without trades. @defaultValue 120_000 */
  mintIdleMs?: number;
  /** Most wallets listed in an alert. @defaultValue 200 */
  maxListed?: number;
  /** Pairs remembered at most; the oldest go first. @defaultValue 1_000_000 */
  maxPairs?: number;
}

export const CO_ENTRY_SIGNATURE_DEFAULTS = {
  slotsPerBucket: 2,
  amountStep: 0.05,
  minSharedMints: 3,
  keyChance: 0.001,
  edgeChance: 1e-4,
  windowMs: 86_400_000,
  minCluster: 3,
  highChance: 1e-6,
  maxWalletsPerKey: 50,
  quietMs: 10_000,
  minLamports: 1_000_000,
  mintIdleMs: 120_000,
  maxListed: 200,
  maxPairs: 1_000_000,
} satisfies Required<CoEntrySignatureOptions>;

const SEP = "\u001f";
/** Amount buckets are kept modulo this (4096 buckets of 5% span a factor of 1e86). */
const AMOUNT_SPAN = 4_096;

/**
 * One grid's keys on a mint: only the current time bucket can still be joined (events arrive in
 * time order), so the keys are dropped when the bucket advances. A bucket holds a handful of trades,
 * so keys and values are short parallel arrays (cheaper to scan and reset than a Map). Values are the
 * wallets on the key: a lone wallet as a string, an array from the second one on.
 */
interface Grid {
  tb: number;
  keys: number[];
  wallets: (string | string[])[];
}

interface MintKeys {
  grids: [Grid, Grid];
  lastTs: number;
}

interface Pair {
  firstTs: number;
  /** Shared mints, distinct (the first `minSharedMints + 8` kept). */
  mints: string[];
  count: number;
  linked: boolean;
}

interface Pending {
  ts: number;
  trigger: Trade;
}

class CoEntrySignature {
  readonly #o: Required<CoEntrySignatureOptions>;
  readonly #logStep: number;
  readonly #mints: DurableTable<MintKeys>;
  readonly #pairs: DurableTable<Pair>;
  readonly #uf: UnionFind;
  /** Per cluster root: log chance of the cluster, size when last alerted. */
  readonly #chance: DurableTable<number>;
  readonly #alerted: DurableTable<number>;
  readonly #pending: DurableTable<Pending>;
  readonly #meta: Scalars<{ nextPairPrune: number }>;

  constructor(options: Required<CoEntrySignatureOptions>, tables: Tables) {
    this.#o = options;
    this.#uf = new UnionFind(tables.table("uf"));
    this.#mints = tables.table("mints");
    this.#pairs = tables.table("pairs");
    this.#chance = tables.table("chance");
    this.#alerted = tables.table("alerted");
    this.#pending = tables.table("pending");
    this.#meta = new Scalars(tables, "meta", { nextPairPrune: 0 });
    this.#logStep = Math.log(1 + options.amountStep);
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind !== "trade" || event.sol < this.#o.minLamports) return;
    const o = this.#o;
    const slot = slotOf(event);
    const tb0 = Math.floor(slot / o.slotsPerBucket);
    const tb1 = Math.floor((slot + o.slotsPerBucket / 2) / o.slotsPerBucket);
    let m = this.#mints.get(event.mint);
    if (m === undefined) {
      m = {
        grids: [
          { tb: tb0, keys: [], wallets: [] },
          { tb: tb1, keys: [], wallets: [] },
        ],
        lastTs: event.ts,
      };
      this.#mints.set(event.mint, m);
    } else {
      this.#mints.touch(event.mint);
    }
    m.lastTs = event.ts;
    const level = Math.log(event.sol) / this.#logStep;
    const side = event.side === "buy" ? 0 : 2;
    for (let g = 0; g < 2; g++) {
      const grid = m.grids[g]!;
      const tb = g === 0 ? tb0 : tb1;
      if (tb > grid.tb) {
        grid.tb = tb;
        grid.keys.length = 0;
        grid.wallets.length = 0;
      }
      for (let h = 0; h < 2; h++) {
        const k = (side + h) * AMOUNT_SPAN + (Math.floor(level + h / 2) & (AMOUNT_SPAN - 1));
        const at = grid.keys.indexOf(k);
        const on = at < 0 ? undefined : grid.wallets[at]!;
        if (on === undefined) {
          grid.keys.push(k);
          grid.wallets.push(event.trader);
        } else if (typeof on === "string") {
          if (on === event.trader) continue;
          this.#share(on, event, ctx);
          grid.wallets[at] = [on, event.trader];
        } else {
          if (on.length >= o.maxWalletsPerKey || on.includes(event.trader)) continue;
          for (const other of on) this.#share(other, event, ctx);
          on.push(event.trader);
        }
      }
    }
  }

  /** `other` and the trader share a key on the trade's mint. */
  #share(other: string, trade: Trade, ctx: DetectorContext): void {
    const o = this.#o;
    const me = trade.trader;
    const id = other < me ? other + SEP + me : me + SEP + other;
    let pair = this.#pairs.get(id);
    if (pair === undefined || trade.ts - pair.firstTs > o.windowMs) {
      pair = { firstTs: trade.ts, mints: [], count: 0, linked: false };
      // Re-inserted so the map's order is age: eviction past the cap takes the oldest.
      this.#pairs.delete(id);
      this.#pairs.set(id, pair);
      if (this.#pairs.size > o.maxPairs) this.#pairs.delete(this.#pairs.keys().next().value!);
    }
    if (pair.mints.includes(trade.mint)) return;
    if (pair.mints.length < o.minSharedMints + 8) pair.mints.push(trade.mint);
    pair.count++;
    // Also covers `linked`, set by #edge while handling this same trade.
    this.#pairs.touch(id);
    if (pair.count < o.minSharedMints) return;
    const n = Math.min(ctx.wallets.get(other)?.events ?? 1, ctx.wallets.get(me)?.events ?? 1);
    const logChance = logBinomialTail(pair.count, Math.max(n, pair.count), o.keyChance);
    if (logChance < Math.log(o.edgeChance)) this.#edge(other, me, pair, logChance, trade, ctx);
  }

  #edge(a: string, b: string, pair: Pair, logChance: number, trade: Trade, ctx: DetectorContext): void {
    ctx.link({ a, b, source: "co_entry_signature", ts: trade.ts, weight: pair.count, mint: trade.mint });
    if (pair.linked) return;
    pair.linked = true;
    const ra = this.#uf.find(a);
    const rb = this.#uf.find(b);
    const before =
      (ra === undefined ? 0 : (this.#chance.get(ra) ?? 0)) +
      (rb === undefined ? 0 : (this.#chance.get(rb) ?? 0));
    const { root, merged } = this.#uf.union(a, b, trade.ts);
    if (!merged) return;
    // Keys of these maps are always current roots: a merge moves them onto the new root.
    for (const r of [ra, rb]) {
      if (r === undefined || r === root) continue;
      this.#chance.delete(r);
      this.#pending.delete(r);
      const alerted = this.#alerted.get(r);
      this.#alerted.delete(r);
      if (alerted !== undefined) this.#alerted.set(root, Math.max(alerted, this.#alerted.get(root) ?? 0));
    }
    this.#chance.set(root, before + logChance);
    if (this.#uf.size(root) >= this.#o.minCluster) this.#pending.set(root, { ts: trade.ts, trigger: trade });
  }

  onFlush(ctx: DetectorContext, flush: FlushInfo): void {
    for (const [root, p] of this.#pending) {
      if (flush.nowTs - p.ts < this.#o.quietMs) continue;
      this.#pending.delete(root);
      const size = this.#uf.size(root);
      if (size <= (this.#alerted.get(root) ?? 0)) continue;
      this.#alerted.set(root, size);
      this.#alert(root, size, p.trigger, flush.nowTs, ctx);
    }
  }

  #alert(root: string, size: number, trigger: Trade, nowTs: number, ctx: DetectorContext): void {
    const o = this.#o;
    const log10Chance = (this.#chance.get(root) ?? 0) / Math.LN10;
    const highLog10 = Math.log10(o.highChance);
    const members = this.#uf.members(root);
    ctx.emit({
      severity: log10Chance < highLog10 ? "high" : "med",
      score: Math.min(1, log10Chance / highLog10),
      mint: trigger.mint,
      key: root,
      wallets: members.slice(0, o.maxListed),
      detectedAt: nowTs,
      triggerId: trigger.id,
      timing: timingOf(trigger),
      evidence: { wallets: size, log10Chance: round4(log10Chance) },
    });
  }

  prune(nowTs: number): void {
    const o = this.#o;
    for (const [mint, m] of this.#mints) if (nowTs - m.lastTs > o.mintIdleMs) this.#mints.delete(mint);
    // Pairs and clusters live for a day: sweep them every ~hour of event time, not every minute.
    const meta = this.#meta.value;
    if (nowTs < meta.nextPairPrune) return;
    meta.nextPairPrune = nowTs + o.windowMs / 24;
    this.#meta.changed();
    for (const [id, pair] of this.#pairs) if (nowTs - pair.firstTs > o.windowMs) this.#pairs.delete(id);
    if (this.#uf.prune(nowTs, o.windowMs) === 0) return;
    for (const map of [this.#chance, this.#alerted, this.#pending]) {
      for (const root of map.keys()) if (!this.#uf.has(root)) map.delete(root);
    }
  }

  size(): number {
    return this.#mints.size + this.#pairs.size + this.#uf.nodeCount + this.#pending.size;
  }
}

/** ln P(X ≥ k) for X ~ Binomial(n, q), summed from the k-th term (accurate for tiny tails). */
export function logBinomialTail(k: number, n: number, q: number): number {
  if (k <= 0) return 0;
  if (k > n) return Number.NEGATIVE_INFINITY;
  // At or below the mean the tail is not small; above it the terms shrink, so summing from k converges.
  if (k <= n * q + 1) return 0;
  // ln C(n, k) q^k (1 - q)^(n - k), then add terms i = k+1... while they matter.
  let logC = 0;
  for (let i = 0; i < k; i++) logC += Math.log((n - i) / (i + 1));
  let logTerm = logC + k * Math.log(q) + (n - k) * Math.log1p(-q);
  let sum = 1;
  let rel = 1;
  for (let i = k; i < n && i < k + 200; i++) {
    rel *= ((n - i) / (i + 1)) * (q / (1 - q));
    sum += rel;
    if (rel < 1e-12 * sum) break;
  }
  logTerm += Math.log(sum);
  return Math.min(0, logTerm);
}

export const coEntrySignature = defineDetector({
  name: "co_entry_signature",
  analyzer: "sybil",
  defaults: CO_ENTRY_SIGNATURE_DEFAULTS,
  create: (options, tables) => new CoEntrySignature(options, tables),
});

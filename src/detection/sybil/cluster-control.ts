/**
 * S3 cluster_control: union-find over the edges of S1 funding_hub (hub → recipient), S2
 * co_entry_signature (pairs sharing keys on ≥ `minCoEntryWeight` mints), P4 daisy_chain and W4
 * sweep_back (the last two from the findings stream, see `SybilAnalyzer.handleFinding`); a component
 * that holds ≥ 20% of a mint's supply is med, ≥ 35% high; so is one that makes ≥ 50% of the mint's
 * buy volume in 10 min ([ARB], [CON]).
 *
 * Sharpened (documented in docs/detection.md): control is exercised by a group, so at least
 * `minHolders` = 2 of the component's wallets must hold the mint (a single wallet holding 20% is a
 * whale, W3's concern, even if a P4 chain made it part of a component); and the buy-share rule is
 * judged once the component's buying settled (`settleMs` = 60 s after its latest buy on the mint),
 * when it must still hold `minKeepFraction` = 80% of what it bought in the window, having bought
 * ≥ `minBuyLamports`: a crew churning a mint round-trip (P5's concern) makes most of the buys for a
 * while without controlling anything, and a minute later it holds next to nothing.
 *
 * Evaluation runs on the analyzer's 5 s touched flush (DETECTORS.md asks for the 60 s full flush at
 * least; sooner costs little) and only for mints a component member bought or sold since the last one,
 * or that a new edge was seen on: holdings only change when members trade.
 *
 * State: the union-find (components dropped `edgeTtlMs` after their last edge); per mint, its buy
 * volume over the last `buyWindowMs` in 20 time buckets (the buy-share denominator; the component's
 * own buys come from the mint book's positions); the mints to evaluate. O(1) per event plus
 * O(component size) per evaluated mint. Durable tables: `uf`, `volume`, `dirty` and `meta` (the next sweep).
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { round4 } from "../alert.ts";
import type { DetectorContext, FlushInfo, Link } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { BuyVolume } from "../state/buy-volume.ts";
import { timingOf } from "../state/slots.ts";
import { Scalars } from "../state/tables.ts";
import { UnionFind } from "../state/union-find.ts";

export interface ClusterControlOptions {
  /** Component holdings, fraction of supply, for med. @defaultValue 0.2 */
  medSupplyFraction?: number;
  /** ... for high. @defaultValue 0.35 */
  highSupplyFraction?: number;
  /** Component share of the mint's buy volume in the window for med. @defaultValue 0.5 */
  buyShare?: number;
  /** @defaultValue 600_000 */
  buyWindowMs?: number;
  /** Component wallets that must hold the mint. @defaultValue 2 */
  minHolders?: number;
  /** Buy-share rule: share of the window's bought tokens the component still holds. @defaultValue 0.8 */
  minKeepFraction?: number;
  /** Buy-share rule: component buy volume in the window, lamports. @defaultValue 1_000_000_000 */
  minBuyLamports?: number;
  /** Buy-share rule: judged this long after the component's latest buy on the mint. @defaultValue 60_000 */
  settleMs?: number;
  /** S2 edges count from this many shared mints on. @defaultValue 3 */
  minCoEntryWeight?: number;
  /** A component is forgotten this long after its latest edge. @defaultValue 86_400_000 */
  edgeTtlMs?: number;
  /** Wallets that sent more SOL transfers than this (exchanges) are never joined. @defaultValue 200 */
  maxLinkFanout?: number;
  /** Most wallets listed in an alert. @defaultValue 200 */
  maxListed?: number;
}

export const CLUSTER_CONTROL_DEFAULTS = {
  medSupplyFraction: 0.2,
  highSupplyFraction: 0.35,
  buyShare: 0.5,
  buyWindowMs: 600_000,
  minHolders: 2,
  minKeepFraction: 0.8,
  minBuyLamports: 1_000_000_000,
  settleMs: 60_000,
  minCoEntryWeight: 3,
  edgeTtlMs: 86_400_000,
  maxLinkFanout: 200,
  maxListed: 200,
} satisfies Required<ClusterControlOptions>;

const SOURCES = ["funding_hub", "co_entry_signature", "daisy_chain", "sweep_back"] as const;
const SOURCE_BIT: Record<string, number> = Object.fromEntries(SOURCES.map((s, i) => [s, 1 << i]));

interface Dirty {
  /** Component members that traded the mint or were linked on it since the last evaluation. */
  wallets: Set<string>;
  trigger: Trade | undefined;
  since: number;
}

class ClusterControl {
  readonly #o: Required<ClusterControlOptions>;
  readonly #uf: UnionFind;
  readonly #volume: BuyVolume;
  readonly #dirty: DurableTable<Dirty>;
  readonly #meta: Scalars<{ nextPrune: number }>;

  constructor(options: Required<ClusterControlOptions>, tables: Tables) {
    this.#o = options;
    this.#uf = new UnionFind(tables.table("uf"));
    this.#volume = new BuyVolume(tables.table("volume"), options.buyWindowMs);
    this.#dirty = tables.table("dirty");
    this.#meta = new Scalars(tables, "meta", { nextPrune: 0 });
  }

  onEvent(event: ChainEvent): void {
    if (event.kind !== "trade") return;
    if (event.side === "buy") this.#volume.add(event.mint, event.ts, event.sol, event.id);
    if (this.#uf.has(event.trader)) this.#mark(event.mint, event.trader, event.ts, event);
  }

  onLink(link: Link, ctx: DetectorContext): void {
    const o = this.#o;
    if (link.source === "co_entry_signature" && link.weight < o.minCoEntryWeight) return;
    for (const wallet of [link.a, link.b]) if (ctx.wallets.sent(wallet) > o.maxLinkFanout) return;
    this.#uf.union(link.a, link.b, link.ts, SOURCE_BIT[link.source] ?? 0);
    if (link.mint !== undefined) {
      this.#mark(link.mint, link.a, link.ts, undefined);
      this.#mark(link.mint, link.b, link.ts, undefined);
    }
  }

  #mark(mint: string, wallet: string, ts: number, trigger: Trade | undefined): void {
    let dirty = this.#dirty.get(mint);
    if (dirty === undefined) {
      dirty = { wallets: new Set(), trigger: undefined, since: ts };
      this.#dirty.set(mint, dirty);
    }
    dirty.wallets.add(wallet);
    if (trigger !== undefined) dirty.trigger = trigger;
    this.#dirty.touch(mint);
  }

  onFlush(ctx: DetectorContext, flush: FlushInfo): void {
    for (const [mint, dirty] of this.#dirty) {
      // Kept only while a component's buy-share case waits to settle (and not past the window).
      if (!this.#evaluate(mint, dirty, flush.nowTs, ctx) || flush.nowTs - dirty.since > this.#o.buyWindowMs)
        this.#dirty.delete(mint);
    }
  }

  /** Returns true when a buy-share case must be looked at again once the buying settled. */
  #evaluate(mint: string, dirty: Dirty, nowTs: number, ctx: DetectorContext): boolean {
    const o = this.#o;
    const state = ctx.mints.get(mint);
    if (state === undefined) return false;
    const positions = ctx.mints.positions(mint);
    const total = this.#volume.total(mint, nowTs);
    let wait = false;
    const roots = new Set<string>();
    for (const wallet of dirty.wallets) {
      const root = this.#uf.find(wallet);
      if (root !== undefined) roots.add(root);
    }
    for (const root of roots) {
      const members = this.#uf.members(root);
      // Holdings, and the buys of positions the component bought into within the window (from the
      // mint book, so wallets that joined the component after buying count too).
      let held = 0;
      let holders = 0;
      let sol = 0;
      let tok = 0;
      let lastBuyTs = 0;
      for (const member of members) {
        const p = positions.get(member);
        if (p === undefined) continue;
        if (p.held > 0) {
          held += p.held;
          holders++;
        }
        if (p.lastBuyTs > 0 && nowTs - p.lastBuyTs <= o.buyWindowMs) {
          sol += p.boughtSol;
          tok += p.bought;
          if (p.lastBuyTs > lastBuyTs) lastBuyTs = p.lastBuyTs;
        }
      }
      if (holders < o.minHolders) continue;
      const supplyFraction = held / state.totalSupply;
      const share = total > 0 ? Math.min(1, sol / total) : 0;
      const keep = tok > 0 ? Math.min(1, held / tok) : 0;
      const controls = supplyFraction >= o.medSupplyFraction;
      const candidate = share >= o.buyShare && sol >= o.minBuyLamports;
      const settled = nowTs - lastBuyTs >= o.settleMs;
      if (candidate && !settled && !controls) wait = true;
      const drives = candidate && settled && keep >= o.minKeepFraction;
      if (!controls && !drives) continue;
      const trigger = dirty.trigger;
      const sources = this.#uf.sources(root);
      ctx.emit({
        severity: supplyFraction >= o.highSupplyFraction ? "high" : "med",
        score: Math.min(1, Math.max(supplyFraction / o.highSupplyFraction, share)),
        mint,
        key: root,
        wallets: members.slice(0, o.maxListed),
        detectedAt: nowTs,
        triggerId: trigger?.id ?? this.#volume.lastId(mint) ?? "",
        timing: trigger === undefined ? "exact" : timingOf(trigger),
        evidence: {
          supplyFraction: round4(supplyFraction),
          buyShare: round4(share),
          holders,
          members: members.length,
          edges: SOURCES.filter((s) => (sources & SOURCE_BIT[s]!) !== 0),
        },
      });
    }
    return wait;
  }

  prune(nowTs: number): void {
    const o = this.#o;
    this.#volume.prune(nowTs);
    const meta = this.#meta.value;
    if (nowTs < meta.nextPrune) return;
    meta.nextPrune = nowTs + o.edgeTtlMs / 24;
    this.#meta.changed();
    this.#uf.prune(nowTs, o.edgeTtlMs);
  }

  size(): number {
    return this.#uf.nodeCount + this.#volume.size + this.#dirty.size;
  }
}

export const clusterControl = defineDetector({
  name: "cluster_control",
  analyzer: "sybil",
  defaults: CLUSTER_CONTROL_DEFAULTS,
  create: (options, tables) => new ClusterControl(options, tables),
});

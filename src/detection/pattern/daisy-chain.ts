/**
 * P4 daisy_chain: SOL walked through a path A→B→C→D where every intermediate had no other inbound
 * and forwarded ≥ 90% of what it got within 10 min ([PEEL] peel chains, [BQ]). Med at ≥ 3 hops;
 * high once the last wallet buys or funds ≥ 3 wallets: the laundered money reached its use.
 *
 * State: per wallet that just received SOL from a single source, the chain so far (dropped after
 * `hopWindowMs`); per chain tail, what it did next (dropped after `tailWindowMs`). Durable tables: `links`,
 * `tails` and `meta` (the next sweep).
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { recordCodec } from "../../runtime/record-codec.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade, Transfer } from "../schema.ts";
import { timingOf } from "../state/slots.ts";
import { Scalars } from "../state/tables.ts";

export interface DaisyChainOptions {
  /** An intermediate must forward within this long. @defaultValue 600_000 */
  hopWindowMs?: number;
  /** ...at least this fraction of what it received. @defaultValue 0.9 */
  forwardFraction?: number;
  /** Hops (transfers) for an alert. @defaultValue 3 */
  minHops?: number;
  /** Wallets a tail must fund for high. @defaultValue 3 */
  tailFundees?: number;
  /** How long a tail is watched for buys / fundings. @defaultValue 1_800_000 */
  tailWindowMs?: number;
  /** Transfers below this are not followed, lamports. @defaultValue 100_000_000 */
  minLamports?: number;
  /** Longest chain remembered (bounded wallet lists). @defaultValue 16 */
  maxHops?: number;
}

export const DAISY_CHAIN_DEFAULTS = {
  hopWindowMs: 600_000,
  forwardFraction: 0.9,
  minHops: 3,
  tailFundees: 3,
  tailWindowMs: 1_800_000,
  minLamports: 100_000_000,
  maxHops: 16,
} satisfies Required<DaisyChainOptions>;

interface Link {
  /** root, intermediates..., this wallet */
  wallets: string[];
  received: number;
  ts: number;
  /** The transfers of the chain, one per hop (undefined in state kept before events were). */
  hops?: string[];
}

interface Tail {
  wallets: string[];
  ts: number;
  fundees: Set<string>;
  hops?: string[];
}

const LINK_CODEC = recordCodec<Link>({ wallets: true, received: true, ts: true, hops: true });

class DaisyChain {
  readonly #o: Required<DaisyChainOptions>;
  readonly #links: DurableTable<Link>;
  readonly #tails: DurableTable<Tail>;
  readonly #meta: Scalars<{ nextPrune: number }>;

  constructor(options: Required<DaisyChainOptions>, tables: Tables) {
    this.#o = options;
    this.#links = tables.table("links", LINK_CODEC);
    this.#tails = tables.table("tails");
    this.#meta = new Scalars(tables, "meta", { nextPrune: 0 });
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind === "transfer") {
      if (event.asset === "SOL" && event.from !== event.to && event.amount >= this.#o.minLamports) {
        this.#onTransfer(event, ctx);
      }
    } else if (event.kind === "trade" && event.side === "buy") {
      const tail = this.#tails.get(event.trader);
      if (tail !== undefined && event.ts - tail.ts <= this.#o.tailWindowMs)
        this.#alert(tail, "high", event, ctx);
    }
  }

  #onTransfer(t: Transfer, ctx: DetectorContext): void {
    const o = this.#o;
    const tail = this.#tails.get(t.from);
    if (tail !== undefined && t.ts - tail.ts <= o.tailWindowMs) {
      tail.fundees.add(t.to);
      this.#tails.touch(t.from);
      if (tail.fundees.size >= o.tailFundees) this.#alert(tail, "high", t, ctx);
    }
    const link = this.#links.get(t.from);
    const forwards =
      link !== undefined &&
      t.ts - link.ts <= o.hopWindowMs &&
      t.amount >= o.forwardFraction * link.received &&
      (ctx.wallets.get(t.from)?.funders.length ?? 0) === 1;
    // Only a wallet with a single source can be an intermediate: anything else is mixing, not a chain.
    if ((ctx.wallets.get(t.to)?.funders.length ?? 0) !== 1) return;
    const wallets = forwards ? [...link.wallets, t.to].slice(-o.maxHops - 1) : [t.from, t.to];
    const hops = forwards ? [...(link.hops ?? []), t.id].slice(-o.maxHops) : [t.id];
    if (forwards) this.#links.delete(t.from);
    this.#links.set(t.to, { wallets, received: t.amount, ts: t.ts, hops });
    if (wallets.length - 1 >= o.minHops) {
      const next: Tail = { wallets, ts: t.ts, fundees: new Set(), hops };
      this.#tails.delete(t.from);
      this.#tails.set(t.to, next);
      this.#alert(next, "med", t, ctx);
    }
  }

  #alert(tail: Tail, severity: "med" | "high", trigger: Transfer | Trade, ctx: DetectorContext): void {
    const hops = tail.wallets.length - 1;
    ctx.emit({
      severity,
      score: Math.min(1, hops / (2 * this.#o.minHops)),
      ...(trigger.kind === "trade" ? { mint: trigger.mint } : {}),
      // Keyed by the first intermediate: the root is often an exchange shared by unrelated chains.
      key: tail.wallets[1]!,
      wallets: [...tail.wallets],
      detectedAt: trigger.ts,
      triggerId: trigger.id,
      timing: timingOf(trigger),
      events: tail.hops ?? [],
      evidence: {
        hops,
        root: tail.wallets[0]!,
        tailFundees: tail.fundees.size,
        tailBought: trigger.kind === "trade",
      },
    });
  }

  /** Every funded wallet starts a link: sweep once per hop window rather than every full flush. */
  prune(nowTs: number): void {
    const meta = this.#meta.value;
    if (nowTs < meta.nextPrune) return;
    meta.nextPrune = nowTs + this.#o.hopWindowMs;
    this.#meta.changed();
    for (const [wallet, link] of this.#links)
      if (nowTs - link.ts > this.#o.hopWindowMs) this.#links.delete(wallet);
    for (const [wallet, tail] of this.#tails)
      if (nowTs - tail.ts > this.#o.tailWindowMs) this.#tails.delete(wallet);
  }

  size(): number {
    return this.#links.size + this.#tails.size;
  }
}

export const daisyChain = defineDetector({
  name: "daisy_chain",
  analyzer: "pattern",
  defaults: DAISY_CHAIN_DEFAULTS,
  create: (options, tables) => new DaisyChain(options, tables),
});

/**
 * S1 funding_hub: one source funds ≥ 5 new wallets within 10 min with templated amounts (≥ 60% of
 * its new recipients, and at least 5 of them, within ±5% of the modal amount) ([ARB], [HOP]). Low on the fan-out alone; med when ≥ 3 of its
 * recipients buy the same mint within 60 s; one level higher once the hub has ≥ 20 recipients.
 * Exchange-like hubs (> 500 recipients in 24 h) are excluded: they fund many new wallets too, but
 * with user-chosen, random amounts. The fan-out alert is raised on the first flush after the hub
 * paused, so it names the whole fan-out; co-buy alerts are raised at once.
 *
 * State: per sender of SOL to new wallets, a capped 10-min window and 24 hourly counters; per flagged
 * hub its recipients (kept 24 h); per (hub, mint) the buys of the last 60 s. Durable tables: `hubs`,
 * `hubOf` (recipient → hub), `coBuys` and `pending`.
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { MAX_ALERT_EVENTS, round4 } from "../alert.ts";
import type { DetectorContext, FlushInfo } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade, Transfer } from "../schema.ts";
import { timingOf } from "../state/slots.ts";
import { modalShare } from "./template.ts";

export interface FundingHubOptions {
  /** Fan-out window. @defaultValue 600_000 */
  windowMs?: number;
  /** Templated new recipients within the window that make a fan-out. @defaultValue 5 */
  minRecipients?: number;
  /** Relative band around the modal amount. @defaultValue 0.05 */
  templateTolerance?: number;
  /** Share of amounts within the band for a fan-out to be templated. @defaultValue 0.6 */
  templateShare?: number;
  /** Past this many new recipients in the window an unflagged hub is too busy to be a farm. @defaultValue 48 */
  maxTemplateWindow?: number;
  /** Distinct recipients co-buying one mint for med. @defaultValue 3 */
  coBuyMin?: number;
  /** @defaultValue 60_000 */
  coBuyWindowMs?: number;
  /** Recipients at which severity goes one level up. @defaultValue 20 */
  highRecipients?: number;
  /** Recipients in 24 h beyond which a hub is exchange-like. @defaultValue 500 */
  exchangeRecipients24h?: number;
  /** A recipient is new when observed for less than this... @defaultValue 3_600_000 */
  newWalletMaxAgeMs?: number;
  /** ...with at most this many events (the funding included). @defaultValue 3 */
  newWalletMaxEvents?: number;
  /** Transfers below this are dust and ignored, lamports. @defaultValue 10_000_000 */
  minLamports?: number;
  /** How long a flagged hub's recipients are remembered after its last funding. @defaultValue 86_400_000 */
  flaggedTtlMs?: number;
  /**
   * The fan-out alert waits until the hub paused this long, so it names the whole fan-out rather
   * than its first five wallets. @defaultValue 60_000
   */
  fanoutQuietMs?: number;
}

export const FUNDING_HUB_DEFAULTS = {
  windowMs: 600_000,
  minRecipients: 5,
  templateTolerance: 0.05,
  templateShare: 0.6,
  maxTemplateWindow: 48,
  coBuyMin: 3,
  coBuyWindowMs: 60_000,
  highRecipients: 20,
  exchangeRecipients24h: 500,
  newWalletMaxAgeMs: 3_600_000,
  newWalletMaxEvents: 3,
  minLamports: 10_000_000,
  flaggedTtlMs: 86_400_000,
  fanoutQuietMs: 60_000,
} satisfies Required<FundingHubOptions>;

const HOUR_MS = 3_600_000;

interface Hub {
  window: { ts: number; to: string; amount: number }[];
  hours: Int32Array;
  hour: number;
  lastTs: number;
  /** Set once the fan-out proved templated. */
  modal: number;
  recipients: Set<string>;
  /** The latest funding that enlisted a recipient: the fan-out alert's trigger. */
  lastEnlist: Transfer | undefined;
  /**
   * The fundings that enlisted recipients, from the one that proved the template on (the latest few): the
   * fan-out alert's events. Only flagged hubs keep them; absent in state kept before events were.
   */
  funded?: string[];
}

class FundingHub {
  readonly #o: Required<FundingHubOptions>;
  readonly #hubs: DurableTable<Hub>;
  readonly #hubOf: DurableTable<string>;
  readonly #coBuys: DurableTable<{ ts: number; wallet: string; id?: string }[]>;
  /** Flagged hubs whose fan-out alert waits for a pause. */
  readonly #pending: DurableTable<true>;

  constructor(options: Required<FundingHubOptions>, tables: Tables) {
    this.#o = options;
    this.#hubs = tables.table("hubs");
    this.#hubOf = tables.table("hubOf");
    this.#coBuys = tables.table("coBuys");
    this.#pending = tables.table("pending");
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind === "transfer") {
      if (event.asset === "SOL" && event.from !== event.to && event.amount >= this.#o.minLamports) {
        this.#onFunding(event, ctx);
      }
    } else if (event.kind === "trade" && event.side === "buy") {
      const hub = this.#hubOf.get(event.trader);
      if (hub !== undefined) this.#onRecipientBuy(hub, event, ctx);
    }
  }

  #onFunding(t: Transfer, ctx: DetectorContext): void {
    const o = this.#o;
    const to = ctx.wallets.get(t.to);
    if (to === undefined || t.ts - to.firstSeen >= o.newWalletMaxAgeMs || to.events > o.newWalletMaxEvents)
      return;
    const hub = this.#hub(t.from, t.ts);
    if (this.#recipients24h(hub) > o.exchangeRecipients24h) return;
    hub.window.push({ ts: t.ts, to: t.to, amount: t.amount });
    let expired = 0;
    while (expired < hub.window.length && t.ts - hub.window[expired]!.ts > o.windowMs) expired++;
    if (expired > 0) hub.window.splice(0, expired);
    // Capped one past the evaluation limit: a full window means "too busy to be a farm", cheaply.
    if (hub.window.length > o.maxTemplateWindow + 1) hub.window.shift();
    // Once a hub proved templated, every new wallet it funds joins its cluster: operators mix in
    // off-template amounts, and the cluster is the fan-out, not only its modal band.
    if (hub.modal > 0) {
      this.#enlist(t.from, hub, t.to, t.ts, ctx);
    } else {
      if (hub.window.length > o.maxTemplateWindow) return;
      // One amount per wallet, its first funding in the window: the rule counts wallets, and a top-up of
      // one of four must not make a fifth.
      const amounts = firstAmountPerRecipient(hub.window);
      const n = amounts.length;
      if (n < o.minRecipients) return;
      const { modal, share } = modalShare(amounts, o.templateTolerance);
      // Both a share and a count: 3 of 5 user-chosen amounts fall in one ±5% band by chance too often.
      if (share < o.templateShare || share * n < o.minRecipients) return;
      hub.modal = modal;
      for (const f of hub.window) this.#enlist(t.from, hub, f.to, t.ts, ctx);
    }
    hub.lastEnlist = t;
    hub.funded = [...(hub.funded ?? []), t.id].slice(-MAX_ALERT_EVENTS);
    this.#pending.set(t.from, true);
  }

  onFlush(ctx: DetectorContext, flush: FlushInfo): void {
    for (const wallet of this.#pending.keys()) {
      const hub = this.#hubs.get(wallet);
      const trigger = hub?.lastEnlist;
      if (hub === undefined || trigger === undefined) {
        this.#pending.delete(wallet);
      } else if (flush.nowTs - trigger.ts >= this.#o.fanoutQuietMs) {
        this.#pending.delete(wallet);
        this.#alert(wallet, hub, "low", trigger, flush.nowTs, undefined, hub.funded ?? [], ctx);
      }
    }
  }

  /** `hub` was taken through `#hub` for this funding, which marked it changed. */
  #enlist(hubWallet: string, hub: Hub, recipient: string, ts: number, ctx: DetectorContext): void {
    // The hub → recipient edge feeds S3's cluster graph (once per recipient).
    if (!hub.recipients.has(recipient))
      ctx.link({ a: hubWallet, b: recipient, source: "funding_hub", ts, weight: 1, mint: undefined });
    hub.recipients.add(recipient);
    this.#hubOf.set(recipient, hubWallet);
    ctx.wallets.flag(recipient);
  }

  #onRecipientBuy(hubWallet: string, trade: Trade, ctx: DetectorContext): void {
    const o = this.#o;
    const key = `${hubWallet}\u001f${trade.mint}`;
    let buys = this.#coBuys.get(key);
    if (buys === undefined) {
      buys = [];
      this.#coBuys.set(key, buys);
    }
    buys.push({ ts: trade.ts, wallet: trade.trader, id: trade.id });
    while (buys.length > 0 && trade.ts - buys[0]!.ts > o.coBuyWindowMs) buys.shift();
    this.#coBuys.touch(key);
    const buyers = new Set(buys.map((b) => b.wallet));
    const hub = this.#hubs.get(hubWallet);
    if (hub !== undefined && buyers.size >= o.coBuyMin) {
      const events = buys.map((b) => b.id);
      this.#alert(hubWallet, hub, "med", trade, trade.ts, buyers, events, ctx);
    }
  }

  #alert(
    hubWallet: string,
    hub: Hub,
    base: "low" | "med",
    trigger: Transfer | Trade,
    detectedAt: number,
    coBuyers: Set<string> | undefined,
    events: readonly (string | undefined)[],
    ctx: DetectorContext,
  ): void {
    const o = this.#o;
    const big = hub.recipients.size >= o.highRecipients;
    const severity = big ? (base === "low" ? "med" : "high") : base;
    ctx.emit({
      severity,
      score: Math.min(1, hub.recipients.size / o.highRecipients),
      ...(trigger.kind === "trade" ? { mint: trigger.mint } : {}),
      key: hubWallet,
      wallets: [hubWallet, ...hub.recipients],
      detectedAt,
      triggerId: trigger.id,
      timing: timingOf(trigger),
      events,
      evidence: {
        recipients: hub.recipients.size,
        modalSol: round4(hub.modal / 1e9),
        coBuyers: coBuyers?.size ?? 0,
        // Recipients must be new wallets: before that age has been watched, every wallet looks new.
        warmup: detectedAt - ctx.observedSince < o.newWalletMaxAgeMs,
      },
    });
  }

  #hub(wallet: string, ts: number): Hub {
    let hub = this.#hubs.get(wallet);
    if (hub === undefined) {
      hub = {
        window: [],
        hours: new Int32Array(24),
        hour: Math.floor(ts / HOUR_MS),
        lastTs: ts,
        modal: 0,
        recipients: new Set(),
        lastEnlist: undefined,
      };
      this.#hubs.set(wallet, hub);
    } else {
      this.#hubs.touch(wallet);
    }
    const hour = Math.floor(ts / HOUR_MS);
    // Advance the 24-hour ring, clearing the hours that passed since the last funding.
    for (let h = hub.hour + 1; h <= hour && h <= hub.hour + 24; h++) hub.hours[h % 24] = 0;
    hub.hour = Math.max(hub.hour, hour);
    hub.hours[hour % 24]!++;
    hub.lastTs = Math.max(hub.lastTs, ts);
    return hub;
  }

  #recipients24h(hub: Hub): number {
    let n = 0;
    for (const c of hub.hours) n += c;
    return n;
  }

  prune(nowTs: number): void {
    const o = this.#o;
    for (const [wallet, hub] of this.#hubs) {
      const ttl = hub.modal > 0 ? o.flaggedTtlMs : 24 * HOUR_MS;
      if (nowTs - hub.lastTs <= ttl) continue;
      for (const recipient of hub.recipients) this.#hubOf.delete(recipient);
      this.#hubs.delete(wallet);
    }
    for (const [key, buys] of this.#coBuys) {
      const last = buys[buys.length - 1];
      if (last === undefined || nowTs - last.ts > o.coBuyWindowMs) this.#coBuys.delete(key);
    }
  }

  size(): number {
    return this.#hubs.size + this.#hubOf.size + this.#coBuys.size + this.#pending.size;
  }
}

export const fundingHub = defineDetector({
  name: "funding_hub",
  analyzer: "sybil",
  defaults: FUNDING_HUB_DEFAULTS,
  create: (options, tables) => new FundingHub(options, tables),
});

function firstAmountPerRecipient(window: readonly { to: string; amount: number }[]): number[] {
  const seen = new Set<string>();
  const amounts: number[] = [];
  for (const { to, amount } of window) {
    if (seen.has(to)) continue;
    seen.add(to);
    amounts.push(amount);
  }
  return amounts;
}

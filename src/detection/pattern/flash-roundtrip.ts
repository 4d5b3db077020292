/**
 * P6 flash_roundtrip: a wallet buys and sells the same mint within ≤ 2 slots for a net of ≤ 1% of
 * the tokens, ≥ 3 times in 10 min ([GEI]); high when one of them wrapped another wallet's trade
 * within one slot (the sandwich: A buys, B buys, A sells, in one block as DETECTORS.md has it; a wrap
 * across two slots is a plain round trip with traffic in between). Humans and ordinary bots hold for
 * seconds at least.
 *
 * State: the last buy per (wallet, mint) for a few slots; per wallet its round trips of the last
 * `windowMs`. Durable tables: `open`, `trips`.
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { recordCodec } from "../../runtime/record-codec.ts";
import type { DetectorContext } from "../detector.ts";
import { defineDetector } from "../detector.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { SLOT_MS, slotOf, timingOf } from "../state/slots.ts";

export interface FlashRoundtripOptions {
  /** Buy → sell within this many slots. @defaultValue 2 */
  maxSlots?: number;
  /** |bought − sold| / bought at most. @defaultValue 0.01 */
  maxNetFraction?: number;
  /** Round trips per wallet within the window for an alert. @defaultValue 3 */
  minRoundtrips?: number;
  /** @defaultValue 600_000 */
  windowMs?: number;
}

export const FLASH_ROUNDTRIP_DEFAULTS = {
  maxSlots: 2,
  maxNetFraction: 0.01,
  minRoundtrips: 3,
  windowMs: 600_000,
} satisfies Required<FlashRoundtripOptions>;

interface OpenBuy {
  slot: number;
  ts: number;
  tok: number;
  /** The mint's trade count right after this buy: more trades before the sell means it wrapped someone. */
  tradesAt: number;
}

interface Roundtrip {
  ts: number;
  mint: string;
  sandwich: boolean;
  /** The sell that closed it (absent in state kept before events were); buys are not kept per trip. */
  sell?: string;
}

const OPEN_BUY_CODEC = recordCodec<OpenBuy>({ slot: true, ts: true, tok: true, tradesAt: true });

class FlashRoundtrip {
  readonly #o: Required<FlashRoundtripOptions>;
  readonly #open: DurableTable<OpenBuy>;
  readonly #trips: DurableTable<Roundtrip[]>;

  constructor(options: Required<FlashRoundtripOptions>, tables: Tables) {
    this.#o = options;
    this.#open = tables.table("open", OPEN_BUY_CODEC);
    this.#trips = tables.table("trips");
  }

  onEvent(event: ChainEvent, ctx: DetectorContext): void {
    if (event.kind !== "trade") return;
    const key = `${event.trader}\u001f${event.mint}`;
    const trades = ctx.mints.get(event.mint)?.trades ?? 0;
    if (event.side === "buy") {
      // A buy of nothing is no position to flip: |net| ≤ 1% of zero would hold for any sell of zero.
      if (event.tok > 0)
        this.#open.set(key, { slot: slotOf(event), ts: event.ts, tok: event.tok, tradesAt: trades });
      return;
    }
    const buy = this.#open.get(key);
    if (buy === undefined) return;
    this.#open.delete(key);
    const slots = slotOf(event) - buy.slot;
    if (slots > this.#o.maxSlots) return;
    if (Math.abs(buy.tok - event.tok) > this.#o.maxNetFraction * buy.tok) return;
    // trades counts this sell too: a gap of more than one trade means others traded in between.
    this.#record(event, slots === 0 && trades - buy.tradesAt > 1, ctx);
  }

  #record(sell: Trade, sandwich: boolean, ctx: DetectorContext): void {
    const o = this.#o;
    let trips = this.#trips.get(sell.trader);
    if (trips === undefined) {
      trips = [];
      this.#trips.set(sell.trader, trips);
    }
    trips.push({ ts: sell.ts, mint: sell.mint, sandwich, sell: sell.id });
    while (trips.length > 0 && sell.ts - trips[0]!.ts > o.windowMs) trips.shift();
    this.#trips.touch(sell.trader);
    if (trips.length < o.minRoundtrips) return;
    const sandwiches = trips.filter((t) => t.sandwich).length;
    ctx.emit({
      severity: sandwiches > 0 ? "high" : "med",
      score: Math.min(1, trips.length / (2 * o.minRoundtrips)),
      mint: sell.mint,
      key: sell.trader,
      wallets: [sell.trader],
      detectedAt: sell.ts,
      triggerId: sell.id,
      timing: timingOf(sell),
      events: trips.map((t) => t.sell),
      evidence: { roundtrips: trips.length, sandwiches, mints: [...new Set(trips.map((t) => t.mint))] },
    });
  }

  prune(nowTs: number): void {
    const openMs = (this.#o.maxSlots + 1) * SLOT_MS;
    for (const [key, buy] of this.#open) if (nowTs - buy.ts > openMs) this.#open.delete(key);
    for (const [wallet, trips] of this.#trips) {
      if (nowTs - trips[trips.length - 1]!.ts > this.#o.windowMs) this.#trips.delete(wallet);
    }
  }

  size(): number {
    return this.#open.size + this.#trips.size;
  }
}

export const flashRoundtrip = defineDetector({
  name: "flash_roundtrip",
  analyzer: "pattern",
  defaults: FLASH_ROUNDTRIP_DEFAULTS,
  create: (options, tables) => new FlashRoundtrip(options, tables),
});

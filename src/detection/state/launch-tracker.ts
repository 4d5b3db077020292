/**
 * What the launch-time detectors (W2 fresh_sniper, P1 launch_bundle) share: a record per launch from its
 * create until `windowSlots` slots later, the buys inside that window by anyone but the creator or the
 * payer, the wallets a detector counts against the launch, and the alert on the share of supply those
 * wallets hold (med from `medSupplyFraction`, high from `highSupplyFraction`, score rising to 1 at high).
 *
 * State: one entry per launch younger than the window (dropped by the first buy past it, or the next
 * prune), with at most `maxWallets` counted wallets. The launches are the detector's durable table
 * `launches` (keyed by mint); a detector that changes a launch's `extra` in place calls `changed`.
 *
 * @example
 * // Every early buyer counts; alert once they hold 10% of supply (25%: high).
 * const options = { windowSlots: 5, medSupplyFraction: 0.1, highSupplyFraction: 0.25, maxWallets: 256 };
 * const detector = launchDetector(tables, options, () => null, (buy, ctx, launches) => {
 *   if (launches.count(buy.launch, buy.trade.trader)) launches.reportHeldShare(ctx, buy, () => ({}));
 * });
 */

import type { DurableTable, Tables } from "../../runtime/durable-table.ts";
import { type EvidenceValue, round4 } from "../alert.ts";
import type { Detector, DetectorContext } from "../detector.ts";
import type { ChainEvent, Trade } from "../schema.ts";
import { SLOT_MS, slotOf, timingOf } from "./slots.ts";

export interface LaunchTrackerOptions {
  /** A buy more than this many slots after the create slot ends the launch's tracking. */
  windowSlots: number;
  /** Counted wallets holding at least this fraction of supply → med. */
  medSupplyFraction: number;
  /** ... → high. */
  highSupplyFraction: number;
  /** Counted wallets remembered per launch (bounded state under a buy storm). */
  maxWallets: number;
}

export interface Launch<D> {
  readonly mint: string;
  readonly createSlot: number;
  readonly createTs: number;
  readonly creator: string;
  readonly payer: string;
  /** The wallets the detector counts against the launch (its snipers, its bundle). */
  readonly wallets: Set<string>;
  /** What the detector keeps per launch besides the counted wallets. */
  readonly extra: D;
}

/** A buy inside a tracked launch's window, by neither its creator nor its payer. */
export interface EarlyBuy<D> {
  readonly launch: Launch<D>;
  readonly trade: Trade;
  readonly slot: number;
  readonly slotDelta: number;
}

export class LaunchTracker<D> {
  readonly #o: LaunchTrackerOptions;
  readonly #extra: () => D;
  readonly #launches: DurableTable<Launch<D>>;

  constructor(launches: DurableTable<Launch<D>>, options: LaunchTrackerOptions, extra: () => D) {
    this.#launches = launches;
    this.#o = options;
    this.#extra = extra;
  }

  /** Records a create; returns a buy the detector should look at, or undefined. */
  observe(event: ChainEvent): EarlyBuy<D> | undefined {
    if (event.kind === "create") {
      this.#launches.set(event.mint, {
        mint: event.mint,
        createSlot: slotOf(event),
        createTs: event.ts,
        creator: event.creator,
        payer: event.payer,
        wallets: new Set(),
        extra: this.#extra(),
      });
      return undefined;
    }
    if (event.kind !== "trade" || event.side !== "buy") return undefined;
    const launch = this.#launches.get(event.mint);
    if (launch === undefined) return undefined;
    const slot = slotOf(event);
    const slotDelta = slot - launch.createSlot;
    if (slotDelta > this.#o.windowSlots) {
      this.#launches.delete(event.mint);
      return undefined;
    }
    if (event.trader === launch.creator || event.trader === launch.payer) return undefined;
    return { launch, trade: event, slot, slotDelta };
  }

  /** Counts `wallet` against the launch unless `maxWallets` are counted already; false when full. */
  count(launch: Launch<D>, wallet: string): boolean {
    if (launch.wallets.size >= this.#o.maxWallets) return false;
    if (!launch.wallets.has(wallet)) {
      launch.wallets.add(wallet);
      this.changed(launch);
    }
    return true;
  }

  /** Marks a launch changed in place (its `extra`), for the next checkpoint. */
  changed(launch: Launch<D>): void {
    this.#launches.touch(launch.mint);
  }

  /**
   * Emits an alert keyed by the mint when the counted wallets hold at least `medSupplyFraction` of its
   * supply; `evidence` (called only then) follows `supplyFraction` in the alert.
   */
  reportHeldShare(
    ctx: DetectorContext,
    { launch, trade }: EarlyBuy<D>,
    evidence: () => Record<string, EvidenceValue>,
  ): void {
    const o = this.#o;
    const mint = ctx.mints.get(trade.mint);
    if (mint === undefined) return;
    const fraction = ctx.mints.heldFraction(mint, launch.wallets);
    if (fraction < o.medSupplyFraction) return;
    ctx.emit({
      severity: fraction >= o.highSupplyFraction ? "high" : "med",
      score: Math.min(1, fraction / o.highSupplyFraction),
      mint: trade.mint,
      key: trade.mint,
      wallets: [...launch.wallets],
      detectedAt: trade.ts,
      triggerId: trade.id,
      timing: timingOf(trade),
      evidence: { supplyFraction: round4(fraction), ...evidence() },
    });
  }

  prune(nowTs: number): void {
    const horizon = (this.#o.windowSlots + 1) * SLOT_MS;
    for (const [mint, launch] of this.#launches) {
      if (nowTs - launch.createTs > horizon) this.#launches.delete(mint);
    }
  }

  get size(): number {
    return this.#launches.size;
  }
}

/** What a launch-time detector does with each early buy; the tracker does the rest. */
export type OnEarlyBuy<D> = (buy: EarlyBuy<D>, ctx: DetectorContext, launches: LaunchTracker<D>) => void;

/** A detector whose state is one tracker: `onBuy` sees every early buy, pruning and size are the tracker's. */
export function launchDetector<D>(
  tables: Tables,
  options: LaunchTrackerOptions,
  extra: () => D,
  onBuy: OnEarlyBuy<D>,
): Detector {
  const launches = new LaunchTracker(tables.table<Launch<D>>("launches"), options, extra);
  return {
    onEvent(event, ctx) {
      const buy = launches.observe(event);
      if (buy !== undefined) onBuy(buy, ctx, launches);
    },
    prune: (nowTs) => launches.prune(nowTs),
    size: () => launches.size,
  };
}

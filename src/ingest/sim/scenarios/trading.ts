/**
 * Scenarios about how a launch is traded:
 * - FLASH: a bot buys and sells the same tokens within two slots on one fresh launch after another,
 *   sometimes around someone else's buy (a sandwich). Evasive: it holds 3–6 slots.
 * - WASH: a hub funds five wallets with one amount; they churn one launch buy/sell/buy/sell, ending
 *   flat. Evasive: two wallets per operator, one buys and passes the tokens, the other sells.
 * - COORD_DUMP: a crew of 4–7 wallets plays three launches in a row: on each it accumulates
 *   ~15–30% of supply in one scripted volley (one size, two slots), then all dump within seconds.
 *   Evasive: each wallet buys its own size at its own time, and the dump is spread over a minute
 *   and a half.
 */
import type { Kit, MintHandle } from "../kit.ts";
import { MINUTE, type Planned, type ScenarioDef } from "./scenario.ts";

function launchWithCrowd(
  kit: Kit,
  ts: number,
  role: string,
  minutes: number,
): { mint: MintHandle; creator: string } {
  const creator = kit.wallet(role);
  kit.fund(ts - kit.rng.uniform(5, 20) * MINUTE, kit.exchange(), creator, kit.rng.uniform(1, 3));
  const mint = kit.launch(ts, creator, kit.rng.uniform(0.2, 1));
  kit.followers(mint, ts + 3_000, ts + minutes * MINUTE, kit.rng.int(15, 40));
  return { mint, creator };
}

function flash(kit: Kit, variant: string, start: number): Planned {
  const { rng } = kit;
  const bot = kit.wallet("bot");
  kit.fund(start, kit.exchange(), bot, 10);
  const firstTrip = start + 5 * MINUTE;
  const mints: string[] = [];
  const creators: string[] = [];
  // One launch per trip: MEV bots work across the newest launches, not one coin.
  for (let i = rng.int(4, 8), t = firstTrip; i > 0; i--, t += rng.uniform(40_000, 80_000)) {
    const { mint, creator } = launchWithCrowd(kit, t - rng.uniform(20_000, 60_000), `creator${i}`, 5);
    mints.push(mint.address);
    creators.push(creator);
    kit.buy(t, mint, bot, rng.uniform(0.5, 2));
    if (rng.chance(0.3)) kit.buy(t + 100, mint, kit.wallet(`victim${i}`), rng.uniform(0.1, 0.5));
    const hold = variant === "canonical" ? rng.uniform(150, 700) : rng.uniform(1_300, 2_400);
    kit.sell(t + hold, mint, bot, 1);
  }
  return { onset: firstTrip, mints, wallets: [bot, ...creators] };
}

function wash(kit: Kit, variant: string, start: number): Planned {
  const { rng } = kit;
  const hub = kit.wallet("hub");
  const wallets = Array.from({ length: 5 }, (_, i) => kit.wallet(`w${i}`));
  const amount = rng.uniform(1, 3);
  kit.fund(start, kit.exchange(), hub, amount * 5 + 2);
  wallets.forEach((w, i) => {
    kit.fund(start + MINUTE + i * rng.uniform(5_000, 20_000), hub, w, amount * rng.uniform(0.99, 1.01));
  });
  const launchTs = start + 10 * MINUTE;
  const { mint, creator } = launchWithCrowd(kit, launchTs, "creator", 15);
  const onset = launchTs + MINUTE;
  // Evasive: even wallets only buy and pass the tokens on, odd wallets only sell.
  const traders = variant === "canonical" ? wallets : wallets.filter((_, i) => i % 2 === 0);
  for (const [i, w] of traders.entries()) {
    const partner = wallets[(2 * i + 1) % 4]!;
    for (
      let k = 0, t = onset + rng.uniform(0, 2) * MINUTE;
      k < rng.int(3, 5);
      k++, t += rng.uniform(40_000, 100_000)
    ) {
      kit.buy(t, mint, w, amount * rng.uniform(0.2, 0.35));
      if (variant === "canonical") {
        kit.sell(t + rng.uniform(5_000, 30_000), mint, w, 1);
      } else {
        kit.moveTokens(t + rng.uniform(2_000, 10_000), mint, w, partner);
        kit.sell(t + rng.uniform(15_000, 30_000), mint, partner, 1);
      }
    }
  }
  return { onset, mints: [mint.address], wallets: [hub, creator, ...wallets], clusterRoot: hub };
}

function coordDump(kit: Kit, variant: string, start: number): Planned {
  const { rng } = kit;
  const hub = kit.wallet("hub");
  const wallets = Array.from({ length: rng.int(4, 7) }, (_, i) => kit.wallet(`d${i}`));
  kit.fund(start, kit.exchange(), hub, 25);
  // Untemplated amounts, minutes apart: this operator is not caught by its funding.
  wallets.forEach((w, i) => {
    kit.fund(start + (i + 1) * rng.uniform(1, 3) * MINUTE, hub, w, rng.uniform(1.5, 3.5));
  });
  const mints: string[] = [];
  const creators: string[] = [];
  let launchTs = start + 20 * MINUTE;
  let onset = Number.POSITIVE_INFINITY;
  for (let play = 0; play < 3; play++) {
    const { mint, creator } = launchWithCrowd(kit, launchTs, `creator${play}`, 12);
    mints.push(mint.address);
    creators.push(creator);
    if (variant === "canonical") {
      const size = rng.uniform(1.2, 2.5);
      const volley = kit.slotStart(launchTs + rng.uniform(15_000, 60_000), 0);
      for (const w of wallets)
        kit.buy(volley + rng.uniform(0, 790), mint, w, size * rng.uniform(0.998, 1.002));
    } else {
      for (const w of wallets)
        kit.buy(launchTs + rng.uniform(10_000, 2 * MINUTE), mint, w, rng.uniform(1.2, 2.5));
    }
    const dumpTs = launchTs + rng.uniform(4, 12) * MINUTE;
    onset = Math.min(onset, dumpTs);
    const spread = variant === "canonical" ? rng.uniform(2_000, 6_000) : rng.uniform(60_000, 90_000);
    for (const w of wallets) kit.sell(dumpTs + rng.uniform(0, spread), mint, w, 1);
    launchTs = dumpTs + rng.uniform(5, 15) * MINUTE;
  }
  return { onset, mints, wallets: [hub, ...creators, ...wallets], clusterRoot: hub };
}

export const FLASH: ScenarioDef = {
  type: "FLASH",
  kind: "scenario",
  variants: ["canonical", "evasive"],
  detectors: ["flash_roundtrip"],
  plan: flash,
};

export const WASH: ScenarioDef = {
  type: "WASH",
  kind: "scenario",
  variants: ["canonical", "evasive"],
  detectors: ["wash_trading", "funding_hub"],
  plan: wash,
};

export const COORD_DUMP: ScenarioDef = {
  type: "COORD_DUMP",
  kind: "scenario",
  variants: ["canonical", "evasive"],
  detectors: ["coordinated_dump", "co_entry_signature", "cluster_control"],
  plan: coordDump,
};

/**
 * Decoys: activity that looks suspicious to a naive rule and must raise nothing.
 * - EXCHANGE_BURST: an exchange hub pays 40–80 new wallets in 10 min (user-chosen amounts, some
 *   round) and several of them buy the same fresh launch within a minute.
 * - SLOW_SELLOFF: a creator sells its dev buy in quarters over 25 minutes (50% within 10 min).
 * - MARKET_MAKER: an aged wallet trades one mint both ways for 30 min, selling 70% of each buy: it
 *   nets +30% of what it bought.
 */
import type { Kit } from "../kit.ts";
import { withdrawalSol } from "../organic.ts";
import { MINUTE, type Planned, type ScenarioDef } from "./scenario.ts";

const DAY = 24 * 60 * MINUTE;

function exchangeBurst(kit: Kit, start: number): Planned {
  const { rng } = kit;
  const hub = kit.exchange();
  const users = Array.from({ length: rng.int(40, 80) }, (_, i) => kit.wallet(`u${i}`));
  for (const user of users) kit.fund(start + rng.uniform(0, 10 * MINUTE), hub, user, withdrawalSol(rng));
  const launchTs = start + 12 * MINUTE;
  const creator = kit.wallet("creator");
  kit.fund(start, kit.exchange(), creator, 2);
  const mint = kit.launch(launchTs, creator, rng.uniform(0.2, 1));
  for (const user of rng.shuffle(users).slice(0, rng.int(5, 10))) {
    kit.buy(launchTs + 10_000 + rng.uniform(0, 50_000), mint, user, rng.uniform(0.05, 0.5));
  }
  kit.followers(mint, launchTs + 3_000, launchTs + 5 * MINUTE, rng.int(5, 20));
  return { onset: start, mints: [mint.address], wallets: [hub, ...users] };
}

function slowSelloff(kit: Kit, start: number): Planned {
  const { rng } = kit;
  const creator = kit.wallet("creator");
  kit.fund(start, kit.exchange(), creator, 5);
  const launchTs = start + rng.uniform(5, 20) * MINUTE;
  const mint = kit.launch(launchTs, creator, rng.uniform(1, 3));
  kit.followers(mint, launchTs + 3_000, launchTs + 20 * MINUTE, rng.int(20, 60));
  const steps = [rng.uniform(3, 5), rng.uniform(7, 9), rng.uniform(13, 16), rng.uniform(20, 30)];
  steps.forEach((minutes, i) => {
    kit.sell(launchTs + minutes * MINUTE, mint, creator, 1 / (4 - i));
  });
  return { onset: launchTs, mints: [mint.address], wallets: [creator] };
}

function marketMaker(kit: Kit, start: number): Planned {
  const { rng } = kit;
  const mm = kit.wallet("mm");
  // History prefix: an established wallet, topped up twice a day for the past week and more.
  for (let t = start - rng.uniform(8, 12) * DAY; t < start; t += rng.uniform(10, 14) * 60 * MINUTE) {
    kit.fund(t, kit.exchange(), mm, rng.uniform(5, 20));
  }
  const creator = kit.wallet("creator");
  kit.fund(start, kit.exchange(), creator, 3);
  const launchTs = start + 5 * MINUTE;
  const mint = kit.launch(launchTs, creator, rng.uniform(0.3, 1));
  kit.followers(mint, launchTs + 3_000, launchTs + 30 * MINUTE, rng.int(20, 50));
  for (let i = 0, t = launchTs + MINUTE; i < 12; i++, t += rng.uniform(1.5, 3) * MINUTE) {
    kit.buy(t, mint, mm, rng.uniform(0.2, 0.6));
    kit.sell(t + rng.uniform(20_000, 60_000), mint, mm, 0.7, true);
  }
  return { onset: launchTs, mints: [mint.address], wallets: [mm] };
}

function decoy(type: string, plan: (kit: Kit, start: number) => Planned): ScenarioDef {
  return {
    type,
    kind: "decoy",
    variants: ["canonical"],
    detectors: [],
    plan: (kit, _variant, start) => plan(kit, start),
  };
}

export const EXCHANGE_BURST = decoy("EXCHANGE_BURST", exchangeBurst);
export const SLOW_SELLOFF = decoy("SLOW_SELLOFF", slowSelloff);
export const MARKET_MAKER = decoy("MARKET_MAKER", marketMaker);

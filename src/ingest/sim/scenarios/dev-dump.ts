/**
 * DEV_DUMP: the creator (with side wallets it funded directly, in some instances) buys at launch,
 * lets followers pump the price, and sells everything within 10 min; about a third dump within 60 s.
 * Evasive: the creator keeps a token dev buy and sells little; the real bag sits in side wallets
 * funded through an intermediate hop, so the "funded directly" link is gone.
 */
import type { Kit } from "../kit.ts";
import { MINUTE, type Planned, type ScenarioDef } from "./scenario.ts";

function canonical(kit: Kit, start: number): Planned {
  const { rng } = kit;
  const creator = kit.wallet("creator");
  kit.fund(start, kit.exchange(), creator, rng.uniform(3, 8));
  const sides = Array.from({ length: rng.chance(0.4) ? rng.int(1, 2) : 0 }, (_, i) => kit.wallet(`side${i}`));
  for (const side of sides)
    kit.fund(start + rng.uniform(1, 5) * MINUTE, creator, side, rng.uniform(0.5, 1.5));
  const launchTs = start + rng.uniform(8, 30) * MINUTE;
  const mint = kit.launch(launchTs, creator, rng.uniform(1, 3));
  for (const side of sides) kit.buy(launchTs + rng.uniform(3_000, 10_000), mint, side, rng.uniform(0.3, 1));
  const dumpAfter = rng.chance(0.3) ? rng.uniform(20_000, 55_000) : rng.uniform(1.5, 8.5) * MINUTE;
  const dumpTs = launchTs + dumpAfter;
  kit.followers(mint, launchTs + 3_000, dumpTs, rng.int(15, 60));
  if (rng.chance(0.5)) {
    kit.sell(dumpTs, mint, creator, 0.6);
    kit.sell(dumpTs + rng.uniform(5_000, 20_000), mint, creator, 1);
  } else {
    kit.sell(dumpTs, mint, creator, 1);
  }
  for (const side of sides) kit.sell(dumpTs + rng.uniform(0, 15_000), mint, side, 1);
  kit.followers(mint, dumpTs, dumpTs + 3 * MINUTE, rng.int(0, 5));
  return { onset: dumpTs, mints: [mint.address], wallets: [creator, ...sides] };
}

function evasive(kit: Kit, start: number): Planned {
  const { rng } = kit;
  const creator = kit.wallet("creator");
  const hop = kit.wallet("hop");
  const sides = Array.from({ length: rng.int(2, 3) }, (_, i) => kit.wallet(`side${i}`));
  kit.fund(start, kit.exchange(), creator, rng.uniform(3, 8));
  kit.fund(start + MINUTE, creator, hop, 3.5);
  for (const side of sides) kit.fund(start + rng.uniform(2, 4) * MINUTE, hop, side, rng.uniform(0.8, 1.2));
  const launchTs = start + rng.uniform(10, 30) * MINUTE;
  const mint = kit.launch(launchTs, creator, rng.uniform(0.1, 0.3));
  for (const side of sides) kit.buy(launchTs + rng.uniform(3_000, 15_000), mint, side, rng.uniform(0.5, 1.2));
  const dumpTs = launchTs + rng.uniform(2, 8) * MINUTE;
  kit.followers(mint, launchTs + 3_000, dumpTs, rng.int(15, 60));
  for (const side of sides) kit.sell(dumpTs + rng.uniform(0, 20_000), mint, side, 1);
  kit.sell(dumpTs, mint, creator, 0.4);
  return { onset: dumpTs, mints: [mint.address], wallets: [creator, hop, ...sides] };
}

export const DEV_DUMP: ScenarioDef = {
  type: "DEV_DUMP",
  kind: "scenario",
  variants: ["canonical", "evasive"],
  detectors: ["dev_dump"],
  plan: (kit, variant, start) => (variant === "canonical" ? canonical(kit, start) : evasive(kit, start)),
};

/**
 * BUNDLE: a hub funds fresh wallets with templated amounts; at launch they buy inside the create
 * transaction and in the next slot, taking 15–30% of supply, then sell within minutes.
 * Evasive: several hubs, jittered amounts, funding > 1 h before launch, buys spread over slots 2–6
 * at ≤ 2 per slot — what operators do to dodge exactly the canonical rules.
 */
import type { Kit } from "../kit.ts";
import { MINUTE, type Planned, type ScenarioDef } from "./scenario.ts";

function canonical(kit: Kit, start: number): Planned {
  const { rng } = kit;
  const hub = kit.wallet("hub");
  const creator = kit.wallet("creator");
  const wallets = Array.from({ length: rng.int(6, 12) }, (_, i) => kit.wallet(`b${i}`));
  // ≥ 6 wallets × ≥ 1.2 SOL × ≥ 0.6 puts at least ~12% of supply in the bundle: canonical means ≥ 10%.
  const amount = rng.uniform(1.2, 2.5);
  kit.fund(start, kit.exchange(), hub, amount * wallets.length + 5);
  let t = start + MINUTE + rng.uniform(0, 30_000);
  kit.fund(t, hub, creator, rng.uniform(2, 4));
  for (const wallet of wallets) {
    t += rng.uniform(2_000, 15_000);
    kit.fund(t, hub, wallet, amount * rng.uniform(0.99, 1.01));
  }
  const launchTs = t + rng.uniform(10, 30) * MINUTE;
  const half = Math.ceil(wallets.length / 2);
  const inTx = wallets.slice(0, half).map((w): [string, number] => [w, amount * rng.uniform(0.6, 0.9)]);
  const mint = kit.launch(launchTs, creator, rng.uniform(0.5, 2), inTx);
  const nextSlot = kit.slotStart(launchTs, 1);
  for (const wallet of wallets.slice(half)) {
    kit.buy(nextSlot + rng.uniform(0, 390), mint, wallet, amount * rng.uniform(0.6, 0.9));
  }
  kit.followers(mint, launchTs + 3_000, launchTs + 5 * MINUTE, rng.int(10, 40));
  for (const wallet of wallets) kit.sell(launchTs + rng.uniform(1, 6) * MINUTE, mint, wallet, 1);
  return { onset: launchTs, mints: [mint.address], wallets: [hub, creator, ...wallets], clusterRoot: hub };
}

function evasive(kit: Kit, start: number): Planned {
  const { rng } = kit;
  const hubs = Array.from({ length: 3 }, (_, i) => kit.wallet(`hub${i}`));
  const creator = kit.wallet("creator");
  const wallets = Array.from({ length: rng.int(6, 10) }, (_, i) => kit.wallet(`b${i}`));
  const amount = rng.uniform(0.8, 2.5);
  let t = start;
  for (const hub of hubs) kit.fund(t, kit.exchange(), hub, amount * 4 + 2);
  kit.fund(t + 30_000, kit.exchange(), creator, rng.uniform(2, 4));
  wallets.forEach((wallet, i) => {
    t += rng.uniform(20_000, 120_000);
    kit.fund(t, hubs[i % hubs.length]!, wallet, amount * rng.uniform(0.75, 1.25));
  });
  const launchTs = t + rng.uniform(65, 100) * MINUTE;
  const mint = kit.launch(launchTs, creator, rng.uniform(0.5, 2));
  wallets.forEach((wallet, i) => {
    const slot = kit.slotStart(launchTs, 2 + (i >> 1));
    kit.buy(slot + rng.uniform(0, 390), mint, wallet, amount * rng.uniform(0.5, 0.9));
  });
  kit.followers(mint, launchTs + 3_000, launchTs + 5 * MINUTE, rng.int(10, 40));
  for (const wallet of wallets) kit.sell(launchTs + rng.uniform(2, 12) * MINUTE, mint, wallet, 1);
  return {
    onset: launchTs,
    mints: [mint.address],
    wallets: [...hubs, creator, ...wallets],
    clusterRoot: hubs[0]!,
  };
}

export const BUNDLE: ScenarioDef = {
  type: "BUNDLE",
  kind: "scenario",
  variants: ["canonical", "evasive"],
  detectors: ["launch_bundle", "fresh_sniper", "funding_hub", "cluster_control"],
  plan: (kit, variant, start) => (variant === "canonical" ? canonical(kit, start) : evasive(kit, start)),
};

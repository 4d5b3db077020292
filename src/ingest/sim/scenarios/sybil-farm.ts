/**
 * SYBIL_FARM: one hub funds 8–30 fresh wallets with one templated amount; over the next hour the
 * farm's script fires it into 3–5 launches: on each, every wallet buys one size (±0.2%) within two
 * slots, 10–20 s after the launch (a co-entry signature, and most of the launch's early buying).
 * Evasive: the hub pays through two intermediates with ±20% jitter, and a random 30–70% of the farm
 * buys over four minutes with its own sizes: no templated fan-out, no 60 s co-buy, no shared keys.
 */
import type { Kit } from "../kit.ts";
import { MINUTE, type Planned, type ScenarioDef } from "./scenario.ts";

function plan(kit: Kit, evasive: boolean, start: number): Planned {
  const { rng } = kit;
  const hub = kit.wallet("hub");
  const farm = Array.from({ length: rng.int(8, 30) }, (_, i) => kit.wallet(`f${i}`));
  const amount = evasive ? rng.uniform(0.3, 1.5) : rng.uniform(0.5, 1.5);
  kit.fund(start, kit.exchange(), hub, amount * farm.length + 3);
  const payers = evasive ? [kit.wallet("mid0"), kit.wallet("mid1")] : [hub];
  let t = start + MINUTE;
  if (evasive) for (const mid of payers) kit.fund(t, hub, mid, (amount * farm.length) / 2 + 1);
  const onset = t + 5_000;
  farm.forEach((wallet, i) => {
    t += rng.uniform(5_000, 20_000);
    kit.fund(
      t,
      payers[i % payers.length]!,
      wallet,
      amount * (evasive ? rng.uniform(0.8, 1.2) : rng.uniform(0.99, 1.01)),
    );
  });
  const mints: string[] = [];
  const creators: string[] = [];
  let launchTs = t + rng.uniform(8, 15) * MINUTE;
  for (let j = rng.int(3, 5); j > 0; j--) {
    const creator = kit.wallet(`creator${j}`);
    creators.push(creator);
    kit.fund(start, kit.exchange(), creator, rng.uniform(1, 3));
    const mint = kit.launch(launchTs, creator, rng.uniform(0.2, 1));
    mints.push(mint.address);
    kit.followers(mint, launchTs + 3_000, launchTs + 4 * MINUTE, rng.int(5, 25));
    if (evasive) {
      const buyers = rng.shuffle(farm).slice(0, Math.max(4, Math.round(farm.length * rng.uniform(0.3, 0.7))));
      for (const wallet of buyers) {
        kit.buy(launchTs + 10_000 + rng.uniform(0, 4 * MINUTE), mint, wallet, amount * rng.uniform(0.1, 0.3));
        kit.sell(launchTs + rng.uniform(5, 30) * MINUTE, mint, wallet, 1);
      }
    } else {
      const size = amount * rng.uniform(0.5, 0.8);
      const volley = kit.slotStart(launchTs + rng.uniform(10_000, 20_000), 0);
      for (const wallet of farm) {
        kit.buy(volley + rng.uniform(0, 790), mint, wallet, size * rng.uniform(0.998, 1.002));
        kit.sell(launchTs + rng.uniform(5, 30) * MINUTE, mint, wallet, 1);
      }
    }
    launchTs += rng.uniform(5, 12) * MINUTE;
  }
  const wallets = [hub, ...payers.filter((p) => p !== hub), ...farm, ...creators];
  return { onset, mints, wallets, clusterRoot: hub };
}

export const SYBIL_FARM: ScenarioDef = {
  type: "SYBIL_FARM",
  kind: "scenario",
  variants: ["canonical", "evasive"],
  detectors: ["funding_hub", "co_entry_signature", "cluster_control"],
  plan: (kit, variant, start) => plan(kit, variant === "evasive", start),
};

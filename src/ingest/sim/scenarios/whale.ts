/**
 * Whales (W3):
 * - WHALE: an established, well-funded wallet builds a dominant position in a young launch: 3–6
 *   buys within about four minutes, 8–25 SOL in all, and holds it or sells it into the crowd 12–25
 *   min later. Evasive: the same money split over two such wallets, two buys each: no wallet comes
 *   back a third time or makes the volume alone (the one-shot whale, W3's documented blind spot).
 * - BIG_BUYER (decoy): an established wallet makes one or two large buys (3–8 SOL each) into a young
 *   launch and holds: a large trade, not a position built; DETECTORS.md's literal W3 rule fires on it.
 */
import type { Kit } from "../kit.ts";
import { launchWithCrowd } from "./money-flows.ts";
import { MINUTE, type Planned, type ScenarioDef } from "./scenario.ts";

const DAY = 24 * 60 * MINUTE;

/** History prefix: 5–20 SOL top-ups twice a day for over a week (whale-sized inbounds: W1 stays quiet). */
function establish(kit: Kit, wallet: string, until: number): void {
  const { rng } = kit;
  for (let t = until - rng.uniform(8, 12) * DAY; t < until; t += rng.uniform(10, 14) * 60 * MINUTE) {
    kit.fund(t, kit.exchange(), wallet, rng.uniform(5, 20));
  }
}

function whale(kit: Kit, variant: string, start: number): Planned {
  const { rng } = kit;
  const whales =
    variant === "canonical" ? [kit.wallet("whale")] : [kit.wallet("whale"), kit.wallet("whale2")];
  for (const w of whales) establish(kit, w, start);
  const launchTs = start + rng.uniform(1, 5) * MINUTE;
  const { mint, creator } = launchWithCrowd(kit, launchTs);
  const total = rng.uniform(8, 25);
  let t = launchTs + rng.uniform(20_000, 60_000);
  const onset = t;
  if (variant === "canonical") {
    const n = rng.int(3, 6);
    for (let i = 0; i < n; i++, t += rng.uniform(20_000, 50_000)) {
      kit.buy(t, mint, whales[0]!, (total / n) * rng.uniform(0.8, 1.2));
    }
  } else {
    for (const w of whales)
      for (let i = 0; i < 2; i++)
        kit.buy(t + rng.uniform(0, 3 * MINUTE), mint, w, (total / 4) * rng.uniform(0.8, 1.2));
  }
  if (rng.chance(0.5)) for (const w of whales) kit.sell(launchTs + rng.uniform(12, 25) * MINUTE, mint, w, 1);
  return { onset, mints: [mint.address], wallets: [...whales, creator] };
}

function bigBuyer(kit: Kit, start: number): Planned {
  const { rng } = kit;
  const buyer = kit.wallet("buyer");
  establish(kit, buyer, start);
  const launchTs = start + rng.uniform(1, 5) * MINUTE;
  const { mint } = launchWithCrowd(kit, launchTs);
  const t = launchTs + rng.uniform(20_000, 90_000);
  kit.buy(t, mint, buyer, rng.uniform(3, 8));
  if (rng.chance(0.5)) kit.buy(t + rng.uniform(20_000, 120_000), mint, buyer, rng.uniform(3, 8));
  return { onset: t, mints: [mint.address], wallets: [buyer] };
}

export const WHALE: ScenarioDef = {
  type: "WHALE",
  kind: "scenario",
  variants: ["canonical", "evasive"],
  detectors: ["whale_dominance"],
  plan: whale,
};

export const BIG_BUYER: ScenarioDef = {
  type: "BIG_BUYER",
  kind: "decoy",
  variants: ["canonical"],
  detectors: [],
  plan: (kit, _variant, start) => bigBuyer(kit, start),
};

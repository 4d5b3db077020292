/**
 * Scenarios about where SOL goes:
 * - SWEEP: a hub's wallets trade a launch and send the proceeds back to the hub (or the creator).
 *   Evasive: through an intermediate wallet, and only after the 30-min horizon.
 * - INJECTION: an established wallet with a history of small inbounds receives 10–40 SOL from a
 *   fresh source and spends nearly all of it on one launch within minutes, in 3–5 buys (W1 sees the
 *   injection, W3 the dominance it buys). Evasive: the injection arrives in three parts under 5 SOL
 *   and is spent over eight minutes (W1 misses it; the four buys still dominate the launch).
 * - DAISY: SOL walked through four single-use wallets, each forwarding ≥ 95% within minutes; the
 *   last one buys a launch or funds wallets. Evasive: each hop keeps 15–30% and some wait 12+ min.
 */
import type { Kit, MintHandle } from "../kit.ts";
import { MINUTE, type Planned, type ScenarioDef } from "./scenario.ts";

const DAY = 24 * 60 * MINUTE;

/** A scenario-owned launch with organic-looking followers. */
export function launchWithCrowd(
  kit: Kit,
  ts: number,
  role = "creator",
): { mint: MintHandle; creator: string } {
  const creator = kit.wallet(role);
  kit.fund(ts - kit.rng.uniform(5, 20) * MINUTE, kit.exchange(), creator, kit.rng.uniform(1, 3));
  const mint = kit.launch(ts, creator, kit.rng.uniform(0.2, 1));
  kit.followers(mint, ts + 3_000, ts + 10 * MINUTE, kit.rng.int(15, 40));
  return { mint, creator };
}

function sweep(kit: Kit, variant: string, start: number): Planned {
  const { rng } = kit;
  const hub = kit.wallet("hub");
  const wallets = Array.from({ length: rng.int(4, 8) }, (_, i) => kit.wallet(`w${i}`));
  kit.fund(start, kit.exchange(), hub, 20);
  wallets.forEach((w, i) => {
    kit.fund(start + (i + 1) * rng.uniform(1, 4) * MINUTE, hub, w, rng.uniform(0.5, 2));
  });
  const launchTs = start + 25 * MINUTE;
  const { mint, creator } = launchWithCrowd(kit, launchTs);
  const toCreator = variant === "canonical" && rng.chance(0.3);
  const dest = toCreator ? creator : hub;
  const mid = kit.wallet("mid");
  let firstSweep = Number.POSITIVE_INFINITY;
  for (const w of wallets) {
    const buyTs = launchTs + rng.uniform(10_000, 5 * MINUTE);
    const sellTs = buyTs + rng.uniform(3, 15) * MINUTE;
    kit.buy(buyTs, mint, w, rng.uniform(0.3, 0.8));
    kit.sell(sellTs, mint, w, 1);
    if (variant === "canonical") {
      const sweepTs = sellTs + rng.uniform(1, 10) * MINUTE;
      firstSweep = Math.min(firstSweep, sweepTs);
      kit.sweep(sweepTs, mint, w, dest, rng.uniform(0.95, 1.05));
    } else {
      kit.sweep(sellTs + rng.uniform(35, 50) * MINUTE, mint, w, mid, 1);
      kit.sweep(sellTs + rng.uniform(55, 70) * MINUTE, mint, w, hub, 0);
    }
  }
  if (variant === "evasive") kit.fund(launchTs + 90 * MINUTE, mid, hub, 2);
  const onset = Number.isFinite(firstSweep) ? firstSweep : launchTs;
  return { onset, mints: [mint.address], wallets: [hub, creator, mid, ...wallets], clusterRoot: dest };
}

function injection(kit: Kit, variant: string, start: number): Planned {
  const { rng } = kit;
  const whale = kit.wallet("whale");
  // History prefix: a wallet topped up with small amounts twice a day for over a week.
  for (let t = start - rng.uniform(8, 12) * DAY; t < start - MINUTE; t += rng.uniform(10, 14) * 60 * MINUTE) {
    kit.fund(t, kit.exchange(), whale, rng.uniform(0.1, 0.5));
  }
  const source = kit.wallet("source");
  kit.fund(start, kit.exchange(), source, 45);
  const { mint, creator } = launchWithCrowd(kit, start + rng.uniform(2, 8) * MINUTE);
  const injectTs = start + 10 * MINUTE;
  const total = variant === "canonical" ? rng.uniform(10, 40) : rng.uniform(9, 14);
  if (variant === "canonical") {
    kit.fund(injectTs, source, whale, total);
    const buys = rng.int(3, 5);
    for (let i = 0; i < buys; i++)
      kit.buy(
        injectTs + rng.uniform(20_000, 4 * MINUTE),
        mint,
        whale,
        (total * rng.uniform(0.88, 0.98)) / buys,
      );
  } else {
    for (let i = 0; i < 3; i++) kit.fund(injectTs + i * rng.uniform(1, 3) * MINUTE, source, whale, total / 3);
    for (let i = 0; i < 4; i++) kit.buy(injectTs + (i + 1) * 2 * MINUTE, mint, whale, (total * 0.9) / 4);
  }
  return { onset: injectTs, mints: [mint.address], wallets: [whale, source, creator] };
}

function daisy(kit: Kit, variant: string, start: number): Planned {
  const { rng } = kit;
  const hops = ["s", "a", "b", "c", "d"].map((r) => kit.wallet(r));
  let amount = rng.uniform(5, 30);
  kit.fund(start, kit.exchange(), hops[0]!, amount);
  let t = start;
  let onset = start;
  for (let i = 1; i < hops.length; i++) {
    t +=
      variant === "canonical" ? rng.uniform(1, 8) * MINUTE : rng.uniform(i % 2 === 0 ? 12 : 2, 20) * MINUTE;
    amount *= variant === "canonical" ? rng.uniform(0.95, 0.99) : rng.uniform(0.7, 0.85);
    kit.fund(t, hops[i - 1]!, hops[i]!, amount);
    // Three hops (exchange → s → a → b) make a chain: that is when it can be seen.
    if (i === 2) onset = t;
  }
  const tail = hops[hops.length - 1]!;
  const { mint, creator } = launchWithCrowd(kit, t + rng.uniform(1, 5) * MINUTE);
  const mints: string[] = [];
  const wallets = [...hops, creator];
  if (rng.chance(0.5)) {
    kit.buy(t + rng.uniform(6, 12) * MINUTE, mint, tail, amount * 0.8);
    mints.push(mint.address);
  } else {
    for (let i = 0; i < 3; i++) {
      const fundee = kit.wallet(`f${i}`);
      wallets.push(fundee);
      kit.fund(t + rng.uniform(2, 12) * MINUTE, tail, fundee, (amount * 0.8) / 3);
    }
  }
  return { onset, mints, wallets };
}

export const SWEEP: ScenarioDef = {
  type: "SWEEP",
  kind: "scenario",
  variants: ["canonical", "evasive"],
  // Not cluster_control: the sweep edges appear after the wallets sold, so no holdings are left to
  // control (S3 uses them for the operator's next launch).
  detectors: ["sweep_back"],
  plan: sweep,
};

export const INJECTION: ScenarioDef = {
  type: "INJECTION",
  kind: "scenario",
  variants: ["canonical", "evasive"],
  detectors: ["liquidity_injection", "whale_dominance"],
  plan: injection,
};

export const DAISY: ScenarioDef = {
  type: "DAISY",
  kind: "scenario",
  variants: ["canonical", "evasive"],
  detectors: ["daisy_chain"],
  plan: daisy,
};

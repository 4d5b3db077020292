/**
 * SERIAL creator (W5, P2), in two flavours drawn per instance:
 * - rugger: one creator launches 5–7 tokens 12–25 min apart; on each it buys 1–3 SOL at launch, lets
 *   followers pump it, and sells everything 1.5–8 min in (a dev dump, P2). From the fourth launch on
 *   its record says "dumps its launches" (W5). Evasive: every launch comes from a fresh creator
 *   wallet paid through a hop by the previous one, so no wallet has a record (P2 still sees dumps).
 * - spammer: one creator launches 12–16 tokens 6–12 min apart with tiny or no dev buys; nobody much
 *   trades them and it never sells (W5's second rule, from the eleventh launch; not P2). Evasive: the
 *   launches rotate over three creator wallets, none reaching ten.
 */
import type { DetectorName } from "../../../detection/alert.ts";
import type { Kit } from "../kit.ts";
import { MINUTE, type Planned, type ScenarioDef } from "./scenario.ts";

function rugger(kit: Kit, evasive: boolean, start: number): Planned {
  const { rng } = kit;
  let creator = kit.wallet("creator0");
  kit.fund(start, kit.exchange(), creator, rng.uniform(5, 10));
  const wallets = [creator];
  const mints: string[] = [];
  let ts = start + rng.uniform(5, 15) * MINUTE;
  let onset = ts;
  for (let i = 0, n = rng.int(5, 7); i < n; i++) {
    if (evasive && i > 0) {
      const hop = kit.wallet(`hop${i}`);
      const next = kit.wallet(`creator${i}`);
      const sent = rng.uniform(4, 8);
      kit.fund(ts - rng.uniform(6, 10) * MINUTE, creator, hop, sent);
      // The hop keeps a share: a plain forward would make the hops a daisy chain.
      kit.fund(ts - rng.uniform(2, 5) * MINUTE, hop, next, sent * rng.uniform(0.5, 0.7));
      wallets.push(hop, next);
      creator = next;
    }
    const mint = kit.launch(ts, creator, rng.uniform(1, 3));
    mints.push(mint.address);
    const dumpTs = ts + rng.uniform(1.5, 8) * MINUTE;
    kit.followers(mint, ts + 3_000, dumpTs, rng.int(15, 40));
    kit.sell(dumpTs, mint, creator, 1);
    kit.followers(mint, dumpTs, dumpTs + 3 * MINUTE, rng.int(0, 5));
    if (i === 3) onset = ts;
    ts += rng.uniform(12, 25) * MINUTE;
  }
  return { onset, mints, wallets, detectors: ["creator_reputation", "dev_dump"] };
}

function spammer(kit: Kit, evasive: boolean, start: number): Planned {
  const { rng } = kit;
  const creators = Array.from({ length: evasive ? 3 : 1 }, (_, i) => kit.wallet(`creator${i}`));
  for (const c of creators) kit.fund(start, kit.exchange(), c, rng.uniform(1, 3));
  const mints: string[] = [];
  let ts = start + rng.uniform(2, 10) * MINUTE;
  let onset = ts;
  for (let i = 0, n = rng.int(12, 16); i < n; i++) {
    const mint = kit.launch(ts, creators[i % creators.length]!, rng.chance(0.7) ? rng.uniform(0.02, 0.2) : 0);
    mints.push(mint.address);
    kit.followers(mint, ts + 3_000, ts + 5 * MINUTE, rng.int(0, 6));
    if (i === 10) onset = ts;
    ts += rng.uniform(6, 12) * MINUTE;
  }
  const detectors: DetectorName[] = ["creator_reputation"];
  return { onset, mints, wallets: creators, detectors };
}

export const SERIAL: ScenarioDef = {
  type: "SERIAL",
  kind: "scenario",
  variants: ["canonical", "evasive"],
  detectors: ["creator_reputation", "dev_dump"],
  plan: (kit, variant, start) =>
    kit.rng.chance(0.5)
      ? rugger(kit, variant === "evasive", start)
      : spammer(kit, variant === "evasive", start),
};

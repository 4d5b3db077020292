/**
 * A planted scenario: a type, its variants, the detectors expected to fire, and a `plan` that
 * scripts one instance through the {@link Kit}.
 */
import type { DetectorName } from "../../../detection/alert.ts";
import type { Variant } from "../../truth.ts";
import type { Kit } from "../kit.ts";

export interface Planned {
  /** Time-to-detect origin: when the pattern becomes observable. */
  onset: number;
  mints: string[];
  wallets: string[];
  clusterRoot?: string;
  /** Overrides the type's detectors for this instance (a scenario whose flavours trip different rules). */
  detectors?: DetectorName[];
}

export interface ScenarioDef {
  type: string;
  kind: "scenario" | "decoy";
  variants: readonly Variant[];
  detectors: readonly DetectorName[];
  /** Multiplies the generator's per-variant rate (long multi-launch scenarios plant fewer). @defaultValue 1 */
  rateScale?: number;
  plan(kit: Kit, variant: Variant, start: number): Planned;
}

export const MINUTE = 60_000;

/**
 * A planted scenario: a type, its variants, the detectors expected to fire, and a `plan` that
 * scripts one instance through the {@link Kit}.
 */
import type { DetectorName } from "../../../actors/alert.ts";
import type { Variant } from "../../truth.ts";
import type { Kit } from "../kit.ts";

export interface Planned {
  /** Time-to-detect origin: when the pattern becomes observable. */
  onset: number;
  mints: string[];
  wallets: string[];
  clusterRoot?: string;
}

export interface ScenarioDef {
  type: string;
  kind: "scenario" | "decoy";
  variants: readonly Variant[];
  detectors: readonly DetectorName[];
  plan(kit: Kit, variant: Variant, start: number): Planned;
}

export const MINUTE = 60_000;

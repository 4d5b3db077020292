/**
 * Exponential backoff with jitter, the one every layer uses (the supervisor between restarts, the pump
 * and its committer between retries): min·factorⁿ capped at max, then shortened by up to `jitter`.
 */
import { InvalidOptionError, optionNames, refuseUnknownOptions } from "../errors.ts";

export interface BackoffOptions {
  /** First delay. @defaultValue 50 */
  minMs?: number;
  /** Cap on any delay. @defaultValue 5000 */
  maxMs?: number;
  /** Growth per consecutive failure. @defaultValue 2 */
  factor?: number;
  /** Fraction of the delay removed at random, so many retrying parties do not synchronise. @defaultValue 0.25 */
  jitter?: number;
}

export const BACKOFF_DEFAULTS = {
  minMs: 50,
  maxMs: 5000,
  factor: 2,
  jitter: 0.25,
} satisfies Required<BackoffOptions>;

const BACKOFF_OPTION_NAMES = optionNames<BackoffOptions>({
  minMs: true,
  maxMs: true,
  factor: true,
  jitter: true,
});

/**
 * Delay before retry number `attempt` (0-based count of consecutive failures).
 * Always within [base·(1−jitter), base] where base = min(maxMs, minMs·factor^attempt).
 */
export function backoffDelay(
  attempt: number,
  options: Required<BackoffOptions>,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.maxMs, options.minMs * options.factor ** attempt);
  return Math.round(base * (1 - options.jitter * random()));
}

/** Backoff options over the defaults, validated; errors name `option` (`supervisor.backoff.minMs`). */
export function resolveBackoff(option: string, value: BackoffOptions | undefined): Required<BackoffOptions> {
  if (value) refuseUnknownOptions(value, BACKOFF_OPTION_NAMES, `${option}.`, "a backoff option");
  const merged = { ...BACKOFF_DEFAULTS, ...value };
  for (const key of ["minMs", "maxMs"] as const)
    if (!Number.isInteger(merged[key]) || merged[key] <= 0)
      throw new InvalidOptionError(
        `${option}.${key}`,
        `must be a positive integer, got ${String(merged[key])}`,
      );
  if (merged.maxMs < merged.minMs) throw new InvalidOptionError(`${option}.maxMs`, "must be ≥ minMs");
  if (!(merged.factor >= 1)) throw new InvalidOptionError(`${option}.factor`, "must be ≥ 1");
  if (!(merged.jitter >= 0 && merged.jitter < 1))
    throw new InvalidOptionError(`${option}.jitter`, "must be in [0, 1)");
  return merged;
}

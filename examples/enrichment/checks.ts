/**
 * The per-token work, shared by the enricher actor and the benchmark's baselines so they all make the same
 * calls: every check is one HTTP call, all made at once, and their scores are synthesised into one.
 */

export const CHECKS = ["metadata", "holders", "honeypot", "social"] as const;

export interface CheckResult {
  check: string;
  score: number;
}

/** What the enricher writes to the scores stream per token. */
export interface TokenScore {
  mint: string;
  /** 0–99: the checks' scores, the honeypot check counting double. */
  score: number;
  checks: Record<string, number>;
}

/**
 * Runs every check of `mint` at once and synthesises the score. `signal` goes to every call: once it aborts,
 * the calls still in flight are aborted and this rejects with its reason. A check answered with an HTTP
 * error fails the whole token.
 */
export async function enrichToken(
  apiUrl: string,
  checks: readonly string[],
  mint: string,
  signal?: AbortSignal,
): Promise<TokenScore> {
  const results = await Promise.all(checks.map((check) => runCheck(apiUrl, check, mint, signal)));
  const score: TokenScore = { mint, score: synthesise(results), checks: {} };
  for (const result of results) score.checks[result.check] = result.score;
  return score;
}

async function runCheck(
  apiUrl: string,
  check: string,
  mint: string,
  signal: AbortSignal | undefined,
): Promise<CheckResult> {
  const response = await fetch(`${apiUrl}/check/${check}?mint=${encodeURIComponent(mint)}`, { signal });
  if (!response.ok) throw new Error(`${check} check of ${mint} answered HTTP ${response.status}`);
  const body = (await response.json()) as { score: number };
  return { check, score: body.score };
}

function synthesise(results: readonly CheckResult[]): number {
  let sum = 0;
  let weights = 0;
  for (const { check, score } of results) {
    const weight = check === "honeypot" ? 2 : 1;
    sum += score * weight;
    weights += weight;
  }
  return weights === 0 ? 0 : Math.round(sum / weights);
}

import { defineActor } from "troupe";

/** A new token, as the tx stream announces it. */
export interface NewMint {
  mint: string;
}

export interface EnricherInit {
  /** Base URL of the token APIs. */
  apiUrl: string;
  /** The checks run per token, all at once. */
  checks: readonly string[];
}

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

export const SCORES_STREAM = "token-scores";

/**
 * Token enrichment (the seed's TaskPoolManager): per new mint, every check is one HTTP call, all made at
 * once; the handler awaits them, so with `concurrency` N a worker has up to N tokens (4N calls) in flight.
 * `ctx.signal` goes to every fetch: when the runtime gives up on the token (its `messageTimeoutMs`), the
 * calls still hanging are aborted. A failed check fails the token: the runtime redelivers it, and
 * dead-letters it after `maxDeliveries`.
 */
export default defineActor({
  initialState: ({ init }: { init: EnricherInit }) => ({ apiUrl: init.apiUrl, checks: init.checks }),
  handle: async (state, event: NewMint, ctx) => {
    const results = await Promise.all(
      state.checks.map((check) => runCheck(state.apiUrl, check, event.mint, ctx.signal)),
    );
    const score: TokenScore = { mint: event.mint, score: synthesise(results), checks: {} };
    for (const result of results) score.checks[result.check] = result.score;
    return [{ stream: SCORES_STREAM, dedupId: "score", payload: score }];
  },
});

async function runCheck(
  apiUrl: string,
  check: string,
  mint: string,
  signal: AbortSignal,
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

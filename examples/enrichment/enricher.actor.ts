import { defineActor } from "troupe";
import { enrichToken } from "./checks.ts";

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

export const SCORES_STREAM = "token-scores";

/**
 * Token enrichment (the seed's TaskPoolManager): per new mint, every check is one HTTP call, all made at
 * once; the handler awaits them, so with `concurrency` N a worker has up to N tokens (4N calls) in flight.
 * `ctx.signal` goes to every call: when the runtime gives up on the token (its `messageTimeoutMs`), the
 * calls still hanging are aborted. A failed check fails the token: the runtime redelivers it, and
 * dead-letters it after `maxDeliveries`. The score goes to the scores stream, written by the pump.
 */
export default defineActor({
  initialState: ({ init }: { init: EnricherInit }) => init,
  handle: async (state, event: NewMint, ctx) => {
    const score = await enrichToken(state.apiUrl, state.checks, event.mint, ctx.signal);
    return [{ stream: SCORES_STREAM, dedupId: "score", payload: score }];
  },
});

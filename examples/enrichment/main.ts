/**
 * Token enrichment, end to end: new mints are appended to the "new-mints" stream; a pump feeds them to the
 * enricher actor (2 workers, 20 tokens in progress each, 4 API checks per token, all concurrent), which
 * writes one score per token to "token-scores". A check that fails is retried by redelivering the token;
 * a token whose checks hang is given up on at its deadline (the hanging calls aborted) and, after
 * `maxDeliveries`, written to the dead-letter stream. The APIs are a local server (api-server.ts) with a
 * configurable latency; mints named `flaky-…` fail once, `hang-…` hang. In memory here; pass a
 * `RedisStreamBackend(process.env.REDIS_URL)` instead to share the work between processes.
 *
 *   bun examples/enrichment/main.ts [tokens] [latencyMs]
 */
import { createSystem } from "troupe";
import { DeadLetters, defaultCodec, MemoryStreamBackend, Pump } from "troupe/streams";
import { startApiServer } from "./api-server.ts";
import { CHECKS, type TokenScore } from "./checks.ts";
import { type EnricherInit, type NewMint, SCORES_STREAM } from "./enricher.actor.ts";

export const MINTS_STREAM = "new-mints";

export interface EnrichmentOptions {
  /** Base URL of the token APIs. */
  apiUrl: string;
  instances?: number;
  /** Tokens in progress per worker. */
  concurrency?: number;
  /** Give up on a token (abort its calls) after this long. */
  tokenTimeoutMs?: number;
  /** Failed attempts before a token is dead-lettered. */
  maxDeliveries?: number;
}

export interface EnrichmentRun {
  scores: TokenScore[];
  /** Mints dead-lettered, with the reason the runtime gave. */
  deadLetters: Array<{ mint: string; reason: string; error: string | null }>;
  /** Milliseconds from the first append until every token was settled. */
  elapsedMs: number;
}

export async function enrichMints(
  mints: readonly string[],
  options: EnrichmentOptions,
): Promise<EnrichmentRun> {
  const backend = new MemoryStreamBackend();
  const system = createSystem();
  const init: EnricherInit = { apiUrl: options.apiUrl, checks: CHECKS };
  const enricher = await system.spawn<NewMint>(new URL("./enricher.actor.ts", import.meta.url), {
    instances: options.instances ?? 2,
    concurrency: options.concurrency ?? 20,
    capacity: 256,
    route: (event) => event.mint,
    messageTimeoutMs: options.tokenTimeoutMs ?? 2_000,
    maxDeliveries: options.maxDeliveries ?? 3,
    init,
  });
  const pump = new Pump(backend, enricher, { stream: MINTS_STREAM, group: "enricher" });
  await pump.start();

  const done = Promise.withResolvers<void>();
  let settled = 0;
  const settle = (count: number) => {
    settled += count;
    if (settled === mints.length) done.resolve();
  };
  pump.on("acked", ({ ids }) => settle(ids.length));
  pump.on("deadLettered", () => settle(1));
  const started = performance.now();
  await backend.appendBatch(
    MINTS_STREAM,
    mints.map((mint) => defaultCodec.encode({ mint } satisfies NewMint)),
  );
  await done.promise;
  const elapsedMs = performance.now() - started;

  const written = await backend.range(SCORES_STREAM, { count: mints.length + 1 });
  const letters = await new DeadLetters(backend, `${MINTS_STREAM}:dlq`).list({}, { count: mints.length + 1 });
  await pump.stop();
  await system.stop();
  return {
    scores: written.map((entry) => defaultCodec.decode(entry.fields as never) as TokenScore),
    deadLetters: letters.letters.map((letter) => ({
      mint: (defaultCodec.decode(letter.fields as never) as NewMint).mint,
      reason: letter.reason,
      error: letter.error,
    })),
    elapsedMs,
  };
}

if (import.meta.main) {
  const tokens = Number(process.argv[2] ?? 1000);
  const latencyMs = Number(process.argv[3] ?? 50);
  const api = startApiServer({ latencyMs });
  const mints = Array.from({ length: tokens }, (_, i) =>
    i === 7 ? "flaky-7" : i === 9 ? "hang-9" : `mint-${i}`,
  );
  const run = await enrichMints(mints, { apiUrl: api.url });
  await api.stop();
  console.log(
    `${run.scores.length} of ${tokens} tokens scored in ${(run.elapsedMs / 1000).toFixed(2)} s ` +
      `(${Math.round((tokens / run.elapsedMs) * 1000)} tokens/s, ${CHECKS.length} checks of ${latencyMs} ms each)`,
  );
  for (const letter of run.deadLetters)
    console.log(`dead-lettered ${letter.mint}: ${letter.reason}: ${letter.error}`);
}

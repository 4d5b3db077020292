/**
 * The enrichment example against its local API server: every token scored through the pump, with
 * 20 tokens × 4 checks in flight per worker; a flaky token retried to success; a hanging one aborted at
 * its deadline each time (the server sees the connections closed) and dead-lettered.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type ApiServer, startApiServer } from "../../examples/enrichment/api-server.ts";
import { CHECKS } from "../../examples/enrichment/checks.ts";
import { enrichMints } from "../../examples/enrichment/main.ts";

let api: ApiServer;
beforeAll(() => {
  api = startApiServer({ latencyMs: 30 });
});
afterAll(async () => {
  await api.stop();
});

test("the enrichment example scores every token with its checks in flight at once; retries and dead letters work", async () => {
  const mints = Array.from({ length: 400 }, (_, i) =>
    i === 11 ? "flaky-11" : i === 23 ? "hang-23" : `mint-${i}`,
  );
  const run = await enrichMints(mints, {
    apiUrl: api.url,
    instances: 2,
    concurrency: 20,
    tokenTimeoutMs: 400,
    maxDeliveries: 3,
  });
  const scored = new Map(run.scores.map((s) => [s.mint, s]));
  expect(scored.size).toBe(399);
  expect(run.scores).toHaveLength(399);
  expect(scored.has("hang-23")).toBe(false);
  expect(Object.keys(scored.get("flaky-11")?.checks ?? {}).sort()).toEqual([...CHECKS].sort());
  for (const score of run.scores) expect(score.score).toBeGreaterThanOrEqual(0);
  expect(run.deadLetters).toEqual([
    {
      mint: "hang-23",
      reason: "handler-failed",
      error: expect.stringContaining("handler ran longer than 400 ms"),
    },
  ]);
  // 2 workers × 20 tokens × 4 checks were in flight together at some point. A token given up on frees its
  // slot at once, while the server may not have seen its calls end yet: the failing first attempt of the
  // flaky token leaves its 3 other checks running, the hanging token's honeypot call is aborted, not
  // answered. So up to 4 more can show (161 was seen in a full run).
  expect(api.maxInFlight).toBeGreaterThanOrEqual(160);
  expect(api.maxInFlight).toBeLessThanOrEqual(164);
  // Each of the hanging token's 3 deliveries had its honeypot call aborted by the deadline.
  await api.abortedReached(3);
  // Call by call, 400 tokens × 4 checks × 30 ms take 48 s; a quarter of that is a wide margin (~2 s here,
  // 1.2 s of it the hanging token's three deadlines).
  expect(run.elapsedMs).toBeLessThan(48_000 / 4);
}, 60_000);

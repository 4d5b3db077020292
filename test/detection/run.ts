import type { Alert } from "../../src/detection/alert.ts";
import type { Analyzer } from "../../src/detection/analyzer.ts";
import type { ChainEvent } from "../../src/detection/schema.ts";

/** Feeds events in order, then flushes at `flushAt` (event time) when given; returns every alert. */
export function run(analyzer: Analyzer, events: readonly ChainEvent[], flushAt?: number): Alert[] {
  const alerts = events.flatMap((event) => analyzer.handle(event));
  if (flushAt !== undefined) alerts.push(...analyzer.flush(flushAt));
  return alerts;
}

/** Daily top-ups over `days` before `until`: a wallet the analyzer has watched age. */
export function history<E>(make: (ts: number) => E, until: number, days: number): E[] {
  const out: E[] = [];
  for (let ts = until - days * 86_400_000; ts < until; ts += 20 * 3_600_000) out.push(make(ts));
  return out;
}

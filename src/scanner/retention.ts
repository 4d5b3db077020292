/**
 * The scanner's retention, the same for `bun run start` and the batch runs (eval, benches): every few
 * seconds each stream is trimmed below what every group has acked, keeping the newest entries for
 * inspection. A long interval lets the in-memory default hold minutes of traffic (at 45k events/s, a
 * minute is 2.7M entries), so it is short.
 */
import type { StreamBackend } from "../streams/backend.ts";
import type { PartitionedStream } from "../streams/partitions.ts";
import { Retention, type RetentionOptions } from "../streams/retention.ts";
import type { Topology } from "./topology.ts";

export const TX_RETENTION: RetentionOptions = { keepLast: 10_000, intervalMs: 5_000 };
export const ALERTS_RETENTION: RetentionOptions = { keepLast: 100_000, intervalMs: 5_000 };
/** Findings and progress marks only matter to the sybil analyzer, which acks them with its checkpoints. */
export const FINDINGS_RETENTION: RetentionOptions = { keepLast: 1_000, intervalMs: 5_000 };

/**
 * Starts trimming the tx, alerts and findings streams, and the partitions of the keyed tx stream (each as
 * the tx stream); returns the stop function.
 */
export function startRetention(
  backend: StreamBackend,
  names: Topology,
  mints: PartitionedStream | null = null,
): () => void {
  const all = [
    new Retention(backend, [names.tx, ...(mints?.keys ?? [])], TX_RETENTION),
    new Retention(backend, [names.alerts], ALERTS_RETENTION),
    new Retention(backend, [names.findings], FINDINGS_RETENTION),
  ];
  for (const retention of all) retention.start();
  return () => {
    for (const retention of all) retention.stop();
  };
}

/**
 * The tx writer's counters in the control API's registry (the runtime's metrics know nothing of Ingest):
 * `troupe_ingest_events_total` appended, `troupe_ingest_duplicates_total` skipped as repeats of an id
 * appended lately, `troupe_ingest_rejected_total` dead-lettered as malformed or
 * invalid, `troupe_ingest_append_retries_total` appends sent again after a failure (a stalled or
 * refusing Redis; the idempotent producer writes each once all the same). Read from the writer's own stats
 * at each scrape, as the growth since the last one. And `troupe_ingest_writer`: 1 while this process writes
 * the tx stream, 0 while it stands by for another ingest process's lease (ingest-lease.ts).
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { TxStreamWriterStats } from "../ingest/stream-writer.ts";

const COUNTERS = [
  ["troupe_ingest_events_total", "Events this process appended to the tx stream.", "sent"],
  [
    "troupe_ingest_duplicates_total",
    "Events this process skipped: one with the same id was appended lately.",
    "duplicates",
  ],
  [
    "troupe_ingest_rejected_total",
    "Input this process rejected (malformed, invalid) to the tx dead letters.",
    "rejected",
  ],
  [
    "troupe_ingest_append_retries_total",
    "Tx stream appends this process sent again after a failure.",
    "retries",
  ],
] as const;

export function registerIngestMetrics(
  registry: Registry,
  stats: Readonly<TxStreamWriterStats>,
  writing: () => boolean,
): void {
  registry.registerMetric(
    new Gauge({
      name: "troupe_ingest_writer",
      help: "1 while this process writes the tx stream, 0 while it stands by for another ingest process.",
      registers: [],
      collect() {
        this.set(writing() ? 1 : 0);
      },
    }),
  );
  for (const [name, help, field] of COUNTERS) {
    let counted = 0;
    registry.registerMetric(
      new Counter({
        name,
        help,
        registers: [],
        collect() {
          const now = stats[field];
          if (now > counted) this.inc(now - counted);
          counted = now;
        },
      }),
    );
  }
}

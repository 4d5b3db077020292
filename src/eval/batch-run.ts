/**
 * The scanner over a finite workload (`bun run eval`, the scanner and state-size benches): the analyzers
 * (with `partitions`, the mint analyzer in that many) and the ingest on one backend, with no sweeps (one consumer), the scanner's retention, and a
 * way to wait until every group has consumed and acked everything that was written.
 */

import { TxStreamWriter } from "../ingest/stream-writer.ts";
import type { ActorSystem } from "../runtime/system.ts";
import { createSystem } from "../runtime/system.ts";
import {
  type AnalyzerStateOptions,
  mintsDownstream,
  type RunningAnalyzers,
  startAnalyzers,
} from "../scanner/analyzers.ts";
import { startRetention } from "../scanner/retention.ts";
import type { Topology } from "../scanner/topology.ts";
import type { StreamBackend } from "../streams/backend.ts";
import { untilDrained } from "../streams/drained.ts";
import { PartitionedStream } from "../streams/partitions.ts";
import type { ProducerOptions } from "../streams/producer.ts";

export interface BatchScanner {
  readonly system: ActorSystem;
  readonly analyzers: RunningAnalyzers;
  readonly ingest: TxStreamWriter;
  /** Resolves once every analyzer group (and the findings group) has nothing undelivered or pending. */
  drained(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBatchScanner(
  backend: StreamBackend,
  names: Topology,
  producer: Partial<ProducerOptions> = {},
  state?: AnalyzerStateOptions | null,
  partitions: number | null = null,
  partitionThreads?: number,
): Promise<BatchScanner> {
  const system = createSystem();
  const mints =
    partitions === null ? null : await PartitionedStream.open(backend, names.mints.stream, { partitions });
  const analyzers = await startAnalyzers({
    system,
    backend,
    topology: names,
    consumer: "batch",
    claimIdleMs: 60_000,
    maxDeliveries: 5,
    pump: { sweepIntervalMs: 0, blockMs: 100 },
    mints,
    ...(partitionThreads !== undefined && { partitionThreads }),
    ...(state !== undefined && { state }),
  });
  const ingest = new TxStreamWriter(backend, names, {
    downstream: mintsDownstream(names, mints),
    ...producer,
  });
  // Trimmed as `bun run start` trims: without it a long in-memory run keeps every event in the heap.
  const stopRetention = startRetention(backend, names, mints);
  return {
    system,
    analyzers,
    ingest,
    drained: () => untilDrained(backend, analyzers.upstreamFirst()),
    async stop() {
      stopRetention();
      await analyzers.stop();
      await system.stop();
    },
  };
}

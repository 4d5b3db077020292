/**
 * `troupe/streams`: what connects actors to streams. Backends (in memory, Redis or a Redis Cluster: one
 * contract), partitioned streams and their producer, the pump
 * that feeds an actor from a stream group and acks after its outputs are written, the producer with
 * backpressure, retention, dead letters, and the entry codecs.
 *
 * @example
 * ```ts
 * import { createSystem } from "troupe";
 * import { defaultCodec, MemoryStreamBackend, Pump } from "troupe/streams";
 *
 * const backend = new MemoryStreamBackend();
 * const scorer = await createSystem().spawn(new URL("./scorer.actor.ts", import.meta.url));
 * await new Pump(backend, scorer, { stream: "orders", group: "scorer" }).start();
 * await backend.append("orders", defaultCodec.encode({ customer: "c1", cents: 25_000 }));
 * ```
 */

export type {
  AppendResult,
  ClaimOptions,
  ClaimResult,
  CommitItem,
  CommitOutcome,
  ConsumerInfo,
  EntryFields,
  GroupInfo,
  OutputWrite,
  PendingInfo,
  PendingQuery,
  PendingReadOptions,
  RangeOptions,
  ReadOptions,
  RedeliveredEntry,
  StreamBackend,
  StreamEntry,
  UniqueAppendResult,
  WriteFields,
} from "./backend.ts";
export type {
  DeadLetterFilter,
  DeadLetterPage,
  DeadLetterReason,
  DeadLettersOptions,
  StreamDeadLetter,
} from "./dead-letters.ts";
export { DEAD_LETTER_REASONS, DeadLetters } from "./dead-letters.ts";
export type { EntryCodec } from "./entry-codec.ts";
export { defaultCodec, entryFields, jsonCodec, rawJsonCodec, rawPayloadCodec } from "./entry-codec.ts";
export type { LeaseStore, LeaseView } from "./leases.ts";
export type { MemoryBackendOptions } from "./memory-backend.ts";
export { MemoryStreamBackend } from "./memory-backend.ts";
export type { Output, Outputs, OutputsOf } from "./outputs.ts";
export type { OwnershipEvents, OwnershipOptions, PartitionHandler, RevokeReason } from "./ownership.ts";
export { PartitionOwnership } from "./ownership.ts";
export type { PartitionedConsumerEvents, PartitionPump } from "./partitioned-consumer.ts";
export { PartitionedConsumer } from "./partitioned-consumer.ts";
export type { PartitionedProducerOptions } from "./partitioned-producer.ts";
export { PartitionedProducer } from "./partitioned-producer.ts";
export type { PartitionOptions, Partitions } from "./partitions.ts";
export { PartitionedStream, partitionKey, partitionOf } from "./partitions.ts";
export type { Pressure, PressureLevel, ProducerEvents, ProducerOptions, SendOptions } from "./producer.ts";
export { Producer } from "./producer.ts";
export { Pump } from "./pump.ts";
export type { EntrySource, LossReport, PumpEvents, PumpStats } from "./pump-events.ts";
export type { PumpEntry, PumpOptions, ResolvedPumpOptions } from "./pump-options.ts";
export type { PumpTarget } from "./pump-target.ts";
export type { RedisBackendOptions } from "./redis-backend.ts";
export { RedisStreamBackend } from "./redis-backend.ts";
export type { RedisAddress } from "./redis-target.ts";
export type { RetentionEvents, RetentionOptions, TrimResult } from "./retention.ts";
export { Retention } from "./retention.ts";

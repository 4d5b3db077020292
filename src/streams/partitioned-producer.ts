/**
 * A producer for a partitioned stream (partitions.ts): each entry goes to the partition of its key, through
 * that partition's own {@link Producer}, so backpressure is per partition (a slow partition slows only the
 * keys that go to it). A batch is split by partition, keeping each key's entries in their order, and the
 * partitions' parts are written together; results come back in the batch's order.
 */
import { InvalidOptionError } from "../errors.ts";
import type { AppendResult, StreamBackend } from "./backend.ts";
import type { PartitionedStream } from "./partitions.ts";
import { Producer, type ProducerOptions, type SendOptions } from "./producer.ts";

export interface PartitionedProducerOptions<T> extends Omit<ProducerOptions, "stream"> {
  /** The entry's partition key (a wallet, a mint…): entries with one key keep their order. Required. */
  key: (payload: T) => string;
}

export class PartitionedProducer<T = unknown> {
  readonly stream: PartitionedStream;
  /** One per partition, in partition order: their pressure and events. */
  readonly producers: readonly Producer<T>[];
  readonly #key: (payload: T) => string;

  constructor(backend: StreamBackend, stream: PartitionedStream, options: PartitionedProducerOptions<T>) {
    const { key, ...producerOptions } = options;
    if (typeof key !== "function") throw new InvalidOptionError("key", "must be a function of the payload");
    this.stream = stream;
    this.#key = key;
    this.producers = stream.keys.map((k) => new Producer<T>(backend, { ...producerOptions, stream: k }));
  }

  async send(payload: T, options: SendOptions = {}): Promise<string> {
    return this.producers[this.stream.partitionOf(this.#key(payload))]!.send(payload, options);
  }

  /** Writes each partition's part of the batch in one pipeline, all parts at once. */
  async sendBatch(payloads: readonly T[], options: SendOptions = {}): Promise<AppendResult[]> {
    const parts = new Map<number, number[]>();
    payloads.forEach((payload, i) => {
      const partition = this.stream.partitionOf(this.#key(payload));
      const part = parts.get(partition);
      if (part) part.push(i);
      else parts.set(partition, [i]);
    });
    const results: AppendResult[] = new Array(payloads.length);
    await Promise.all(
      [...parts].map(async ([partition, indexes]) => {
        const written = await this.producers[partition]!.sendBatch(
          indexes.map((i) => payloads[i]!),
          options,
        );
        indexes.forEach((i, j) => {
          results[i] = written[j]!;
        });
      }),
    );
    return results;
  }
}

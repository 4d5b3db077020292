/**
 * Partitioned streams. Redis has no partitioned stream, so a logical stream with P partitions is P stream
 * keys, each with a hash tag of its own so a Redis Cluster spreads them over its nodes, and each partition's
 * derived keys (its groups live in the key; dead letters `<key>:dlq`, dedup markers, durable state) share
 * its slot. P is fixed when the stream is first opened and stored with it (`<name>:partitions`): opening it
 * with another P fails with `ERR_PARTITION_MISMATCH`, since every key would then map to another partition
 * (re-partitioning means a new stream and a replay into it).
 *
 * Partition `i` of `name`: with P = 1, `name` itself (today's key, nothing existing changes). Otherwise the
 * name's hash tag gets `:p<i>` (`{troupe}:tx` → `{troupe:p3}:tx`, so `{troupe}:alerts` partition 3 shares
 * its slot: co-partitioned streams of one tag sit together), or a name without one becomes the tag
 * (`troupe:tx` → `{troupe:tx:p3}`).
 *
 * An entry's partition is `fnv1a32(key) mod P` over the key's UTF-8 bytes (FNV-1a, 32 bits): stable across
 * processes and versions, so one key always lands in one partition and its entries keep their order there.
 */
import { InvalidOptionError, optionNames, refuseUnknownOptions, TroupeError } from "../errors.ts";
import type { StreamBackend } from "./backend.ts";
import { hashTag } from "./key-slot.ts";

export interface PartitionOptions {
  /** How many partitions; fixed at the stream's creation. @defaultValue 1 */
  partitions?: number;
}

/** The most partitions a stream may have (a Redis Cluster has 16,384 slots; a few per node is the aim). */
export const MAX_PARTITIONS = 4096;

export const PARTITION_DEFAULTS = { partitions: 1 } satisfies Required<PartitionOptions>;

const PARTITION_OPTION_NAMES = optionNames<PartitionOptions>({ partitions: true });

export function resolvePartitionOptions(options: PartitionOptions = {}): Required<PartitionOptions> {
  // A misspelt count would create the stream with 1 partition, fixed for good.
  refuseUnknownOptions(options, PARTITION_OPTION_NAMES, "", "a partitioned stream option");
  const resolved = { ...PARTITION_DEFAULTS, ...options };
  const { partitions } = resolved;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS)
    throw new InvalidOptionError(
      "partitions",
      `must be an integer from 1 to ${MAX_PARTITIONS}, got ${partitions}`,
    );
  return resolved;
}

/** The stream key of partition `partition` of `name` (see the module comment). */
export function partitionKey(name: string, partition: number, partitions: number): string {
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions)
    throw new InvalidOptionError(
      "partition",
      `must be an integer from 0 to ${partitions - 1}, got ${partition}`,
    );
  if (partitions === 1) return name;
  if (hashTag(name) === null) {
    if (name.includes("}"))
      throw new InvalidOptionError("stream", `"${name}" has a '}' but no hash tag; give it a {tag}`);
    return `{${name}:p${partition}}`;
  }
  const close = name.indexOf("}", name.indexOf("{") + 1);
  return `${name.slice(0, close)}:p${partition}${name.slice(close)}`;
}

/** The partition of `key` among `partitions` (an integer ≥ 1: else NaN or a fraction would route nowhere). */
export function partitionOf(key: string, partitions: number): number {
  // Hashed as it came, a missing field's undefined would send every such entry to one partition unnoticed.
  if (typeof key !== "string")
    throw new TroupeError("ERR_INVALID_KEY", `a partition key must be a string, got ${describeKey(key)}`);
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new InvalidOptionError("partitions", `must be an integer >= 1, got ${partitions}`);
  return fnv1a32(key) % partitions;
}

function describeKey(key: unknown): string {
  return key === null ? "null" : typeof key === "object" ? "an object" : `${typeof key} ${String(key)}`;
}

/**
 * What partition ownership shares out among members: `partitions` units, each with a key of its own (its
 * lease sits in that key's slot), under a `name` (the members' key sits in its slot). A partitioned stream
 * is one; so is any fixed set of units of work that one member at a time must own.
 */
export interface Partitions {
  readonly name: string;
  readonly partitions: number;
  /** The units' keys, by index. */
  readonly keys: readonly string[];
}

/**
 * Refuses, naming it, what is no `Partitions`: a name, and as many keys (non-empty strings) as `partitions`
 * says. Without the count, an ownership over units of one's own owned none of them, silently (a spec test).
 */
export function checkPartitions(option: string, units: Partitions): void {
  const { name, partitions, keys } = (units ?? {}) as Partial<Partitions>;
  if (typeof name !== "string" || name === "")
    throw new InvalidOptionError(`${option}.name`, "must be a non-empty string");
  if (
    !Array.isArray(keys) ||
    keys.length === 0 ||
    !keys.every((key) => typeof key === "string" && key !== "")
  )
    throw new InvalidOptionError(
      `${option}.keys`,
      "must be a non-empty array of non-empty strings, one per unit",
    );
  if (partitions !== keys.length)
    throw new InvalidOptionError(
      `${option}.partitions`,
      `must be the number of keys (${keys.length}), got ${String(partitions)}`,
    );
}

/** A logical stream and its partitions, as stored: {@link PartitionedStream.open} checks the count. */
export class PartitionedStream implements Partitions {
  readonly name: string;
  readonly partitions: number;
  /** The partitions' stream keys, by partition. */
  readonly keys: readonly string[];

  private constructor(name: string, partitions: number) {
    this.name = name;
    this.partitions = partitions;
    this.keys = Array.from({ length: partitions }, (_, i) => partitionKey(name, i, partitions));
  }

  /**
   * Opens `name` with `options.partitions` partitions, storing the count if the stream has none yet. A
   * stream stored with another count fails with `ERR_PARTITION_MISMATCH` naming both.
   */
  static async open(
    backend: StreamBackend,
    name: string,
    options: PartitionOptions = {},
  ): Promise<PartitionedStream> {
    if (typeof name !== "string" || name === "")
      throw new InvalidOptionError("stream", "must be a non-empty string");
    const { partitions } = resolvePartitionOptions(options);
    const stream = new PartitionedStream(name, partitions);
    const stored = await backend.fixPartitions(name, partitions);
    if (stored !== partitions)
      throw new TroupeError(
        "ERR_PARTITION_MISMATCH",
        `partitions: stream "${name}" was created with ${stored} partitions, not ${partitions} (the count is fixed at creation: keep ${stored}, or re-partition into a new stream)`,
      );
    return stream;
  }

  /** The partition that `key`'s entries go to. */
  partitionOf(key: string): number {
    return partitionOf(key, this.partitions);
  }

  /** The stream key that `key`'s entries go to. */
  keyFor(key: string): string {
    return this.keys[this.partitionOf(key)]!;
  }
}

const utf8 = new TextEncoder();
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnv1a32(key: string): number {
  let hash = FNV_OFFSET;
  for (const byte of utf8.encode(key)) hash = Math.imul(hash ^ byte, FNV_PRIME);
  return hash >>> 0;
}

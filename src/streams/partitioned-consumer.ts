/**
 * A consumer group on a partitioned stream, shared with other processes: partition ownership
 * (ownership.ts) and one pump per partition this member owns. On `assigned` the caller's `setup` gives the
 * partition's target (a durable target restores the partition's state there, its new epoch fencing the
 * previous owner) and pump options; the pump adopts what the previous owner left pending, reads only while
 * the lease cannot have lapsed (`mayRead`: a thawed zombie reads nothing) and under the lease, which the
 * backend checks with each read (`readLease`: a read that arrives late takes nothing), and stops before the partition
 * is given up. Kafka's consumer-group rebalance listener, with the lease as the generation.
 */
import { createNanoEvents, type Unsubscribe } from "nanoevents";
import { InvalidOptionError } from "../errors.ts";
import type { StreamBackend } from "./backend.ts";
import { type OwnershipOptions, PartitionOwnership } from "./ownership.ts";
import type { PartitionedStream } from "./partitions.ts";
import { Pump } from "./pump.ts";
import type { PumpOptions } from "./pump-options.ts";
import type { PumpTarget } from "./pump-target.ts";

/** What feeds one owned partition. */
export interface PartitionPump<M, R> {
  target: PumpTarget<M, R>;
  /** Its pump's options, but the stream, group, consumer, `mayRead` and `readLease`, which it sets. */
  options?: Omit<PumpOptions<M, R>, "stream" | "group" | "consumer" | "mayRead" | "readLease">;
  /**
   * Called as the partition is given up, while its pump stops: a durable actor stopped with `handBack`
   * finishes the message in hand and checkpoints, and the pump's stop then waits for nothing more (the next
   * owner takes what was not started from the pending entries).
   */
  release?: () => Promise<void>;
}

export interface PartitionedConsumerEvents<M, R> {
  /** A partition's pump started (attach its listeners here). */
  started(event: { partition: number; pump: Pump<M, R> }): void;
  /** A partition's pump stopped: the partition was given up, lost, or the consumer stopped. */
  stopped(event: { partition: number }): void;
}

export class PartitionedConsumer<M = unknown, R = unknown> {
  readonly ownership: PartitionOwnership;
  readonly #backend: StreamBackend;
  readonly #setup: (partition: number, key: string) => PartitionPump<M, R> | Promise<PartitionPump<M, R>>;
  readonly #pumps = new Map<number, Pump<M, R>>();
  readonly #releases = new Map<number, () => Promise<void>>();
  readonly #events = createNanoEvents<PartitionedConsumerEvents<M, R>>();

  /** `options.member` is also the consumer name of every pump. */
  constructor(
    backend: StreamBackend,
    stream: PartitionedStream,
    setup: (partition: number, key: string) => PartitionPump<M, R> | Promise<PartitionPump<M, R>>,
    options: OwnershipOptions,
  ) {
    if (typeof setup !== "function")
      throw new InvalidOptionError(
        "setup",
        "must be a function of (partition, key) giving the partition's pump",
      );
    this.#backend = backend;
    this.#setup = setup;
    this.ownership = new PartitionOwnership(
      backend,
      stream,
      {
        assigned: (partition, key) => this.#assigned(partition, key),
        revoked: (partition) => this.#revoked(partition),
      },
      options,
    );
  }

  on<E extends keyof PartitionedConsumerEvents<M, R>>(
    event: E,
    listener: PartitionedConsumerEvents<M, R>[E],
  ): Unsubscribe {
    return this.#events.on(event, listener);
  }

  /** The pump of an owned partition. */
  pump(partition: number): Pump<M, R> | undefined {
    return this.#pumps.get(partition);
  }

  start(): Promise<void> {
    return this.ownership.start();
  }

  /** Stops every pump and gives the partitions up (their leases released for the other members). */
  stop(): Promise<void> {
    return this.ownership.stop();
  }

  async #assigned(partition: number, key: string): Promise<void> {
    const { target, options = {}, release } = await this.#setup(partition, key);
    const { group, member } = this.ownership.options;
    if (options.stateStore === undefined) {
      // A durable pump adopts by itself (and waits out a frozen predecessor's parked read); a plain one
      // would claim the previous owner's entries only once idle for claimIdleMs.
      await this.#backend.ensureGroup(key, group);
      await this.#backend.adoptPending(key, group, member);
    }
    const pump = new Pump<M, R>(this.#backend, target, {
      ...options,
      stream: key,
      group,
      consumer: member,
      mayRead: () => this.ownership.holds(partition),
      readLease: () => this.ownership.lease(partition),
    });
    this.#pumps.set(partition, pump);
    if (release) this.#releases.set(partition, release);
    this.#events.emit("started", { partition, pump });
    await pump.start();
  }

  async #revoked(partition: number): Promise<void> {
    const pump = this.#pumps.get(partition);
    const release = this.#releases.get(partition);
    this.#pumps.delete(partition);
    this.#releases.delete(partition);
    // A stop that fails (the backend away) leaves the entries pending: the next owner adopts them.
    await Promise.all([pump?.stop().catch(() => {}), release?.().catch(() => {})]);
    if (pump) this.#events.emit("stopped", { partition });
  }
}

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
import { LapsedUnits } from "./lapsed-units.ts";
import { type OwnershipOptions, PartitionOwnership, type RevokeReason } from "./ownership.ts";
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
  /**
   * Given with `resume`: a partition whose lease was lost is not stopped at once but kept, its pump reading
   * nothing and its target held by `pause`, until this member takes it again under the generation it was
   * lost at or the next one (nobody held it between: `resume`, and it goes on as it was) or finds that
   * another member may have held it (stopped then, `release` included). Without them a loss stops it.
   */
  pause?: () => void;
  resume?: () => void;
}

export interface PartitionedConsumerEvents<M, R> {
  /** A partition's pump started (attach its listeners here). */
  started(event: { partition: number; pump: Pump<M, R> }): void;
  /** A partition's pump stopped: the partition was given up, lost, or the consumer stopped. */
  stopped(event: { partition: number }): void;
  /** A partition whose lease was lost is kept paused (`pause` and `resume` given), for now. */
  paused(event: { partition: number; generation: number }): void;
  /** A kept partition was taken again under `generation` before anyone else held it: it goes on. */
  resumed(event: { partition: number; generation: number }): void;
}

/** An owned partition: its pump and what its setup gave to stop, pause and resume it. */
interface Running<M, R> {
  readonly pump: Pump<M, R>;
  readonly setup: PartitionPump<M, R>;
  readonly generation: number;
}

export class PartitionedConsumer<M = unknown, R = unknown> {
  readonly ownership: PartitionOwnership;
  readonly #backend: StreamBackend;
  readonly #setup: (partition: number, key: string) => PartitionPump<M, R> | Promise<PartitionPump<M, R>>;
  readonly #running = new Map<number, Running<M, R>>();
  readonly #events = createNanoEvents<PartitionedConsumerEvents<M, R>>();
  readonly #lapsed = new LapsedUnits<{
    pause(): void;
    resume(): void;
    stop(): Promise<void>;
    running: Running<M, R>;
  }>(() => {});

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
        assigned: (partition, key, generation) => this.#assigned(partition, key, generation),
        revoked: (partition, _key, reason) => this.#revoked(partition, reason),
      },
      options,
    );
    this.ownership.on("round", ({ owned }) => this.#lapsed.settle(owned));
  }

  on<E extends keyof PartitionedConsumerEvents<M, R>>(
    event: E,
    listener: PartitionedConsumerEvents<M, R>[E],
  ): Unsubscribe {
    return this.#events.on(event, listener);
  }

  /** The pump of an owned partition. */
  pump(partition: number): Pump<M, R> | undefined {
    return this.#running.get(partition)?.pump;
  }

  start(): Promise<void> {
    return this.ownership.start();
  }

  /** Stops every pump and gives the partitions up (their leases released for the other members). */
  async stop(): Promise<void> {
    await this.ownership.stop();
    await this.#lapsed.stopAll();
  }

  async #assigned(partition: number, key: string, generation: number): Promise<void> {
    const kept = await this.#lapsed.takeAgain(partition, generation);
    if (kept) {
      this.#running.set(partition, { ...kept.running, generation });
      this.#events.emit("resumed", { partition, generation });
      return;
    }
    const setup = await this.#setup(partition, key);
    const { target, options = {} } = setup;
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
    this.#running.set(partition, { pump, setup, generation });
    this.#events.emit("started", { partition, pump });
    await pump.start();
  }

  async #revoked(partition: number, reason: RevokeReason): Promise<void> {
    const running = this.#running.get(partition);
    if (!running) return;
    this.#running.delete(partition);
    const { pause, resume } = running.setup;
    if (reason === "lost" && pause && resume) {
      const stop = () => this.#stop(partition, running);
      this.#lapsed.keep(partition, running.generation, { pause, resume, stop, running });
      this.#events.emit("paused", { partition, generation: running.generation });
      return;
    }
    await this.#stop(partition, running);
  }

  async #stop(partition: number, { pump, setup }: Running<M, R>): Promise<void> {
    // A stop that fails (the backend away) leaves the entries pending: the next owner adopts them.
    await Promise.all([pump.stop().catch(() => {}), setup.release?.().catch(() => {})]);
    this.#events.emit("stopped", { partition });
  }
}

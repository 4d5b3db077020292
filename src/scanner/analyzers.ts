/**
 * Starts the analyzer actors of the topology (wallet, pattern and sybil; keyed, the wallet stage and sybil,
 * and the mint analyzer's partitions) and connects each to the tx stream through its own consumer group;
 * the wallet and pattern actors also write their findings and progress marks to the findings stream,
 * which the sybil actor reads (one more group), as DETECTORS.md wants: replayable, never a shared read
 * between actors. With durable state the sybil actor applies those findings in step with its tx entries,
 * so its result does not depend on when they arrive (src/detection/aligned-findings.ts).
 *
 * Several analyze processes share the analyzers by lease (`placement`): each analyzer runs in one live
 * process at a time, the holder of its lease (streams/ownership.ts, the analyzers as the units); whoever
 * takes one over restores its checkpoint, which fences the previous holder, and its durable pumps adopt
 * the pending entries. An analyzer is exactly the actor it is in one process, so the alerts are too.
 * Without durable state a moved analyzer starts from nothing (between moves each analyzer still sees its
 * whole stream, which splitting a group's entries between processes would not give it).
 */
import type { Alert, AnalyzerName, DetectorName } from "../detection/alert.ts";
import type { AnalyzerInit, AnalyzerMessage } from "../detection/analyzer.actor.ts";
import type { FeedRecord } from "../detection/findings-feed.ts";
import { MINT_FORWARDER } from "../detection/mint-analyzer.ts";
import { SYBIL_FINDING_DETECTORS, SYBIL_FINDING_PRODUCERS } from "../detection/sybil-analyzer.ts";
import { analyzerCodec } from "../detection/tx-entry.ts";
import { walletStageConfig } from "../detection/wallet-stage.ts";
import { InvalidOptionError } from "../errors.ts";
import type { WatchedPartitions } from "../http/streams/backend-source.ts";
import type { ActorRef } from "../runtime/actor-ref.ts";
import { ThreadPool } from "../runtime/actor-thread.ts";
import { STATE_DEFAULTS } from "../runtime/spawn-options.ts";
import type { ActorSystem } from "../runtime/system.ts";
import type { ReadLease, StreamBackend } from "../streams/backend.ts";
import type { DrainingPump } from "../streams/drained.ts";
import { type KeptUnit, LapsedUnits } from "../streams/lapsed-units.ts";
import { defaultOutputsOf, type Outputs } from "../streams/outputs.ts";
import { PartitionOwnership, type RevokeReason } from "../streams/ownership.ts";
import { PartitionedConsumer } from "../streams/partitioned-consumer.ts";
import type { PartitionedStream, Partitions } from "../streams/partitions.ts";
import { Pump } from "../streams/pump.ts";
import type { PumpOptions } from "../streams/pump-options.ts";
import { findingsHandOver, type HandOverFinding } from "./findings-hand-over.ts";
import { GroupPump } from "./group-pump.ts";
import type { Topology } from "./topology.ts";

/** An analyzer that is not placed by lease may always read. */
const always = () => true;

const ANALYZER_MODULE = new URL("../detection/analyzer.actor.ts", import.meta.url);

export interface AnalyzersOptions {
  system: ActorSystem;
  backend: StreamBackend;
  topology: Topology;
  /** This process's consumer name in every group. */
  consumer: string;
  claimIdleMs: number;
  maxDeliveries: number;
  /** Per analyzer: thresholds and detector options. */
  config?: Partial<Record<AnalyzerName, Record<string, unknown>>>;
  /**
   * Mailbox capacity of each analyzer actor (and so the most entries each pump holds, handled entries
   * waiting for their checkpoint included). @defaultValue {@link ANALYZER_CAPACITY}, or twice `checkpointEvery` if more
   */
  capacity?: number;
  /** Called with every alert an analyzer emits (again for an entry handled again after a crash). */
  onAlert?: (alert: Alert) => void;
  /** Extra pump options (tests shorten sweeps and blocks). */
  pump?: Partial<PumpOptions<AnalyzerMessage, unknown>>;
  /**
   * Durable analyzer state: every analyzer's tables are checkpointed next to the tx stream (in its hash
   * slot), with the acks of the entries each checkpoint covers, and restored on every start, so a
   * restarted analyzer continues where it crashed. `null`: the state lives in the workers only.
   * @defaultValue {@link ANALYZER_STATE_DEFAULTS}
   */
  state?: AnalyzerStateOptions | null;
  /**
   * Share the analyzers with the other analyze processes of this topology, by lease: each process runs its
   * share of them (one process alone runs all three), and takes over a dead one's at once (its connections
   * closed), a frozen one's once their leases expire. With durable state a moved analyzer restores its
   * checkpoint; without (`state: null`) it starts from nothing, as a restarted one does, and only its
   * pending entries move. `null`: every analyzer runs here. @defaultValue null
   */
  placement?: AnalyzerPlacement | null;
  /**
   * With `placement` or `mints`: called when this process takes an analyzer or a mint partition over (its
   * state restored, its pumps started) or gives one up, so that an operator's log tells where each ran when.
   */
  onMove?: (move: AnalyzerMove) => void;
  /**
   * With `placement` or `mints`: called when this process finds other analyze processes gone (their
   * connections closed: they died, rather than froze), whose analyzers or mint partitions then move at once.
   */
  onDeparted?: (departure: AnalyzerDeparture) => void;
  /**
   * The tx stream keyed by mint (`topology.mints`), for the mint analyzer: the analyze processes share its
   * partitions by lease (`placement`'s, else {@link MINT_PARTITION_LEASE_MS}), and each partition this
   * process owns is analyzed by an actor of its own, its state checkpointed next to the partition; the
   * wallet analyzer then runs as the wallet stage (wallet-stage.ts) and no pattern analyzer runs: the
   * topology must be keyed (`topology(prefix, { keyed: true })`). `null`: no mint analyzer, the mint-keyed
   * detectors run in the wallet and pattern analyzers. @defaultValue null
   */
  mints?: PartitionedStream | null;
  /**
   * With `mints`: the worker threads that the partitions this process owns share (a `ThreadPool`): each
   * partition keeps an actor of its own (its own mailbox, state and checkpoints, so it moves alone), but
   * not a thread of its own (a heap, a JIT and an event loop each; 8 partitions on 2 cores ran 10 threads).
   * @defaultValue the machine's cores
   */
  partitionThreads?: number;
}

/** The lease of a mint partition when the analyzers are not placed (one process owns them all). */
export const MINT_PARTITION_LEASE_MS = 10_000;

/** An analyzer this process took over (`reason` null) or gave up (why), under the lease's generation. */
export interface AnalyzerMove {
  actor: string;
  generation: number;
  reason: RevokeReason | null;
  /**
   * A placed analyzer whose lease was lost is kept paused (`reason` "lost") until this process knows whether
   * another held the lease since: taken again before anyone did, it goes on with its actor and state as
   * they were (`reason` null), else it is given up (`reason` "lost", `kept` false).
   */
  kept: boolean;
}

/** Analyze processes found gone, and what of theirs moves: the placed analyzers or the mint partitions. */
export interface AnalyzerDeparture {
  processes: readonly string[];
  units: "analyzers" | "mint partitions";
}

export interface AnalyzerPlacement {
  /**
   * An analyzer's lease: a process that stops renewing (dead, frozen) loses its analyzers this long after
   * its last renewal, renewed every quarter of it.
   */
  leaseMs: number;
}

export interface AnalyzerStateOptions {
  /** Ask for a checkpoint once this many handled entries wait for one. */
  checkpointEvery: number;
  /** Ask for a checkpoint at most this long (ms) after the first handled entry that waits for one. */
  checkpointIntervalMs: number;
}

/**
 * Checkpoints of 8,000 entries (or one a second): against 1,000, the three analyzers write ~5.8 keys per
 * event instead of ~8 (a hot wallet or mint is written once per checkpoint), and the durable Redis scanner
 * spent ~12% less CPU in all (bench/analyzer-checkpoints.ts, scanner variants under /usr/bin/time). The
 * pause stays small because the worker writes a checkpoint in slices (checkpoint-taker.ts); a crash
 * replays at most a checkpoint's worth of entries more.
 */
export const ANALYZER_STATE_DEFAULTS: AnalyzerStateOptions = {
  checkpointEvery: 8000,
  checkpointIntervalMs: STATE_DEFAULTS.checkpointIntervalMs,
};

/**
 * At least twice a checkpoint's entries: handled entries keep their credits until their checkpoint is
 * durable (the runtime asks for one by half the capacity at the latest), and the other half keeps the worker
 * fed meanwhile.
 */
export const ANALYZER_CAPACITY = 16_384;

/** An analyzer actor's mailbox: `options.capacity`, else {@link ANALYZER_CAPACITY} or twice a checkpoint. */
function analyzerCapacity(options: AnalyzersOptions, state: AnalyzerStateOptions | null): number {
  return options.capacity ?? Math.max(ANALYZER_CAPACITY, 2 * (state?.checkpointEvery ?? 0));
}

/**
 * An analyzer running here: `stop` stops its pumps and actor (`moved`: it runs elsewhere from now, so it is
 * no longer listed here); `pause` / `resume` hold its actor's mailbox while its lease lapsed (lapsed-units.ts).
 */
type AnalyzerHere = KeptUnit;

export interface RunningAnalyzers {
  /**
   * The analyzer actors running in this process now (with `placement`, its share), by name, in the
   * topology's order (the mint partitions last, by number), however they were taken.
   */
  readonly refs: ReadonlyMap<string, ActorRef<AnalyzerMessage>>;
  /** Their pumps, by group (a mint partition's by its actor's name: they share one group). */
  readonly pumps: ReadonlyMap<string, Pump<AnalyzerMessage, unknown>>;
  /** Every analyzer group, whichever pump serves it now (none while another process runs its analyzer). */
  readonly groups: readonly GroupPump[];
  /** With `placement`: who runs which analyzer (the analyzers are its units, in topology order). */
  readonly placement: PartitionOwnership | null;
  /** With `mints`: the mint analyzer's partitions, which this process owns, their pumps. */
  readonly mintPartitions: PartitionedConsumer<AnalyzerMessage, unknown> | null;
  /**
   * The same as the control API watches them: each analyzer's groups and which process runs it (with
   * `placement`), the mint analyzer's partitions and their owners (with `mints`).
   */
  readonly placed: readonly WatchedPartitions[];
  /** Alerts written by this process, by detector (a redelivered entry may count twice). */
  readonly alertCounts: ReadonlyMap<DetectorName, number>;
  /**
   * Every analyzer group, each before those its actor's outputs feed (the tx groups, the findings group, the
   * mint partitions' group): the order `untilDrained` needs. A group consumed here comes as its pump (its
   * events wake the wait), one consumed by another analyze process as its names only.
   */
  upstreamFirst(): DrainingPump[];
  stop(): Promise<void>;
}

export async function startAnalyzers(options: AnalyzersOptions): Promise<RunningAnalyzers> {
  const { system, backend, topology } = options;
  if (!topology.analyzers.some((a) => a.actor === topology.findingsActor))
    throw new InvalidOptionError(
      "topology.findingsActor",
      `no analyzer actor is named ${topology.findingsActor}`,
    );
  const keyed = Boolean(options.mints);
  if (keyed === topology.analyzers.some((a) => a.analyzer === "pattern"))
    throw new InvalidOptionError(
      "topology",
      keyed
        ? "with mint partitions the topology is keyed (topology(prefix, { keyed: true })): no pattern analyzer"
        : "without mint partitions the topology has a pattern analyzer (topology(prefix))",
    );
  // The producers of findings that run (keyed, the wallet stage raises P4's too): the sybil analyzer's
  // entries wait for their marks.
  const producers = SYBIL_FINDING_PRODUCERS.filter((p) => topology.analyzers.some((a) => a.analyzer === p));
  const refs = new Map<string, ActorRef<AnalyzerMessage>>();
  const pumps = new Map<string, Pump<AnalyzerMessage, unknown>>();
  const alertCounts = new Map<DetectorName, number>();
  const stateOptions = options.state === undefined ? ANALYZER_STATE_DEFAULTS : options.state;
  const placed = Boolean(options.placement);
  // Actors spawned in this process before: their state has a record in the store, unless the store lost
  // it (a Redis restarted without persistence), which a placed analyzer taken again must report as a
  // restarted one does, rather than start from nothing as if new.
  const spawnedHere = new Set<string>();
  // One store for every analyzer: each actor's state under its own scope, all in the tx stream's slot.
  const stateStore = stateOptions ? backend.stateStore({ anchor: topology.tx }) : null;
  // Durable only: the sybil actor's checkpoint covers what was handed over.
  const handOverFinding: HandOverFinding | null = stateStore
    ? findingsHandOver(topology.findings, () => pumps.get(topology.findingsGroup))
    : null;
  /** The outputs of one analyzer's results, which reads while `mayRead` says so. */
  const outputsFrom =
    (mayRead: () => boolean) =>
    (result: unknown): Outputs => {
      const outputs = defaultOutputsOf(result);
      for (const output of outputs) {
        handOverFinding?.(output, mayRead);
        if (output.stream !== topology.alerts) continue;
        const alert = output.payload as Alert;
        alertCounts.set(alert.detector, (alertCounts.get(alert.detector) ?? 0) + 1);
        options.onAlert?.(alert);
      }
      return outputs;
    };
  const common = {
    consumer: options.consumer,
    stateStore,
    claimIdleMs: options.claimIdleMs,
    maxDeliveries: options.maxDeliveries,
    ...options.pump,
  };
  const groups = new Map<string, GroupPump>();
  for (const { group } of topology.analyzers)
    groups.set(group, new GroupPump(topology.tx, group, topology.txDeadLetters));
  groups.set(
    topology.findingsGroup,
    new GroupPump(topology.findings, topology.findingsGroup, topology.findingDeadLetters),
  );
  /**
   * Spawns analyzer `index` (restoring its state) and starts its pumps, which read only while `mayRead`
   * says so (a lease held), under `readLease` (the lease, checked with each read); returns how to stop them.
   */
  const start = async (
    index: number,
    mayRead: () => boolean = always,
    readLease: (() => ReadLease | undefined) | null = null,
  ): Promise<AnalyzerHere> => {
    const { analyzer, actor, group } = topology.analyzers[index]!;
    const init: AnalyzerInit = {
      analyzer,
      alerts: topology.alerts,
      // Keyed, the mint-keyed detectors run in the mint analyzer's partitions, fed by the wallet analyzer
      // (keyed-feed.ts), which runs the pattern analyzer's other detectors too (wallet-stage.ts).
      config:
        options.mints && analyzer === MINT_FORWARDER
          ? (walletStageConfig(options.config?.wallet, options.config?.pattern) as Record<string, unknown>)
          : options.config?.[analyzer],
      ...(options.mints &&
        analyzer === MINT_FORWARDER && {
          keyed: { stream: options.mints.name, partitions: options.mints.partitions },
        }),
      ...(producers.includes(analyzer) && {
        feed: { stream: topology.findings, detectors: [...SYBIL_FINDING_DETECTORS] },
      }),
      ...(actor === topology.findingsActor && {
        aligned: { producers: stateStore ? producers : [] },
      }),
    };
    // One instance: an analyzer's per-wallet and per-mint state needs the whole stream (wallet ages, funders).
    const ref = await system.spawn<AnalyzerMessage, unknown>(ANALYZER_MODULE, {
      name: actor,
      capacity: analyzerCapacity(options, stateOptions),
      maxDeliveries: options.maxDeliveries,
      init,
      ...(stateStore &&
        stateOptions && {
          state: { store: stateStore, ...stateOptions, expectRecord: spawnedHere.has(actor) },
        }),
    });
    spawnedHere.add(actor);
    const outputsOf = outputsFrom(mayRead);
    const own = new Map<string, Pump<AnalyzerMessage, unknown>>();
    own.set(
      group,
      new Pump(backend, ref, {
        ...common,
        mayRead,
        readLease,
        outputsOf,
        stream: topology.tx,
        group,
        // Ingest's entries still encoded: the analyzer actor parses them in its worker (tx-entry.ts).
        codec: analyzerCodec,
        deadLetterStream: topology.txDeadLetters,
      }),
    );
    if (actor === topology.findingsActor)
      own.set(
        topology.findingsGroup,
        new Pump(backend, ref, {
          ...common,
          mayRead,
          readLease,
          outputsOf,
          stream: topology.findings,
          group: topology.findingsGroup,
          toMessage: (entry) => entry.payload as FeedRecord,
          deadLetterStream: topology.findingDeadLetters,
        }),
      );
    keepInOrder(refs, topology, actor, ref);
    for (const [name, pump] of own) {
      pumps.set(name, pump);
      groups.get(name)?.serve(pump);
    }
    const stop = async (moved: boolean): Promise<void> => {
      const pumpsStopped = Promise.all([...own.values()].map((pump) => pump.stop()));
      // Alone, the actor works through its mailbox before it stops. Placed by lease, it hands back what it
      // has not started (whoever runs it next restores its checkpoint and handles the rest): a move waits
      // for the message in hand and one checkpoint, not for a mailbox of up to 16,384 entries.
      if (!placed) await pumpsStopped;
      await ref.stop({ deadlineMs: 5000, handBack: placed });
      await pumpsStopped;
      // Stopped with the process, it stays listed (the progress line names what was drained last).
      if (!moved) return;
      refs.delete(actor);
      for (const name of own.keys()) {
        pumps.delete(name);
        groups.get(name)?.serve(null);
      }
    };
    try {
      // A durable pump adopts by itself; a plain one would claim the previous holder's entries only once
      // idle for claimIdleMs.
      if (placed && !stateStore)
        for (const pump of own.values()) {
          const { stream, group } = pump.options;
          await backend.ensureGroup(stream, group);
          await backend.adoptPending(stream, group, options.consumer);
        }
      for (const pump of own.values()) await pump.start();
    } catch (error) {
      // Nothing left behind (a placement tries the analyzer again, and its actor's name must be free).
      await stop(true);
      throw error;
    }
    return { stop, ...holdWhileLapsed(system, ref) };
  };
  const running = new Map<number, AnalyzerHere>();
  const placing = placed ? placeAnalyzers(options, start, running) : null;
  const placement = placing?.ownership ?? null;
  const mintPartitions = options.mints
    ? partitionMints(options, options.mints, {
        refs,
        pumps,
        outputsFrom,
        common,
        state: stateOptions,
        spawnedHere,
      })
    : null;
  // Started once the analyzers given to this process at its first round run (one alone: all three).
  if (placement) await placement.start().then(() => placement.settled());
  else for (const index of topology.analyzers.keys()) running.set(index, await start(index));
  if (mintPartitions) await mintPartitions.start().then(() => mintPartitions.ownership.settled());
  const watched: WatchedPartitions[] = [];
  if (placement)
    watched.push({
      ownership: placement,
      // Their pumps are watched as `groups`.
      pump: () => undefined,
      groupsOf: (index) => {
        const { actor, group } = topology.analyzers[index]!;
        const reads = [{ stream: topology.tx, group }];
        if (actor === topology.findingsActor)
          reads.push({ stream: topology.findings, group: topology.findingsGroup });
        return reads;
      },
    });
  if (mintPartitions)
    watched.push({ ownership: mintPartitions.ownership, pump: (p) => mintPartitions.pump(p) });
  return {
    refs,
    pumps,
    groups: [...groups.values()],
    placement,
    mintPartitions,
    placed: watched,
    alertCounts,
    upstreamFirst: () => {
      const reads = [
        ...topology.analyzers.map(({ group }) => ({ name: group, stream: topology.tx, group })),
        { name: topology.findingsGroup, stream: topology.findings, group: topology.findingsGroup },
        ...(options.mints?.keys ?? []).map((stream, partition) => ({
          name: mintPartitionActor(topology, partition),
          stream,
          group: topology.mints.group,
        })),
      ];
      return reads.map(({ name, stream, group }) => pumps.get(name) ?? { options: { stream, group } });
    },
    async stop() {
      await Promise.all([
        placing
          ? placing.ownership.stop().then(() => placing.lapsed.stopAll())
          : Promise.all([...running.values()].map((analyzer) => analyzer.stop(false))),
        mintPartitions?.stop(),
      ]);
    },
  };
}

/**
 * Adds an analyzer actor to `refs` in the topology's order (the analyzers, then the mint partitions by
 * number), whatever order they were taken in: with placement, spawns finish in any order and a moved
 * analyzer comes back last, and the progress line lists them in this map's order.
 */
function keepInOrder(
  refs: Map<string, ActorRef<AnalyzerMessage>>,
  topology: Topology,
  name: string,
  ref: ActorRef<AnalyzerMessage>,
): void {
  refs.set(name, ref);
  const rank = (actor: string) => {
    const at = topology.analyzers.findIndex((a) => a.actor === actor);
    return at !== -1 ? at : topology.analyzers.length + (mintPartitionOf(topology, actor) ?? 0);
  };
  const sorted = [...refs].sort(([a], [b]) => rank(a) - rank(b));
  refs.clear();
  for (const [actor, each] of sorted) refs.set(actor, each);
}

/** The actor (and, in `pumps`, the pump) of the mint analyzer's partition `partition`. */
function mintPartitionActor(topology: Topology, partition: number): string {
  return `${topology.mints.actor}-p${partition}`;
}

/** The partition whose actor is `actor` ({@link mintPartitionActor}), or null. */
function mintPartitionOf(topology: Topology, actor: string): number | null {
  const prefix = `${topology.mints.actor}-p`;
  return actor.startsWith(prefix) ? Number(actor.slice(prefix.length)) : null;
}

/** What the mint partitions share with the other analyzers of this process. */
interface Shared {
  refs: Map<string, ActorRef<AnalyzerMessage>>;
  pumps: Map<string, Pump<AnalyzerMessage, unknown>>;
  outputsFrom: (mayRead: () => boolean) => (result: unknown) => Outputs;
  common: Partial<PumpOptions<AnalyzerMessage, unknown>>;
  state: AnalyzerStateOptions | null;
  spawnedHere: Set<string>;
}

/**
 * The mint analyzer's partitions as a consumer group shared with the other analyze processes: each
 * partition this process is given gets an actor of its own (`<actor>-p<i>`, its state restored from the
 * checkpoint next to the partition, which fences the previous owner) and a pump, on a thread shared with
 * the others (`partitionThreads`); one given up or lost is stopped with `handBack`, as a placed analyzer is.
 */
function partitionMints(
  options: AnalyzersOptions,
  mints: PartitionedStream,
  shared: Shared,
): PartitionedConsumer<AnalyzerMessage, unknown> {
  const { system, backend, topology } = options;
  const { group } = topology.mints;
  const leaseMs = options.placement?.leaseMs ?? MINT_PARTITION_LEASE_MS;
  const stateOptions = shared.state;
  const actorOf = (partition: number) => mintPartitionActor(topology, partition);
  const threads = new ThreadPool({ size: options.partitionThreads ?? navigator.hardwareConcurrency });
  const consumer: PartitionedConsumer<AnalyzerMessage, unknown> = new PartitionedConsumer(
    backend,
    mints,
    async (partition, key) => {
      const name = actorOf(partition);
      const store = stateOptions ? backend.stateStore({ anchor: key }) : null;
      const init: AnalyzerInit = { analyzer: "mint", alerts: topology.alerts, config: options.config?.mint };
      const ref = await system.spawn<AnalyzerMessage, unknown>(ANALYZER_MODULE, {
        name,
        capacity: analyzerCapacity(options, stateOptions),
        maxDeliveries: options.maxDeliveries,
        init,
        threads,
        ...(store &&
          stateOptions && { state: { store, ...stateOptions, expectRecord: shared.spawnedHere.has(name) } }),
      });
      shared.spawnedHere.add(name);
      keepInOrder(shared.refs, topology, name, ref);
      const mayRead = () => consumer.ownership.holds(partition);
      return {
        target: ref,
        options: {
          ...shared.common,
          stateStore: store,
          outputsOf: shared.outputsFrom(mayRead),
          codec: analyzerCodec,
          deadLetterStream: `${key}:dlq`,
        },
        release: async () => {
          await ref.stop({ deadlineMs: 5000, handBack: true });
          shared.refs.delete(name);
        },
        // A lost lease holds the partition's mailbox until this process knows whether anyone else held it.
        ...holdWhileLapsed(system, ref),
      };
    },
    { group, member: options.consumer, leaseMs, renewMs: Math.floor(leaseMs / 4) },
  );
  consumer.on("started", ({ partition, pump }) => shared.pumps.set(actorOf(partition), pump));
  consumer.on("stopped", ({ partition }) => shared.pumps.delete(actorOf(partition)));
  // Logged as the analyzers' moves are: which process ran which partition when. A partition kept paused
  // after a lost lease is reported by the consumer: paused, then taken again or stopped.
  const moves = moveLog(options.onMove, actorOf);
  const paused = new Set<number>();
  const resumed = new Set<number>();
  consumer.on("paused", ({ partition }) => {
    paused.add(partition);
    moves.paused(partition);
  });
  consumer.on("resumed", ({ partition, generation }) => {
    paused.delete(partition);
    resumed.add(partition);
    moves.kept(partition, generation);
  });
  consumer.on("stopped", ({ partition }) => {
    if (paused.delete(partition)) moves.given(partition, "lost");
  });
  consumer.ownership.on("assigned", ({ partition, generation }) => {
    if (!resumed.delete(partition)) moves.taken(partition, generation);
  });
  consumer.ownership.on("revoked", ({ partition, reason }) => {
    if (!paused.has(partition)) moves.given(partition, reason);
  });
  consumer.ownership.on("departed", ({ members }) =>
    options.onDeparted?.({ processes: members, units: "mint partitions" }),
  );
  return consumer;
}

/**
 * The mint partitions' groups as Ingest's producer watches them (`ProducerOptions.downstream`): the wallet
 * analyzer forwards to them what Ingest writes, so their lag slows Ingest as the tx groups' does.
 */
export function mintsDownstream(
  topology: Topology,
  mints: PartitionedStream | null,
): Array<{ stream: string; group: string }> {
  return mints ? mints.keys.map((stream) => ({ stream, group: topology.mints.group })) : [];
}

/**
 * The analyzers as units of a `PartitionOwnership`: one key per analyzer, named after its actor, inside the
 * prefix's hash tag when it has one. On a cluster the prefix must have one, so every unit's lease shares
 * the tx and findings streams' slot, and Redis checks the lease with each read (`ReadOptions.lease`).
 */
export function analyzerUnits(topology: Topology): Partitions {
  const name = topology.analyzerUnits;
  return {
    name,
    partitions: topology.analyzers.length,
    keys: topology.analyzers.map(({ actor }) => `${name}:${actor}`),
  };
}

/** The pause a lapsed lease puts on its unit's actor, beside any an operator put there (`system.pause`). */
const LEASE_HOLD = "lease";

/**
 * Holds an analyzer actor's mailbox while its lease is lost (`pause`) and lets it go when the unit is kept
 * (`resume`). The hold is its own: an operator's pause, put before or during the lapse, stays; an operator's
 * resume during the lapse releases only the operator's pause.
 */
function holdWhileLapsed(
  system: ActorSystem,
  ref: ActorRef<AnalyzerMessage>,
): Pick<KeptUnit, "pause" | "resume"> {
  return {
    pause: () => system.pause(ref.name, LEASE_HOLD),
    resume: () => system.resume(ref.name, LEASE_HOLD),
  };
}

/**
 * Reports each unit (an analyzer, a mint partition) this process takes over, gives up, keeps paused or takes
 * again to `onMove`, by its actor's name and the generation of the lease it ran under.
 */
function moveLog(onMove: ((move: AnalyzerMove) => void) | undefined, actorOf: (unit: number) => string) {
  const generations = new Map<number, number>();
  const report = (unit: number, generation: number, reason: RevokeReason | null, kept: boolean) =>
    onMove?.({ actor: actorOf(unit), generation, reason, kept });
  return {
    /** The generation `unit` runs (or last ran) under here. */
    generation: (unit: number) => generations.get(unit) ?? 0,
    taken(unit: number, generation: number) {
      generations.set(unit, generation);
      report(unit, generation, null, false);
    },
    kept(unit: number, generation: number) {
      generations.set(unit, generation);
      report(unit, generation, null, true);
    },
    paused(unit: number) {
      report(unit, generations.get(unit) ?? 0, "lost", true);
    },
    given(unit: number, reason: RevokeReason) {
      report(unit, generations.get(unit) ?? 0, reason, false);
    },
  };
}

/**
 * The analyzers as units of a lease-based ownership among the analyze processes of `options.topology`
 * (their consumer names are the members): `start` runs on each analyzer this process is given, the stop it
 * returned on each it gives up or loses.
 */
function placeAnalyzers(
  options: AnalyzersOptions,
  start: (
    index: number,
    mayRead: () => boolean,
    readLease: () => ReadLease | undefined,
  ) => Promise<AnalyzerHere>,
  running: Map<number, AnalyzerHere>,
): { ownership: PartitionOwnership; lapsed: LapsedUnits<AnalyzerHere> } {
  const { topology, placement } = options;
  const leaseMs = (placement as AnalyzerPlacement).leaseMs;
  const units = analyzerUnits(topology);
  const moves = moveLog(options.onMove, (index) => topology.analyzers[index]!.actor);
  const lapsed = new LapsedUnits<AnalyzerHere>((index) => moves.given(index, "lost"));
  const ownership: PartitionOwnership = new PartitionOwnership(
    options.backend,
    units,
    {
      // A process frozen past its lease reads nothing once it thaws, before its next round gives it up.
      assigned: async (index, _key, generation) => {
        const kept = await lapsed.takeAgain(index, generation);
        if (kept) {
          running.set(index, kept);
          moves.kept(index, generation);
          return;
        }
        const holds = () => ownership.holds(index);
        running.set(index, await start(index, holds, () => ownership.lease(index)));
        moves.taken(index, generation);
      },
      revoked: async (index, _key, reason) => {
        const analyzer = running.get(index);
        running.delete(index);
        if (!analyzer) return;
        // Lost: its pumps read nothing from now (`holds`), and whether anyone else held the lease since
        // shows when this process takes it again, or at the end of a round begun after that did not.
        if (reason === "lost") {
          lapsed.keep(index, moves.generation(index), analyzer);
          moves.paused(index);
          return;
        }
        await analyzer.stop(reason !== "stop");
        moves.given(index, reason);
      },
    },
    { group: "analyze", member: options.consumer, leaseMs, renewMs: Math.floor(leaseMs / 4) },
  );
  ownership.on("round", ({ owned }) => lapsed.settle(owned));
  ownership.on("departed", ({ members }) => options.onDeparted?.({ processes: members, units: "analyzers" }));
  return { ownership, lapsed };
}

/**
 * Starts the three analyzer actors and connects each to the tx stream through its own consumer group;
 * the wallet and pattern actors also write their findings and progress marks to the findings stream,
 * which the sybil actor reads (one more group), as DETECTORS.md wants: replayable, never a shared read
 * between actors. With durable state the sybil actor applies those findings in step with its tx entries,
 * so its result does not depend on when they arrive (src/detection/aligned-findings.ts).
 */
import type { Alert, AnalyzerName, DetectorName } from "../detection/alert.ts";
import type { AnalyzerInit, AnalyzerMessage } from "../detection/analyzer.actor.ts";
import type { FeedRecord } from "../detection/findings-feed.ts";
import { SYBIL_FINDING_DETECTORS, SYBIL_FINDING_PRODUCERS } from "../detection/sybil-analyzer.ts";
import { analyzerCodec } from "../detection/tx-entry.ts";
import { InvalidOptionError } from "../errors.ts";
import type { ActorRef } from "../runtime/actor-ref.ts";
import { STATE_DEFAULTS } from "../runtime/spawn-options.ts";
import type { ActorSystem } from "../runtime/system.ts";
import type { StreamBackend } from "../streams/backend.ts";
import { defaultOutputsOf, type Outputs } from "../streams/outputs.ts";
import { Pump } from "../streams/pump.ts";
import type { PumpOptions } from "../streams/pump-options.ts";
import type { Topology } from "./topology.ts";

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

export interface RunningAnalyzers {
  readonly refs: ReadonlyMap<string, ActorRef<AnalyzerMessage>>;
  readonly pumps: ReadonlyMap<string, Pump<AnalyzerMessage, unknown>>;
  /** Alerts written by this process, by detector (a redelivered entry may count twice). */
  readonly alertCounts: ReadonlyMap<DetectorName, number>;
  stop(): Promise<void>;
}

export async function startAnalyzers(options: AnalyzersOptions): Promise<RunningAnalyzers> {
  const { system, backend, topology } = options;
  if (!topology.analyzers.some((a) => a.actor === topology.findingsActor))
    throw new InvalidOptionError(
      "topology.findingsActor",
      `no analyzer actor is named ${topology.findingsActor}`,
    );
  const refs = new Map<string, ActorRef<AnalyzerMessage>>();
  const pumps = new Map<string, Pump<AnalyzerMessage, unknown>>();
  const alertCounts = new Map<DetectorName, number>();
  const outputsOf = (result: unknown): Outputs => {
    const outputs = defaultOutputsOf(result);
    for (const output of outputs) {
      if (output.stream !== topology.alerts) continue;
      const alert = output.payload as Alert;
      alertCounts.set(alert.detector, (alertCounts.get(alert.detector) ?? 0) + 1);
      options.onAlert?.(alert);
    }
    return outputs;
  };
  const stateOptions = options.state === undefined ? ANALYZER_STATE_DEFAULTS : options.state;
  // One store for every analyzer: each actor's state under its own scope, all in the tx stream's slot.
  const stateStore = stateOptions ? backend.stateStore({ anchor: topology.tx }) : null;
  const common = {
    consumer: options.consumer,
    stateStore,
    claimIdleMs: options.claimIdleMs,
    maxDeliveries: options.maxDeliveries,
    outputsOf,
    ...options.pump,
  };
  for (const { analyzer, actor, group } of topology.analyzers) {
    const init: AnalyzerInit = {
      analyzer,
      alerts: topology.alerts,
      config: options.config?.[analyzer],
      ...(SYBIL_FINDING_PRODUCERS.includes(analyzer) && {
        feed: { stream: topology.findings, detectors: [...SYBIL_FINDING_DETECTORS] },
      }),
      ...(actor === topology.findingsActor && {
        aligned: { producers: stateStore ? [...SYBIL_FINDING_PRODUCERS] : [] },
      }),
    };
    // One instance: an analyzer's per-wallet and per-mint state needs the whole stream (wallet ages, funders).
    const ref = await system.spawn<AnalyzerMessage, unknown>(ANALYZER_MODULE, {
      name: actor,
      capacity: options.capacity ?? Math.max(ANALYZER_CAPACITY, 2 * (stateOptions?.checkpointEvery ?? 0)),
      maxDeliveries: options.maxDeliveries,
      init,
      ...(stateStore && stateOptions && { state: { store: stateStore, ...stateOptions } }),
    });
    refs.set(actor, ref);
    pumps.set(
      group,
      new Pump(backend, ref, {
        ...common,
        stream: topology.tx,
        group,
        // Ingest's entries still encoded: the analyzer actor parses them in its worker (tx-entry.ts).
        codec: analyzerCodec,
        deadLetterStream: topology.txDeadLetters,
      }),
    );
  }
  pumps.set(
    topology.findingsGroup,
    new Pump(backend, refs.get(topology.findingsActor) as ActorRef<AnalyzerMessage>, {
      ...common,
      stream: topology.findings,
      group: topology.findingsGroup,
      toMessage: (entry) => entry.payload as FeedRecord,
      deadLetterStream: topology.findingDeadLetters,
    }),
  );
  for (const pump of pumps.values()) await pump.start();
  return {
    refs,
    pumps,
    alertCounts,
    async stop() {
      await Promise.all([...pumps.values()].map((pump) => pump.stop()));
      await Promise.all([...refs.values()].map((ref) => ref.stop({ deadlineMs: 5000 })));
    },
  };
}

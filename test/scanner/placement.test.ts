/**
 * The analyzers placed by lease (analyzers.ts, `placement`), in one process on the embedded backend: an
 * analyzer whose start fails half-way (its actor spawned, a pump refused by the backend) leaves nothing
 * behind, so the next round starts it again; before, its actor stayed registered and every later attempt
 * failed on the name. Producers whose leases another process took over while their mailboxes held a backlog
 * pause, then stop handing back what they had not started, and the alerts are those of the inline order all
 * the same once they are taken again.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Alert } from "../../src/detection/alert.ts";
import type { TxEntry } from "../../src/detection/analyzer.ts";
import { createSystem } from "../../src/index.ts";
import { generate } from "../../src/ingest/generator.ts";
import { TxStreamWriter } from "../../src/ingest/stream-writer.ts";
import {
  type AnalyzersOptions,
  analyzerUnits,
  mintsDownstream,
  type RunningAnalyzers,
  startAnalyzers,
} from "../../src/scanner/analyzers.ts";
import { type Topology, topology } from "../../src/scanner/topology.ts";
import { untilDrained } from "../../src/streams/drained.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { keySlot } from "../../src/streams/key-slot.ts";
import { leaseKey } from "../../src/streams/leases.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { PartitionedStream } from "../../src/streams/partitions.ts";
import { PUMP_DEFAULTS } from "../../src/streams/pump-options.ts";
import { until } from "../streams/test-target.ts";
import { inlineOrderAlerts } from "../support/inline-order.ts";
import { LeaseBackend } from "../support/stalling-leases.ts";

const events = [...generate({ seed: 3, durationMs: 60 * 60_000, scale: 0.1 }).events()];
const tick: TxEntry = { kind: "tick", ts: (events.at(-1) as { ts: number }).ts + 60_000 };
const referenceAlerts = inlineOrderAlerts([...events, tick]);
const reference = referenceAlerts.map((alert) => alert.alertId).sort();

/** The embedded backend, refusing the first `failures` group creations of one group (a Redis blip). */
class RefusingBackend extends MemoryStreamBackend {
  constructor(
    readonly group: string,
    public failures: number,
  ) {
    super();
  }

  override async ensureGroup(stream: string, group: string, startId?: string): Promise<boolean> {
    if (group === this.group && this.failures > 0) {
      this.failures--;
      throw new Error(`refused: ${group}`);
    }
    return super.ensureGroup(stream, group, startId);
  }
}

let system = createSystem();
let running: RunningAnalyzers | undefined;
beforeEach(() => {
  system = createSystem();
});
afterEach(async () => {
  await running?.stop();
  await system.stop();
});

/** The analyzers of `names` placed by lease in one process ("a"), with short reads and no sweeps. */
function startPlaced(
  backend: MemoryStreamBackend,
  names: Topology,
  options: Pick<AnalyzersOptions, "placement" | "onMove" | "mints" | "partitionThreads" | "state">,
): Promise<RunningAnalyzers> {
  return startAnalyzers({
    system,
    backend,
    topology: names,
    consumer: "a",
    claimIdleMs: 30_000,
    maxDeliveries: 5,
    pump: { sweepIntervalMs: 0, blockMs: 50 },
    ...options,
  });
}

test("an analyzer whose pump failed to start is started again at the next round, under its name", async () => {
  const names = topology(`t${crypto.randomUUID()}:`);
  const backend = new RefusingBackend("pattern-recognition", 1);
  running = await startPlaced(backend, names, { placement: { leaseMs: 800 } });
  const placement = running.placement!;
  // The failed attempt released the lease; the next round takes it again and this time it starts.
  const pattern = names.analyzers.findIndex((a) => a.actor === "pattern-recognition");
  let started = false;
  await until(
    (check) =>
      placement.on("assigned", ({ partition }) => {
        if (partition === pattern) started = true;
        check();
      }),
    () => started,
  );
  expect(backend.failures).toBe(0);
  expect([...running.refs.keys()].sort()).toEqual([
    "pattern-recognition",
    "sybil-detection",
    "wallet-analyzer",
  ]);
  expect(running.pumps.has("pattern-recognition")).toBe(true);
  expect(system.actors.filter((ref) => ref.name === "pattern-recognition").length).toBe(1);
}, 15_000);

test("producers whose leases another process took over while their mailboxes held a backlog pause, then stop handing back what they had not started; taken again, the alerts are the same", async () => {
  const names = topology(`t${crypto.randomUUID()}:`);
  const backend = new LeaseBackend();
  const producers = names.analyzers.filter((a) => a.actor !== names.findingsActor);
  const backlogs = new Map<string, Promise<number>>();
  const lost = new Set<string>();
  const back = new Set<string>();
  const producersLost = Promise.withResolvers<void>();
  const producersBack = Promise.withResolvers<void>();
  running = await startPlaced(backend, names, {
    // Long leases: the only loss is the test's.
    placement: { leaseMs: 60_000 },
    onMove: ({ actor, reason, kept }) => {
      const producer = producers.find((a) => a.actor === actor);
      if (!producer) return;
      if (reason === "lost" && kept) {
        // What its group holds read but unhandled when the lease was lost: its mailbox's backlog. How much
        // of it the worker still handles before the stop that follows hands the rest back depends on the
        // box's speed (a faster wallet book's prune emptied it in half the runs), so it is counted here.
        backlogs.set(
          actor,
          backend.groupInfo(names.tx, producer.group).then((info) => info?.pending ?? 0),
        );
      } else if (reason === "lost") {
        lost.add(actor);
        if (lost.size === producers.length) producersLost.resolve();
      } else if (lost.has(actor) && !kept) {
        back.add(actor);
        if (back.size === producers.length) producersBack.resolve();
      }
    },
  });
  const placement = running.placement!;
  const writer = new TxStreamWriter(backend, names);
  await writer.send(events);
  await writer.tick(tick.ts);
  const releases: Array<() => Promise<void>> = [];
  for (const { actor } of producers) {
    const unit = names.analyzers.findIndex((a) => a.actor === actor);
    releases.push(await backend.takeOver(leaseKey(placement.stream.keys[unit]!, "analyze")));
  }
  await placement.rebalance();
  await producersLost.promise;
  for (const release of releases) await release();
  // More than the pump's own waiting entries (one read's worth at most): the actors' mailboxes too.
  expect(backlogs.size).toBe(producers.length);
  for (const pending of backlogs.values()) expect(await pending).toBeGreaterThan(PUMP_DEFAULTS.maxBatch);
  // The next acquisitions restore the checkpoints the stops wrote and handle the rest.
  await producersBack.promise;
  await untilDrained(backend, running.pumps.values());
  const written = await backend.range(names.alerts, { count: 100_000 });
  expect(written.map((entry) => (defaultCodec.decode(entry.fields!) as Alert).alertId).sort()).toEqual(
    reference,
  );
}, 60_000);

test.each([
  ["the whole topology", 0],
  ["keyed, with 3 mint partitions", 3],
])(
  "without durable state, analyzers whose leases lapsed while Redis stalled go on when taken again before anyone else: the same actors and alerts (%s)",
  async (_layout, partitions) => {
    const names = topology(`t${crypto.randomUUID()}:`, { keyed: partitions > 0 });
    const backend = new LeaseBackend();
    const mints =
      partitions > 0 ? await PartitionedStream.open(backend, names.mints.stream, { partitions }) : null;
    const moves: string[] = [];
    let outage = false;
    const leaseMs = 3_000;
    running = await startPlaced(backend, names, {
      placement: { leaseMs },
      mints,
      state: null,
      onMove: ({ actor, reason, kept }) => {
        if (outage) moves.push(`${actor} ${reason ?? "taken"}${kept ? " kept" : ""}`);
      },
    });
    const ownerships = [
      running.placement!,
      ...(running.mintPartitions ? [running.mintPartitions.ownership] : []),
    ];
    const owning = (count: number) =>
      until(
        (check) => {
          const off = ownerships.flatMap((o) => [o.on("assigned", check), o.on("revoked", check)]);
          return () => {
            for (const unsubscribe of off) unsubscribe();
          };
        },
        () => ownerships.reduce((sum, o) => sum + o.owned.length, 0) === count,
      );
    const actors = [...running.refs.keys()];
    expect(actors.length).toBe(names.analyzers.length + partitions);
    const before = new Map(running.refs);
    const writer = new TxStreamWriter(backend, names, { downstream: mintsDownstream(names, mints) });
    const half = Math.floor(events.length / 2);
    await writer.send(events.slice(0, half));
    await untilDrained(backend, running.upstreamFirst());
    // An operator paused one of them (the control API's pause): kept, it stays paused.
    const held = names.findingsActor;
    system.pause(held);
    // Redis away: no renewal goes through, so each lease lapses on this side, then expires on the backend's.
    outage = true;
    const answer = backend.stall();
    await owning(0);
    // While the leases are lapsed an operator pauses one more, and resumes another (not paused by them):
    // the pause outlives the lapse, the resume does not end it.
    const [pausedInLapse, resumedInLapse] = actors.filter((actor) => actor !== held) as [string, string];
    system.pause(pausedInLapse);
    system.resume(resumedInLapse);
    const pausedBy = (actor: string) => running!.refs.get(actor)!.stats().pausedBy;
    expect(pausedBy(resumedInLapse)).toEqual(["lease"]);
    expect(pausedBy(held)).toEqual(["operator", "lease"]);
    await Bun.sleep(leaseMs);
    answer();
    await owning(actors.length);
    expect(moves.sort()).toEqual(
      actors.flatMap((actor) => [`${actor} lost kept`, `${actor} taken kept`]).sort(),
    );
    for (const [name, ref] of before) expect(running.refs.get(name)).toBe(ref);
    expect(actors.filter((actor) => running!.refs.get(actor)!.stats().paused).sort()).toEqual(
      [held, pausedInLapse].sort(),
    );
    expect(pausedBy(held)).toEqual(["operator"]);
    system.resume(held);
    system.resume(pausedInLapse);
    await writer.send(events.slice(half));
    await writer.tick(tick.ts);
    await untilDrained(backend, running.upstreamFirst());
    // Without durable state the sybil analyzer applies findings as they arrive: S3 may depend on timing.
    const untimed = (alerts: Alert[]) =>
      alerts.filter((a) => a.detector !== "cluster_control").map((a) => a.alertId);
    const written = await backend.range(names.alerts, { count: 100_000 });
    expect(untimed(written.map((entry) => defaultCodec.decode(entry.fields!) as Alert)).sort()).toEqual(
      untimed(referenceAlerts).sort(),
    );
  },
  60_000,
);

test("on a hash-tagged prefix each analyzer's lease shares the tx and findings streams' slot, so Redis checks it with the read", () => {
  const tagged = topology("{troupe}:");
  const units = analyzerUnits(tagged);
  expect(new Set(units.keys).size).toBe(tagged.analyzers.length);
  const slot = keySlot(tagged.tx);
  expect(keySlot(tagged.findings)).toBe(slot);
  for (const key of units.keys) expect(keySlot(leaseKey(key, "analyze"))).toBe(slot);
});

test("the pumps upstream first, however they were started: tx groups, findings, then the partitions they feed", async () => {
  const names = topology(`t${crypto.randomUUID()}:`, { keyed: true });
  const backend = new LeaseBackend();
  const mints = await PartitionedStream.open(backend, names.mints.stream, { partitions: 3 });
  const wallet = names.analyzers.findIndex((a) => a.actor === "wallet-analyzer");
  const lost = Promise.withResolvers<void>();
  const back = Promise.withResolvers<void>();
  let given = false;
  running = await startPlaced(backend, names, {
    placement: { leaseMs: 60_000 },
    mints,
    onMove: ({ actor, reason, kept }) => {
      if (actor !== "wallet-analyzer" || kept) return;
      if (reason === "lost") {
        given = true;
        lost.resolve();
      } else if (given) back.resolve();
    },
  });
  // Another process takes the wallet analyzer over for a while, then this one again: its pump now comes
  // after the partitions'.
  const placement = running.placement!;
  const release = await backend.takeOver(leaseKey(placement.stream.keys[wallet]!, "analyze"));
  await placement.rebalance();
  await lost.promise;
  await release();
  await back.promise;
  const started = [...running.pumps.values()].map((pump) => pump.options.stream);
  expect(started.lastIndexOf(names.tx)).toBeGreaterThan(started.indexOf(mints.keys[0]!));
  // Keyed: the wallet analyzer's and the sybil analyzer's tx groups (no pattern analyzer runs).
  const streams = running.upstreamFirst().map((pump) => pump.options.stream);
  expect(streams.slice(0, 3)).toEqual([names.tx, names.tx, names.findings]);
  expect(streams.slice(3).sort()).toEqual([...mints.keys].sort());
});

test("mint partitions go with a keyed topology (no pattern analyzer), and no partitions with the whole one: a mismatch is refused, naming the topology", async () => {
  const backend = new MemoryStreamBackend();
  const whole = topology(`t${crypto.randomUUID()}:`);
  const keyed = topology(`t${crypto.randomUUID()}:`, { keyed: true });
  expect(whole.analyzers.map((a) => a.actor)).toEqual([
    "wallet-analyzer",
    "pattern-recognition",
    "sybil-detection",
  ]);
  expect(keyed.analyzers.map((a) => a.actor)).toEqual(["wallet-analyzer", "sybil-detection"]);
  const mints = await PartitionedStream.open(backend, whole.mints.stream, { partitions: 2 });
  for (const [names, withMints] of [
    [whole, mints],
    [keyed, null],
  ] as const) {
    const error = await startPlaced(backend, names, { mints: withMints }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_INVALID_OPTION" });
    expect(String(error)).toContain("topology");
  }
  expect(system.actors.length).toBe(0);
});

test("the mint partitions of a process share its partition threads, each an actor of its own; the alerts are the same", async () => {
  const names = topology(`t${crypto.randomUUID()}:`, { keyed: true });
  const backend = new MemoryStreamBackend();
  const mints = await PartitionedStream.open(backend, names.mints.stream, { partitions: 6 });
  running = await startPlaced(backend, names, { mints, partitionThreads: 2 });
  const threadsOf = (actors: string[]) =>
    new Set(
      actors.flatMap((actor) =>
        running!.refs
          .get(actor)!
          .stats()
          .instances.map((i) => i.thread),
      ),
    );
  const partitions = mints.keys.map((_, i) => `${names.mints.actor}-p${i}`);
  expect(partitions.every((actor) => running!.refs.has(actor))).toBe(true);
  const shared = threadsOf(partitions);
  expect(shared.size).toBe(2);
  // The whole-stream analyzers keep a thread each.
  const own = threadsOf(names.analyzers.map((a) => a.actor));
  expect(own.size).toBe(names.analyzers.length);
  expect([...own].some((thread) => shared.has(thread))).toBe(false);
  const writer = new TxStreamWriter(backend, names, { downstream: mintsDownstream(names, mints) });
  await writer.send(events);
  await writer.tick(tick.ts);
  await untilDrained(backend, running.upstreamFirst());
  const written = await backend.range(names.alerts, { count: 100_000 });
  expect(written.map((entry) => (defaultCodec.decode(entry.fields!) as Alert).alertId).sort()).toEqual(
    reference,
  );
}, 60_000);

/**
 * The analyzers placed by lease (analyzers.ts, `placement`), in one process on the embedded backend: an
 * analyzer whose start fails half-way (its actor spawned, a pump refused by the backend) leaves nothing
 * behind, so the next round starts it again; before, its actor stayed registered and every later attempt
 * failed on the name. A producer of findings whose lease lapsed hands nothing more to the sybil actor
 * running beside it.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { createSystem } from "../../src/index.ts";
import { generate } from "../../src/ingest/generator.ts";
import { TxStreamWriter } from "../../src/ingest/stream-writer.ts";
import { type RunningAnalyzers, startAnalyzers } from "../../src/scanner/analyzers.ts";
import { topology } from "../../src/scanner/topology.ts";
import { leaseKey } from "../../src/streams/leases.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { MemoryLeaseStore } from "../../src/streams/memory-leases.ts";
import { systemClock } from "../../src/time/clock.ts";
import { until } from "../streams/test-target.ts";

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

test("an analyzer whose pump failed to start is started again at the next round, under its name", async () => {
  const names = topology(`t${crypto.randomUUID()}:`);
  const backend = new RefusingBackend("pattern-recognition", 1);
  running = await startAnalyzers({
    system,
    backend,
    topology: names,
    consumer: "a",
    claimIdleMs: 30_000,
    maxDeliveries: 5,
    pump: { sweepIntervalMs: 0, blockMs: 50 },
    placement: { leaseMs: 800 },
  });
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

/** Renewals of the leases in `lapsed` are refused, as for a process that froze while another took them over. */
class LapsingLeases extends MemoryLeaseStore {
  readonly lapsed = new Set<string>();

  override async renew(key: string, holder: string, generation: number, ttlMs: number): Promise<boolean> {
    return !this.lapsed.has(key) && super.renew(key, holder, generation, ttlMs);
  }
}

class LapsingBackend extends MemoryStreamBackend {
  readonly store = new LapsingLeases(systemClock);

  override leases(): MemoryLeaseStore {
    return this.store;
  }
}

test("a producer whose lease lapsed hands the sybil actor beside it none of what it raises while it stops", async () => {
  const names = topology(`t${crypto.randomUUID()}:`);
  const backend = new LapsingBackend();
  const gaveUp = new Set<string>();
  let stopped: () => void = () => {};
  const producersStopped = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const producers = names.analyzers.filter((a) => a.actor !== names.findingsActor).map((a) => a.actor);
  running = await startAnalyzers({
    system,
    backend,
    topology: names,
    consumer: "a",
    claimIdleMs: 30_000,
    maxDeliveries: 5,
    pump: { sweepIntervalMs: 0, blockMs: 50 },
    // Long leases: the only lapse is the test's.
    placement: { leaseMs: 60_000 },
    onMove: ({ actor, reason }) => {
      if (reason !== "lost") return;
      gaveUp.add(actor);
      if (producers.every((name) => gaveUp.has(name))) stopped();
    },
  });
  const placement = running.placement!;
  const findings = running.pumps.get(names.findingsGroup)!;
  const handOver = findings.handOver.bind(findings);
  let handedOver = 0;
  findings.handOver = (fields) => {
    handedOver++;
    return handOver(fields);
  };
  const findingsWritten = async () => (await backend.range(names.findings, { count: 1_000_000 })).length;
  // A backlog in every actor's mailbox when the producers' leases lapse.
  await new TxStreamWriter(backend, names).send([
    ...generate({ seed: 3, durationMs: 60 * 60_000, scale: 0.1 }).events(),
  ]);
  for (const actor of producers) {
    const unit = names.analyzers.findIndex((a) => a.actor === actor);
    backend.store.lapsed.add(leaseKey(placement.stream.keys[unit]!, "analyze"));
  }
  await placement.rebalance();
  const before = { handedOver, written: await findingsWritten() };
  await producersStopped;
  // They handled entries and raised marks after the lapse (written to the findings stream, where a
  // successor's restore would fence them), but handed none over.
  expect(await findingsWritten()).toBeGreaterThan(before.written);
  expect(handedOver).toBe(before.handedOver);
}, 30_000);

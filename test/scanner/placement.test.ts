/**
 * The analyzers placed by lease (analyzers.ts, `placement`), in one process on the embedded backend: an
 * analyzer whose start fails half-way (its actor spawned, a pump refused by the backend) leaves nothing
 * behind, so the next round starts it again; before, its actor stayed registered and every later attempt
 * failed on the name.
 */
import { afterEach, expect, test } from "bun:test";
import { createSystem } from "../../src/index.ts";
import { type RunningAnalyzers, startAnalyzers } from "../../src/scanner/analyzers.ts";
import { topology } from "../../src/scanner/topology.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
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

const system = createSystem();
let running: RunningAnalyzers | undefined;
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

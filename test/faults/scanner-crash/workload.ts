/**
 * The workloads of the crash-consistency checks, written as canonical JSONL for `--replay FILE`. The one
 * import of the scanner's own code in these checks: the generator (fix this path if it moves).
 */
import { type GeneratorOptions, generate, SCENARIOS } from "../../../src/ingest/generator.ts";

/** Every scenario type the generator can plant. */
export const SCENARIO_TYPES: readonly string[] = SCENARIOS.map((s) => s.type);

export interface WorkloadSpec {
  seed: number;
  hours: number;
  /** Organic launch rate multiplier: the background traffic every detector must see through. */
  scale: number;
  /** Planted instances per hour of each scenario variant (the generator's `scenarioRate`). */
  scenarioRate?: number;
  /** Per scenario type overrides of `scenarioRate`. */
  scenarioRates?: Record<string, number>;
  /** Stop after this many events (a quick smoke run of the soak). */
  maxEvents?: number;
}

/**
 * The smallest workload found with every scenario type planted and every detector alerting (~29k events,
 * ~290 alerts): 2.5 h of event time because a serial creator needs 5–16 launches minutes apart, thin
 * organic traffic, and more serial creators than the default rate plants.
 */
export const TEST_WORKLOAD: WorkloadSpec = {
  seed: 1,
  hours: 2.5,
  scale: 0.02,
  scenarioRate: 4,
  scenarioRates: { SERIAL: 12 },
};

/** The measured workload: 4 h at full scale, ~436k events, ~960 alerts. */
export const SOAK_WORKLOAD: WorkloadSpec = { seed: 1, hours: 4, scale: 1 };

export interface WrittenWorkload {
  path: string;
  /** Events in the file; the replay adds one tick after them. */
  events: number;
  /** Scenario types planted (truth records), sorted. */
  scenarioTypes: string[];
}

/** Writes the workload to `path`, one event per line. */
export async function writeWorkload(path: string, spec: WorkloadSpec): Promise<WrittenWorkload> {
  const options: GeneratorOptions = {
    seed: spec.seed,
    durationMs: spec.hours * 3_600_000,
    scale: spec.scale,
    ...(spec.scenarioRate === undefined ? {} : { scenarioRate: spec.scenarioRate }),
    ...(spec.scenarioRates === undefined ? {} : { scenarioRates: spec.scenarioRates }),
    ...(spec.maxEvents === undefined ? {} : { maxEvents: spec.maxEvents }),
  };
  const workload = generate(options);
  const writer = Bun.file(path).writer();
  let events = 0;
  for (const event of workload.events()) {
    writer.write(`${JSON.stringify(event)}\n`);
    events++;
  }
  await writer.end();
  const scenarioTypes = [...new Set(workload.truth.map((t) => t.type))].sort();
  return { path, events, scenarioTypes };
}

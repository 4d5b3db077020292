/**
 * The synthetic transaction monitor (DETECTORS.md section C): organic traffic plus planted scenarios
 * and decoys, deterministic by seed, streamed as an iterator of canonical events in ts order, with
 * the ground truth kept apart.
 *
 * Determinism: every scenario type/variant draws its instance count and start times from its own
 * sub-stream, every instance from its own, and organic traffic from its own; the discrete-event loop
 * orders tasks by (ts, insertion seq). Adding a scenario therefore adds events without changing any
 * other event (only its position among same-ts events of other streams).
 *
 * @example
 * const workload = generate({ seed: 7, durationMs: 3_600_000 });
 * for (const event of workload.events()) analyzer.handle(event);
 * writeFileSync("truth.jsonl", truthToJsonl(workload.truth));
 */

import type { ChainEvent } from "../detection/schema.ts";
import { InvalidOptionError } from "../errors.ts";
import { Kit } from "./sim/kit.ts";
import { ORGANIC_DEFAULTS, Organic, type OrganicOptions } from "./sim/organic.ts";
import { BUNDLE } from "./sim/scenarios/bundle.ts";
import { EXCHANGE_BURST, MARKET_MAKER, SLOW_SELLOFF } from "./sim/scenarios/decoys.ts";
import { DEV_DUMP } from "./sim/scenarios/dev-dump.ts";
import { DAISY, INJECTION, SWEEP } from "./sim/scenarios/money-flows.ts";
import type { ScenarioDef } from "./sim/scenarios/scenario.ts";
import { SERIAL } from "./sim/scenarios/serial.ts";
import { SYBIL_FARM } from "./sim/scenarios/sybil-farm.ts";
import { COORD_DUMP, FLASH, WASH } from "./sim/scenarios/trading.ts";
import { BIG_BUYER, WHALE } from "./sim/scenarios/whale.ts";
import { Stream, World } from "./sim/world.ts";
import type { TruthRecord } from "./truth.ts";

/** Every scenario the generator can plant; adding one here never shifts the others. */
export const SCENARIOS: readonly ScenarioDef[] = [
  BUNDLE,
  DEV_DUMP,
  SYBIL_FARM,
  EXCHANGE_BURST,
  SLOW_SELLOFF,
  MARKET_MAKER,
  SWEEP,
  INJECTION,
  DAISY,
  FLASH,
  WASH,
  COORD_DUMP,
  WHALE,
  BIG_BUYER,
  SERIAL,
];

export interface GeneratorOptions {
  /** @defaultValue 1 */
  seed?: number;
  /** Event time of the run's start, ms. History prefixes are dated before it. @defaultValue 1_760_000_000_000 */
  t0?: number;
  /** Event-time length of the run. @defaultValue 21_600_000 (6 h) */
  durationMs?: number;
  /** Multiplies the organic launch rate (and so the event rate). @defaultValue 1 */
  scale?: number;
  /** Stop after this many events (truth may then list unfinished scenarios). @defaultValue Infinity */
  maxEvents?: number;
  /** Instances per hour of each scenario variant (and decoy); `0` disables. @defaultValue 6 */
  scenarioRate?: number;
  /** Per-type overrides of `scenarioRate`, e.g. `{ BUNDLE: 10, MARKET_MAKER: 0 }`. @defaultValue {} */
  scenarioRates?: Record<string, number>;
  /** Scenario definitions to plant. @defaultValue SCENARIOS */
  scenarios?: readonly ScenarioDef[];
  organic?: OrganicOptions;
}

export const GENERATOR_DEFAULTS = {
  seed: 1,
  t0: 1_760_000_000_000,
  durationMs: 6 * 3_600_000,
  scale: 1,
  maxEvents: Number.POSITIVE_INFINITY,
  scenarioRate: 6,
  scenarioRates: {},
  scenarios: SCENARIOS,
  organic: {},
} satisfies Required<GeneratorOptions>;

export interface Workload {
  /** Streams the events in ts order; each call replays the workload from the start. */
  events(): Generator<ChainEvent>;
  /** Ground truth: planted scenarios and decoys, never part of the stream. */
  readonly truth: TruthRecord[];
  /** Organic launches are only known after a pass over events(); scenario mints are in truth. */
  readonly t0: number;
  readonly end: number;
}

export function resolveGeneratorOptions(options: GeneratorOptions = {}): Required<GeneratorOptions> {
  const o = { ...GENERATOR_DEFAULTS, ...options };
  for (const key of ["t0", "durationMs", "scale", "maxEvents", "scenarioRate"] as const) {
    if (!(o[key] >= 0)) throw new InvalidOptionError(key, "must be a number >= 0");
  }
  if (!Number.isSafeInteger(o.seed)) throw new InvalidOptionError("seed", "must be a safe integer");
  return o;
}

/** Plans the whole run; `events()` then replays it deterministically. */
export function generate(options: GeneratorOptions = {}): Workload {
  const o = resolveGeneratorOptions(options);
  const end = o.t0 + o.durationMs;
  const truth = build(o).truth;
  return {
    truth,
    t0: o.t0,
    end,
    *events() {
      const { world } = build(o);
      let emitted = 0;
      for (;;) {
        while (world.out.length > 0) {
          // Drain in order; shift() on a short array is cheap and keeps the queue simple.
          const event = world.out.shift()!;
          yield event;
          if (++emitted >= o.maxEvents) return;
        }
        const task = world.heap.pop();
        if (task === undefined || task.ts > end) return;
        world.now = task.ts;
        task.run();
      }
    },
  };
}

function build(o: Required<GeneratorOptions>): { world: World; truth: TruthRecord[] } {
  const world = new World(o.seed, o.t0);
  const end = o.t0 + o.durationMs;
  const organic = new Organic(
    world,
    {
      ...ORGANIC_DEFAULTS,
      ...o.organic,
      launchesPerSec: (o.organic.launchesPerSec ?? ORGANIC_DEFAULTS.launchesPerSec) * o.scale,
    },
    end,
  );
  organic.start();
  const truth = organic.truth();
  const hours = o.durationMs / 3_600_000;
  for (const def of o.scenarios) {
    const rate = o.scenarioRates[def.type] ?? o.scenarioRate * (def.rateScale ?? 1);
    for (const variant of def.variants) {
      const schedule = new Stream(o.seed, `scenario:${def.type}:${variant}`).rng;
      const starts: number[] = [];
      // Poisson count, uniform starts: both drawn from this type/variant's own sub-stream.
      for (let t = schedule.exp(1 / rate); rate > 0 && t < hours; t += schedule.exp(1 / rate)) {
        starts.push(o.t0 + schedule.uniform(0, o.durationMs));
      }
      starts.sort((a, b) => a - b);
      starts.forEach((start, index) => {
        const id = `${def.type}/${variant}/${index}`;
        const kit = new Kit(world, new Stream(o.seed, `scenario:${id}`), `s:${o.seed}:${id}`, organic);
        const planned = def.plan(kit, variant, start);
        if (kit.last > end) return;
        kit.commit();
        truth.push({
          id,
          kind: def.kind,
          type: def.type,
          variant,
          detectors: [...(planned.detectors ?? def.detectors)],
          mints: planned.mints,
          wallets: planned.wallets,
          ...(planned.clusterRoot === undefined ? {} : { clusterRoot: planned.clusterRoot }),
          tStart: kit.first,
          tOnset: planned.onset,
          tEnd: kit.last,
        });
      });
    }
  }
  return { world, truth };
}

import { describe, expect, test } from "bun:test";
import { validateEvent } from "../../src/detection/schema.ts";
import { type GeneratorOptions, generate, SCENARIOS } from "../../src/ingest/generator.ts";
import { BUNDLE } from "../../src/ingest/sim/scenarios/bundle.ts";
import { DEV_DUMP } from "../../src/ingest/sim/scenarios/dev-dump.ts";
import { SERIAL } from "../../src/ingest/sim/scenarios/serial.ts";
import { SYBIL_FARM } from "../../src/ingest/sim/scenarios/sybil-farm.ts";
import { truthFromJsonl, truthToJsonl } from "../../src/ingest/truth.ts";

// Sparse organic traffic keeps these runs to a few tens of thousands of events.
const small: GeneratorOptions = { seed: 11, durationMs: 3 * 3_600_000, scale: 0.1, scenarioRate: 2 };

describe("generator", () => {
  test("same seed, same events and truth; another seed differs", () => {
    const a = generate(small);
    const events = [...a.events()];
    expect(events.length).toBeGreaterThan(10_000);
    expect([...generate(small).events()]).toEqual(events);
    expect([...a.events()]).toEqual(events);
    expect(generate(small).truth).toEqual(a.truth);
    expect([...generate({ ...small, seed: 12 }).events()].slice(0, 100)).not.toEqual(events.slice(0, 100));
  });

  test("events are valid, unique and in ts order; labels never leak into the stream", () => {
    const workload = generate(small);
    const ids = new Set<string>();
    let last = Number.NEGATIVE_INFINITY;
    let invalid = 0;
    let unordered = 0;
    let text = "";
    let count = 0;
    for (const event of workload.events()) {
      if (!validateEvent(event).ok) invalid++;
      if (event.ts < last) unordered++;
      last = event.ts;
      ids.add(event.id);
      text += JSON.stringify(event);
      count++;
    }
    expect({ invalid, unordered, duplicates: count - ids.size }).toEqual({
      invalid: 0,
      unordered: 0,
      duplicates: 0,
    });
    // Long labels, or with "_" / "I" (outside base58), that cannot occur in an address by chance.
    for (const label of [
      "BUNDLE",
      "DEV_DUMP",
      "SYBIL_FARM",
      "COORD_DUMP",
      "INJECTION",
      "canonical",
      "evasive",
      "scenario",
      "organic",
    ]) {
      expect(text.includes(label)).toBe(false);
    }
    const planted = workload.truth.filter((r) => r.kind === "scenario");
    expect(new Set(planted.map((r) => r.type))).toEqual(
      new Set(SCENARIOS.filter((d) => d.kind === "scenario").map((d) => d.type)),
    );
    expect(truthFromJsonl(truthToJsonl(workload.truth))).toEqual(workload.truth);
  });

  test("adding a scenario type does not shift any other event", () => {
    const base = generate({ ...small, scenarios: [BUNDLE, DEV_DUMP] });
    const more = generate({ ...small, scenarios: [BUNDLE, DEV_DUMP, SYBIL_FARM] });
    const added = more.truth.filter((r) => r.type === "SYBIL_FARM");
    expect(added.length).toBeGreaterThan(0);
    const theirs = new Set(added.flatMap((r) => [...r.wallets, ...r.mints]));
    const involves = (e: Record<string, unknown>) =>
      ["mint", "trader", "creator", "from", "to"].some((f) => theirs.has(e[f] as string));
    const rest = [...more.events()].filter((e) => !involves(e as unknown as Record<string, unknown>));
    expect(rest).toEqual([...base.events()]);
    expect(more.truth.filter((r) => r.type !== "SYBIL_FARM")).toEqual(base.truth);
  });

  test("an instance can name its own detectors: SERIAL ruggers expect W5 and P2, spammers W5 only", () => {
    const truth = generate({
      ...small,
      scale: 0.02,
      durationMs: 5 * 3_600_000,
      scenarioRate: 4,
      scenarios: [SERIAL],
    }).truth.filter((r) => r.type === "SERIAL");
    const lists = new Set(truth.map((r) => r.detectors.join(",")));
    expect(lists).toEqual(new Set(["creator_reputation,dev_dump", "creator_reputation"]));
    for (const r of truth) expect(r.mints.length).toBeGreaterThanOrEqual(5);
  });

  test("maxEvents caps the stream", () => {
    expect([...generate({ ...small, maxEvents: 500 }).events()]).toHaveLength(500);
  });
});

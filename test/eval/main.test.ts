/** `bun run eval` on a workload and truth file from outside the repository (here: written to a temp dir). */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate } from "../../src/ingest/generator.ts";
import { truthToJsonl } from "../../src/ingest/truth.ts";

test("bun run eval scores a recorded workload against its truth file, with --json lines", async () => {
  const dir = mkdtempSync(join(tmpdir(), "troupe-eval-"));
  try {
    const workload = generate({ seed: 42, durationMs: 1_800_000, scenarioRate: 20 });
    const lines = [...workload.events()].map((event) => JSON.stringify(event));
    await Bun.write(join(dir, "events.jsonl"), `${lines.join("\n")}\n`);
    await Bun.write(join(dir, "truth.jsonl"), truthToJsonl(workload.truth));
    const child = Bun.spawn(
      [
        "bun",
        "run",
        "eval",
        "--events",
        join(dir, "events.jsonl"),
        "--truth",
        join(dir, "truth.jsonl"),
        "--json",
      ],
      {
        cwd: new URL("../..", import.meta.url).pathname,
        env: { ...process.env, REDIS_URL: "" },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const out = await new Response(child.stdout).text();
    expect(await child.exited).toBe(0);
    const rows = out
      .trim()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const scores = rows.filter((row) => typeof row.detector === "string") as Array<{
      detector: string;
      precision: number | null;
      canonical: { scenarios: number; recall: number | null };
    }>;
    expect(scores.length).toBe(14);
    expect(scores.reduce((n, row) => n + row.canonical.scenarios, 0)).toBeGreaterThan(5);
    for (const row of scores) {
      if (row.canonical.scenarios > 0) expect(row.canonical.recall ?? 0).toBeGreaterThanOrEqual(0.9);
      if (row.precision !== null) expect(row.precision).toBeGreaterThanOrEqual(0.9);
    }
    const throughput = rows.find((row) => row.metric === "events/s") as { events: number };
    expect(throughput.events).toBe(lines.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test("bun run eval refuses a truth file without events, naming the flags", async () => {
  const child = Bun.spawn(["bun", "run", "eval", "--truth", "/nonexistent"], {
    cwd: new URL("../..", import.meta.url).pathname,
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await child.exited).toBe(2);
  expect(await new Response(child.stderr).text()).toContain("--events and --truth go together");
});

/** `bun run eval` with `args`, in a temp dir holding an events file and `truth` as the truth file. */
async function evalRefuses(args: string[], truth: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "troupe-eval-"));
  try {
    const workload = generate({ seed: 7, durationMs: 60_000 });
    await Bun.write(
      join(dir, "events.jsonl"),
      `${[...workload.events()].map((e) => JSON.stringify(e)).join("\n")}\n`,
    );
    await Bun.write(join(dir, "truth.jsonl"), truth);
    const child = Bun.spawn(
      [
        "bun",
        "run",
        "eval",
        "--events",
        join(dir, "events.jsonl"),
        "--truth",
        join(dir, "truth.jsonl"),
        ...args,
      ],
      { cwd: new URL("../..", import.meta.url).pathname, stdout: "pipe", stderr: "pipe" },
    );
    expect(await child.exited).toBe(2);
    return (await new Response(child.stderr).text()).replaceAll(dir, "DIR");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("bun run eval refuses the generated workload's flags with --events, naming them", async () => {
  const truth = truthToJsonl(generate({ seed: 7, durationMs: 60_000 }).truth);
  expect(await evalRefuses(["--hours", "2", "--seed", "3"], truth)).toContain(
    "--seed, --hours: for a generated workload, not with --events",
  );
});

test("bun run eval refuses a truth line that is not a truth record, naming the line and the field", async () => {
  const record = {
    id: "x/canonical/0",
    kind: "scenario",
    type: "x",
    variant: "canonical",
    detectors: ["dev_dump"],
    mints: ["m"],
    wallets: ["w"],
    tStart: 1,
    tOnset: 2,
    tEnd: 3,
  };
  const lines = (...more: unknown[]) => [record, ...more].map((r) => JSON.stringify(r)).join("\n");
  expect(await evalRefuses([], lines({ bad: 1 }))).toContain(
    "DIR/truth.jsonl: truth line 2: id must be a string",
  );
  expect(await evalRefuses([], lines({ ...record, detectors: ["dev_dumpp"] }))).toContain(
    'truth line 2: detectors: no detector "dev_dumpp"',
  );
  expect(await evalRefuses([], `${lines()}\nnot json`)).toContain("truth line 2: not JSON");
});

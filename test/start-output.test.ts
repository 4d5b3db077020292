/**
 * What `bun run start` shows with no configuration: every alert on stdout as it is written (a readable
 * line on a terminal, a JSON line in a pipe) and the progress line on stderr (redrawn in place on a
 * terminal, fitted to its width, never on an alert's row; one line per second in a pipe).
 */
import { expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Alert } from "../src/detection/alert.ts";
import { ChildOutput } from "./support/child-output.ts";
import { reaper } from "./support/reaper.ts";
import { draws, runInTerminal, scriptInstalled } from "./support/terminal-screen.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const track = reaper();
const ENV = { ...process.env, TROUPE_HTTP_PORT: "0", REDIS_URL: "", NO_COLOR: "", TROUPE_ALERTS_FILE: "" };
/** `09:03:33  HIGH  launch_bundle  mint 7xKX…p9Q2  bundle holds 23.1%`, once its colour is dropped. */
const ALERT_LINE = /^\d\d:\d\d:\d\d {2}(HIGH|MED |LOW ) {2}[a-z_]+ +(mint|wallet) \S+ +\S/;
const ESC = "\x1b";
const PROGRESS = /^in [\d,]+ .*\| health \w+$/;

test.skipIf(!scriptInstalled())(
  "on an 80-column terminal: the default run's first alert within 60 s as a readable line; the progress line redrawn in place within 79 columns, never on an alert's row",
  async () => {
    const started = performance.now();
    const run = runInTerminal("bun run start", { columns: 80, cwd: ROOT, env: ENV });
    track(run.child);
    // The severity is painted: the line is matched on the text around it.
    await run.output.waitFor(/\d\d:\d\d:\d\d {2}\S*(HIGH|MED|LOW)/);
    expect((performance.now() - started) / 1000).toBeLessThan(60);
    expect(run.output.text).toMatch(new RegExp(`${ESC}\\[[0-9;]+m(HIGH|MED |LOW )${ESC}\\[0m`));
    run.interrupt();
    await run.output.rest();
    expect(await run.child.exited).toBe(0);

    const rows = draws(run.output.text);
    const all = rows.flat();
    const statuses = all.filter((draw) => PROGRESS.test(draw));
    const alerts = all.filter((draw) => ALERT_LINE.test(draw));
    expect(statuses.length).toBeGreaterThan(20);
    expect(alerts.length).toBeGreaterThan(0);
    for (const status of statuses) expect(status.length).toBeLessThanOrEqual(79);
    // Nothing else was drawn but the banners, the statuses and the alerts: no fragment of a wrapped line.
    const other = all.filter((draw) => !PROGRESS.test(draw) && !ALERT_LINE.test(draw));
    expect(other.filter((draw) => !/^(\$ bun |troupe scanner)/.test(draw))).toEqual([]);
    // An alert is the last thing drawn on its row: the status it replaced is gone, and none came after it.
    for (const row of rows.filter((r) => r.some((draw) => ALERT_LINE.test(draw))))
      expect(row.at(-1)).toMatch(ALERT_LINE);
    // In place: one row holds every status between two alerts, so only the last status row is left.
    const statusRows = rows.filter((row) => row.length > 0 && PROGRESS.test(row.at(-1) as string));
    expect(statusRows.length).toBe(1);
  },
  75_000,
);

test("piped: alerts as JSON lines on stdout, TROUPE_ALERTS_FILE still written, the progress one plain line per second", async () => {
  const dir = await mkdtemp(join(tmpdir(), "troupe-start-"));
  const file = join(dir, "alerts.jsonl");
  const child = track(
    Bun.spawn(["bun", "run", "start"], {
      cwd: ROOT,
      env: { ...ENV, TROUPE_RATE: "2000", TROUPE_ALERTS_FILE: file },
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  const stdout = new ChildOutput(child.stdout);
  const stderr = new ChildOutput(child.stderr);
  await stdout.waitFor(/\n.*\n/);
  // The file sink reads the alerts stream through its own group, on its own schedule: no event says it wrote.
  while ((await Bun.file(file).text()).length === 0) await Bun.sleep(50);
  child.kill("SIGTERM");
  await Promise.all([stdout.rest(), stderr.rest()]);
  expect(await child.exited).toBe(0);

  const shown = stdout.text
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Alert);
  expect(shown.length).toBeGreaterThanOrEqual(2);
  for (const alert of shown) {
    expect(alert).toMatchObject({ alertId: expect.any(String), detector: expect.any(String) });
    expect(["low", "med", "high"]).toContain(alert.severity);
  }
  // At exit stdout shows every alert in the stream; the sink may have been stopped before its last ones.
  const filed = (await Bun.file(file).text())
    .trimEnd()
    .split("\n")
    .map((line) => (JSON.parse(line) as Alert).alertId);
  expect(filed.length).toBeGreaterThan(0);
  expect(shown.map((alert) => alert.alertId)).toEqual(expect.arrayContaining(filed));

  expect(stderr.text).not.toContain("\r");
  expect(stderr.text).not.toContain("\x1b");
  const progress = stderr.text.split("\n").filter((line) => line.startsWith("in "));
  expect(progress.length).toBeGreaterThan(0);
  for (const line of progress)
    expect(line).toMatch(/^in [\d,]+ \(\d+\/s\) \| wallet-analyzer \d+\/s lag \d+ \| .* \| health \w+$/);
  await rm(dir, { recursive: true, force: true });
}, 30_000);

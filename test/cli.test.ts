/** Every `bun run` script handles its command line one way (src/command-line.ts), never with a stack trace. */
import { describe, expect, test } from "bun:test";

const ROOT = new URL("..", import.meta.url).pathname;
const SCRIPTS = ["start", "monitor", "eval", "demo"] as const;

async function run(...args: string[]) {
  const child = Bun.spawn(["bun", "run", ...args], {
    cwd: ROOT,
    env: { ...process.env, TROUPE_HTTP_PORT: "0", REDIS_URL: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  // `bun run` itself first echoes the command it runs (`$ bun src/main.ts --unknown`).
  return { stdout, stderr: stderr.replace(/^\$ bun .*\n/, ""), code };
}

describe.each(SCRIPTS)("bun run %s", (script) => {
  test("an unknown flag: the problem, then the usage, on stderr; exit 2; no stack trace", async () => {
    const { stdout, stderr, code } = await run(script, "--unknown");
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toStartWith("Unknown option '--unknown'");
    expect(stderr).toContain(`\n\nusage: bun run ${script}`);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  test("a stray argument is refused the same way", async () => {
    const { stderr, code } = await run(script, "stray");
    expect(code).toBe(2);
    expect(stderr).toContain("Unexpected argument 'stray'");
    expect(stderr).toContain(`usage: bun run ${script}`);
  });

  test("--help: the usage on stdout, exit 0", async () => {
    const { stdout, stderr, code } = await run(script, "--help");
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toStartWith(`usage: bun run ${script}`);
  });
});

test("a bad value is a usage error too: named, with the usage, exit 2", async () => {
  const { stderr, code } = await run("eval", "--hours", "soon");
  expect(code).toBe(2);
  expect(stderr).toStartWith("--hours: must be a number ≥ 0.01, got soon\n\nusage: bun run eval");
});

test("a seed that is not a whole number is named, not a stack trace (a spec test's finding)", async () => {
  const { stderr, code } = await run("eval", "--seed", "1.5");
  expect(code).toBe(2);
  expect(stderr).toStartWith("--seed: must be an integer ≥ 0, got 1.5\n\nusage: bun run eval");
});

test("the inline evaluation of docs/detection.md answers --help instead of running ten hours", async () => {
  const child = Bun.spawn(["bun", "src/eval/run-inline.ts", "--help"], { cwd: ROOT, stdout: "pipe" });
  const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  expect(code).toBe(0);
  expect(stdout).toStartWith("usage: bun src/eval/run-inline.ts");
});

test("--resume-after: a whole number, and only with --replay", async () => {
  const bad = await run("start", "--replay", "README.md", "--resume-after", "ten");
  expect(bad.code).toBe(2);
  expect(bad.stderr).toStartWith("--resume-after: must be an integer ≥ 0, got ten\n\nusage: bun run start");
  const alone = await run("start", "--resume-after", "10");
  expect(alone.code).toBe(2);
  expect(alone.stderr).toStartWith("--resume-after: only with --replay");
});

test("--pace only with --replay; --replay of a directory says so", async () => {
  const pace = await run("start", "--pace", "recorded");
  expect(pace.code).toBe(2);
  expect(pace.stderr).toStartWith("--pace: only with --replay");
  const folder = await run("start", "--replay", "docs");
  expect(folder.code).toBe(2);
  expect(folder.stderr).toStartWith("--replay: a directory, not a file: docs");
});

test("a flag given twice is refused, naming it: the parser alone would keep the last silently", async () => {
  const { stdout, stderr, code } = await run("start", "--replay", "a.jsonl", "--replay", "b.jsonl");
  expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
  expect(stderr).toStartWith("--replay given more than once\n\nusage: bun run start");
});

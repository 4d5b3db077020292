/**
 * What an install of Troupe gets: the `files` field ships the source, the examples and the docs, never
 * the tests or the benches; installed from its packed tarball it brings its dependencies and none of its
 * dev dependencies. (A folder path, `bun add ../troupe`, links the checkout, and Bun then installs its
 * dev dependencies too, by design: oven-sh/bun#2781. The README says to install the tarball.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const manifest = (await Bun.file(join(ROOT, "package.json")).json()) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let dir: string;
let tarball: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-pack-"));
  const pack = Bun.spawn(["bun", "pm", "pack", "--destination", dir, "--quiet"], {
    cwd: ROOT,
    stdout: "pipe",
  });
  expect(await pack.exited).toBe(0);
  tarball = join(dir, `troupe-${manifest.version}.tgz`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(command: string[], cwd: string) {
  const child = Bun.spawn(command, { cwd, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { stdout, stderr, code };
}

test("the tarball holds the source, the examples and the docs; no tests, no benches", async () => {
  const { stdout, code } = await run(["tar", "-tzf", tarball], dir);
  expect(code).toBe(0);
  const files = stdout.trim().split("\n");
  for (const needed of [
    "package/package.json",
    "package/README.md",
    "package/src/index.ts",
    "package/src/main.ts",
  ])
    expect(files).toContain(needed);
  expect(files.some((f) => f.startsWith("package/examples/"))).toBe(true);
  expect(files.some((f) => f.startsWith("package/docs/"))).toBe(true);
  expect(files.filter((f) => /^package\/(test|bench|\.ci)\//.test(f))).toEqual([]);
  expect(files.filter((f) => /\.test\.ts$/.test(f))).toEqual([]);
});

test("installed from the tarball: its dependencies, none of its dev dependencies, and the entry points load", async () => {
  const app = join(dir, "app");
  await Bun.write(join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
  const add = await run(["bun", "add", "--prefer-offline", tarball], app);
  expect(add.code).toBe(0);
  const has = (name: string) => Bun.file(join(app, "node_modules", name, "package.json")).exists();
  for (const dependency of Object.keys(manifest.dependencies)) expect(await has(dependency)).toBe(true);
  const devOnly = Object.keys(manifest.devDependencies).filter((d) => !(d in manifest.dependencies));
  expect(devOnly.length).toBeGreaterThan(3);
  for (const dependency of devOnly)
    expect({ dependency, installed: await has(dependency) }).toEqual({ dependency, installed: false });
  const load = await run(
    [
      "bun",
      "-e",
      'const [a, b, c] = await Promise.all([import("troupe"), import("troupe/streams"), import("troupe/http")]); console.log(typeof a.createSystem, typeof b.Pump, typeof c.createControlApi)',
    ],
    app,
  );
  expect(load).toMatchObject({ code: 0, stdout: "function function function\n" });
}, 60_000);

/**
 * Stops the processes a test file started once each test (or the file) is over, whatever happened: a
 * test that fails halfway must not leave a scanner running behind it. SIGTERM first (`bun run` passes it
 * on to the script it runs), SIGKILL if it is still there after a few seconds.
 */
import { afterAll, afterEach } from "bun:test";
import type { Subprocess } from "bun";

const GRACE_MS = 5_000;

/** Returns `track(child)`, which registers a child and returns it; reaped after each test or after all. */
export function reaper(when: "each" | "all" = "each"): <C extends Subprocess>(child: C) => C {
  const live = new Set<Subprocess>();
  (when === "each" ? afterEach : afterAll)(async () => {
    await Promise.all(
      [...live].map(async (child) => {
        live.delete(child);
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), GRACE_MS);
        await child.exited;
        clearTimeout(timer);
      }),
    );
  });
  return (child) => {
    live.add(child);
    return child;
  };
}

/** What a child printed and how it ended. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a child (registered with `track`) to its end, its output read whole. */
export async function runToEnd(
  track: <C extends Subprocess>(child: C) => C,
  cmd: string[],
  options: { cwd: string; env: Record<string, string | undefined> },
): Promise<Finished> {
  const child = track(Bun.spawn(cmd, { ...options, stdout: "pipe", stderr: "pipe" }));
  const [code, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { code, stdout, stderr };
}

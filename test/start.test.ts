import { expect, test } from "bun:test";
import { ChildOutput } from "./support/child-output.ts";

test("`bun run start` shows actors working, a crash and a restart, and drains on SIGTERM", async () => {
  const child = Bun.spawn(["bun", "src/main.ts", "--rate", "2000"], {
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new ChildOutput(child.stderr);
  await stderr.waitFor(/\[restarted\]/);
  child.kill("SIGTERM");
  await stderr.rest();
  expect(await child.exited).toBe(0);
  expect(stderr.text).toContain('[crashed] {"actor":"flaky"');
  expect(stderr.text).toContain("[stopped] drained=true undelivered=0");
  expect(await new Response(child.stdout).text()).toMatch(/tally: \d+ done, \d+\/s, 0 restarts/);
}, 20_000);

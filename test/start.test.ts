import { expect, test } from "bun:test";
import { ChildOutput } from "./support/child-output.ts";

const ROOT = new URL("..", import.meta.url).pathname;

test("`bun run start` runs the scanner on the embedded default, serves the control API, and drains on SIGTERM", async () => {
  const child = Bun.spawn(["bun", "run", "start"], {
    cwd: ROOT,
    env: { ...process.env, TROUPE_HTTP_PORT: "0", TROUPE_RATE: "2000", REDIS_URL: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new ChildOutput(child.stderr);
  const banner = await stderr.waitFor(/control API (http:\/\/\S+)/);
  const url = /control API (http:\/\/\S+)/.exec(banner)?.[1] as string;
  await stderr.waitFor(/in [\d,]+ \(\d+\/s\) \| wallet-analyzer \d+\/s lag \d+ \| pattern-recognition/);
  const health = await fetch(new URL("health", url));
  expect(health.status).toBe(200);
  const actors = (await (await fetch(new URL("actors", url))).json()) as unknown;
  expect(JSON.stringify(actors)).toContain("sybil-detection");
  child.kill("SIGTERM");
  await stderr.rest();
  expect(await child.exited).toBe(0);
  expect(stderr.text).toContain("troupe scanner: role all, in-memory backend");
  expect(stderr.text).toContain("troupe scanner stopped");
}, 30_000);

test("bad configuration fails at start with a message naming the setting", async () => {
  const child = Bun.spawn(["bun", "run", "start"], {
    cwd: ROOT,
    env: { ...process.env, TROUPE_HTTP_PORT: "99999", REDIS_URL: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await child.exited).toBe(2);
  expect(await new Response(child.stderr).text()).toContain(
    "TROUPE_HTTP_PORT: must be a whole number from 0 to 65535",
  );
});

test("a port already taken fails at start naming the settings, not as a crash", async () => {
  const taken = Bun.serve({ port: 0, fetch: () => new Response("taken") });
  try {
    const child = Bun.spawn(["bun", "src/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, TROUPE_HTTP_PORT: String(taken.port), REDIS_URL: "" },
      stdout: "pipe",
      stderr: "pipe",
    });
    // It failed with exit 1 and Bun's message alone ("Failed to start server. Is port N in use?").
    expect(await child.exited).toBe(2);
    expect(await new Response(child.stderr).text()).toContain(
      `TROUPE_HTTP_HOST=127.0.0.1 TROUPE_HTTP_PORT=${taken.port}: cannot listen there:`,
    );
  } finally {
    taken.stop(true);
  }
});

test("bound off loopback without a token: refused at start, naming TROUPE_API_TOKEN", async () => {
  const child = Bun.spawn(["bun", "src/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      TROUPE_HTTP_HOST: "0.0.0.0",
      TROUPE_API_TOKEN: "",
      TROUPE_HTTP_PORT: "0",
      REDIS_URL: "",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await child.exited).toBe(2);
  expect(await new Response(child.stderr).text()).toBe(
    "invalid configuration:\n  TROUPE_API_TOKEN: required when TROUPE_HTTP_HOST (0.0.0.0) is not a loopback address: every route then needs it\n",
  );
});

test("--role analyze without REDIS_URL is refused", async () => {
  const child = Bun.spawn(["bun", "src/main.ts", "--role", "analyze"], {
    cwd: ROOT,
    env: { ...process.env, TROUPE_HTTP_PORT: "0", REDIS_URL: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await child.exited).toBe(2);
  expect(await new Response(child.stderr).text()).toContain("--role analyze needs REDIS_URL");
});

test("`bun run demo` shows actors working, a crash and a restart, and drains on SIGTERM", async () => {
  const child = Bun.spawn(["bun", "src/demo/main.ts", "--rate", "2000"], {
    cwd: ROOT,
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

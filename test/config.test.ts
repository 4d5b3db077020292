import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, redisAddressOf } from "../src/config.ts";

test("defaults: embedded backend, loopback HTTP, no token", () => {
  const config = loadConfig({});
  expect(config).toMatchObject({
    REDIS_URL: null,
    TROUPE_HTTP_HOST: "127.0.0.1",
    TROUPE_HTTP_PORT: 7070,
    TROUPE_API_TOKEN: null,
    TROUPE_RATE: 200,
    TROUPE_SEED: 1,
    TROUPE_CLAIM_IDLE_MS: 30_000,
    TROUPE_MAX_DELIVERIES: 5,
    TROUPE_DURABLE_STATE: "on",
    TROUPE_CHECKPOINT_EVERY: 8000,
    TROUPE_CHECKPOINT_MS: 1000,
    TROUPE_ANALYZER_LEASE_MS: 10_000,
    TROUPE_PENDING_BANDS: { high: 100, critical: 1000 },
    TROUPE_LAG_SECONDS_BANDS: { high: 10, critical: 60 },
    ALERT_WEBHOOK_URL: null,
    TROUPE_ALERTS_FILE: null,
    TROUPE_ALERTS_STDOUT: "auto",
  });
});

test("the default consumer name is the host name: a restarted process takes its own pending entries back", async () => {
  expect(loadConfig({}).TROUPE_CONSUMER).toBe(hostname());
  // Another process on this host (a restart) gets the same name.
  const child = Bun.spawn(
    [
      "bun",
      "-e",
      'import { loadConfig } from "./src/config.ts"; console.log(loadConfig({}).TROUPE_CONSUMER)',
    ],
    { cwd: new URL("..", import.meta.url).pathname, stdout: "pipe" },
  );
  expect((await new Response(child.stdout).text()).trim()).toBe(loadConfig({}).TROUPE_CONSUMER);
});

test("off loopback, the missing token is named by its variable", () => {
  expect(() => loadConfig({ TROUPE_HTTP_HOST: "0.0.0.0" })).toThrow(
    "invalid configuration:\n  TROUPE_API_TOKEN: required when TROUPE_HTTP_HOST (0.0.0.0) is not a loopback address: every route then needs it",
  );
  expect(loadConfig({ TROUPE_HTTP_HOST: "0.0.0.0", TROUPE_API_TOKEN: "a".repeat(16) }).TROUPE_HTTP_HOST).toBe(
    "0.0.0.0",
  );
  expect(loadConfig({ TROUPE_HTTP_HOST: "localhost" }).TROUPE_API_TOKEN).toBeNull();
});

test("alerts on stdout: auto, text, json or off; not text or json when TROUPE_ALERTS_FILE=- already writes there", () => {
  expect(loadConfig({ TROUPE_ALERTS_STDOUT: "json" }).TROUPE_ALERTS_STDOUT).toBe("json");
  expect(() => loadConfig({ TROUPE_ALERTS_STDOUT: "yes" })).toThrow(/TROUPE_ALERTS_STDOUT: Invalid option/);
  expect(() => loadConfig({ TROUPE_ALERTS_FILE: "-", TROUPE_ALERTS_STDOUT: "text" })).toThrow(
    "TROUPE_ALERTS_STDOUT: TROUPE_ALERTS_FILE=- already writes the alerts to stdout (JSON lines): leave this at auto, or off",
  );
  expect(loadConfig({ TROUPE_ALERTS_FILE: "-" }).TROUPE_ALERTS_STDOUT).toBe("auto");
  // Spaces around it dropped: " - " is stdout, "  " unset (a spec test: they were file names).
  expect(loadConfig({ TROUPE_ALERTS_FILE: " - " }).TROUPE_ALERTS_FILE).toBe("-");
  expect(loadConfig({ TROUPE_ALERTS_FILE: "  " }).TROUPE_ALERTS_FILE).toBeNull();
});

test("values are read from strings; an empty URL, token or file means unset", () => {
  const config = loadConfig({
    REDIS_URL: "redis://127.0.0.1:6390",
    TROUPE_HTTP_PORT: " 0 ",
    ALERT_WEBHOOK_URL: "",
  });
  expect(config.REDIS_URL).toBe("redis://127.0.0.1:6390");
  expect(config.TROUPE_HTTP_PORT).toBe(0);
  expect(config.ALERT_WEBHOOK_URL).toBeNull();
});

test("a number is decimal digits: an empty one, hex, binary or an exponent is named, not read as a number", () => {
  // A coercion read "" as 0 (TROUPE_HTTP_PORT= bound a random port, TROUPE_SEED= ran seed 0), 0x10 as 16.
  for (const bad of ["", "0x10", "0b11", "1e3", "-1", "8080.0"])
    expect(() => loadConfig({ TROUPE_HTTP_PORT: bad, TROUPE_SEED: bad })).toThrow(
      [
        "invalid configuration:",
        "  TROUPE_HTTP_PORT: must be a whole number from 0 to 65535",
        "  TROUPE_SEED: must be a whole number from 0 to 2147483647",
      ].join("\n"),
    );
});

test("URLs need a host and a port Redis or HTTP can use; a token is not blanks", () => {
  // "redis://" alone meant 127.0.0.1:6379 with the default prefix; a port past 65535 failed later, unnamed.
  for (const bad of ["redis://", "redis://127.0.0.1:99999", "redis://[::1"])
    expect(() => loadConfig({ REDIS_URL: bad })).toThrow(
      "REDIS_URL: must be a URL with a host and a port from 1 to 65535, e.g. redis://127.0.0.1:6379",
    );
  expect(() => loadConfig({ ALERT_WEBHOOK_URL: "http://" })).toThrow("ALERT_WEBHOOK_URL: must be a URL");
  expect(() => loadConfig({ TROUPE_API_TOKEN: " ".repeat(16) })).toThrow(
    "TROUPE_API_TOKEN: must be at least 16 characters",
  );
  // The spaces around it are not part of it: a client sends the token without them.
  expect(loadConfig({ TROUPE_API_TOKEN: "  spec-http-token-0123  " }).TROUPE_API_TOKEN).toBe(
    "spec-http-token-0123",
  );
});

test("the alerts file must be writable where it names: an existing folder, not a folder itself", () => {
  const dir = mkdtempSync(join(tmpdir(), "troupe-config-"));
  try {
    expect(loadConfig({ TROUPE_ALERTS_FILE: join(dir, "alerts.jsonl") }).TROUPE_ALERTS_FILE).toBe(
      join(dir, "alerts.jsonl"),
    );
    expect(() => loadConfig({ TROUPE_ALERTS_FILE: join(dir, "missing", "alerts.jsonl") })).toThrow(
      `TROUPE_ALERTS_FILE: ${join(dir, "missing", "alerts.jsonl")}: its directory ${join(dir, "missing")} does not exist`,
    );
    expect(() => loadConfig({ TROUPE_ALERTS_FILE: dir })).toThrow(
      `TROUPE_ALERTS_FILE: ${dir}: is a directory`,
    );
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("every bad setting is named at once", () => {
  expect(() =>
    loadConfig({
      REDIS_URL: "localhost:6379",
      TROUPE_HTTP_PORT: "70000",
      TROUPE_API_TOKEN: "short",
      TROUPE_RATE: "fast",
    }),
  ).toThrow(
    [
      "invalid configuration:",
      "  REDIS_URL: must start with redis:// or rediss://",
      "  TROUPE_HTTP_PORT: must be a whole number from 0 to 65535",
      "  TROUPE_API_TOKEN: must be at least 16 characters, not counting spaces around it",
      "  TROUPE_RATE: must be a whole number from 1 to 1000000",
    ].join("\n"),
  );
});

test("durable state settings: on or off, and a checkpoint interval of at least 1 entry and 1 ms", () => {
  expect(loadConfig({ TROUPE_DURABLE_STATE: "off", TROUPE_CHECKPOINT_MS: "250" })).toMatchObject({
    TROUPE_DURABLE_STATE: "off",
    TROUPE_CHECKPOINT_MS: 250,
  });
  expect(() => loadConfig({ TROUPE_DURABLE_STATE: "yes", TROUPE_CHECKPOINT_EVERY: "0" })).toThrow(
    /TROUPE_DURABLE_STATE: [^\n]*\n {2}TROUPE_CHECKPOINT_EVERY: must be a whole number from 1/,
  );
});

test("partitions of the keyed tx stream: unset by default, else an integer from 1 to 256", () => {
  expect(loadConfig({}).TROUPE_PARTITIONS).toBeNull();
  expect(loadConfig({ TROUPE_PARTITIONS: "8" }).TROUPE_PARTITIONS).toBe(8);
  for (const bad of ["0", "257", "2.5", "many"])
    expect(() => loadConfig({ TROUPE_PARTITIONS: bad })).toThrow(/TROUPE_PARTITIONS: /);
});

test("threads the partitions share: the machine's cores by default, else an integer from 1 to 256", () => {
  expect(loadConfig({}).TROUPE_PARTITION_THREADS).toBe(navigator.hardwareConcurrency);
  expect(loadConfig({ TROUPE_PARTITION_THREADS: "3" }).TROUPE_PARTITION_THREADS).toBe(3);
  for (const bad of ["0", "257", "1.5", "all"])
    expect(() => loadConfig({ TROUPE_PARTITION_THREADS: bad })).toThrow(/TROUPE_PARTITION_THREADS: /);
});

test("group status bands: warning and critical marks, the warning one lower; seconds may be fractional", () => {
  expect(loadConfig({ TROUPE_PENDING_BANDS: "50,500", TROUPE_LAG_SECONDS_BANDS: "2.5,30" })).toMatchObject({
    TROUPE_PENDING_BANDS: { high: 50, critical: 500 },
    TROUPE_LAG_SECONDS_BANDS: { high: 2.5, critical: 30 },
  });
  expect(() => loadConfig({ TROUPE_PENDING_BANDS: "1.5,10", TROUPE_LAG_SECONDS_BANDS: "60,10" })).toThrow(
    [
      "invalid configuration:",
      '  TROUPE_PENDING_BANDS: must be "<warning>,<critical>" in entries, e.g. 100,1000',
      "  TROUPE_LAG_SECONDS_BANDS: the warning mark must be above 0 and below the critical one",
    ].join("\n"),
  );
});

test("REDIS_CLUSTER_NODES: seed nodes as host:port or redis:// URLs; bad ones and REDIS_URL beside it are named", () => {
  const config = loadConfig({
    REDIS_CLUSTER_NODES: " 10.0.0.1:7000, redis://cache-2:7001 ,,",
    TROUPE_STREAM_PREFIX: "{troupe}:",
  });
  expect(config.REDIS_CLUSTER_NODES).toEqual(["10.0.0.1:7000", "redis://cache-2:7001"]);
  expect(redisAddressOf(config)).toEqual({ cluster: ["10.0.0.1:7000", "redis://cache-2:7001"] });
  expect(loadConfig({ REDIS_CLUSTER_NODES: "" }).REDIS_CLUSTER_NODES).toBeNull();
  expect(redisAddressOf(loadConfig({ REDIS_URL: "redis://h:1" }))).toBe("redis://h:1");
  expect(() => loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000,10.0.0.2" })).toThrow(
    'REDIS_CLUSTER_NODES: "10.0.0.2" is not host:port',
  );
  expect(() =>
    loadConfig({ REDIS_CLUSTER_NODES: "h:7000", REDIS_URL: "redis://h:6379", TROUPE_STREAM_PREFIX: "{t}:" }),
  ).toThrow(
    "REDIS_CLUSTER_NODES: set either REDIS_URL (one server) or REDIS_CLUSTER_NODES (a cluster), not both",
  );
  // The analyzers' streams must share a slot: a checkpoint acks tx and findings entries in one script.
  expect(() => loadConfig({ REDIS_CLUSTER_NODES: "h:7000" })).toThrow(
    "TROUPE_STREAM_PREFIX: needs a hash tag",
  );
  expect(() => loadConfig({ TROUPE_STREAM_PREFIX: "a}b:" })).toThrow(
    "TROUPE_STREAM_PREFIX: a '{' or '}' only",
  );
  // Two tags: Redis hashes the first, so the second is no tag, whatever it looks like.
  expect(() => loadConfig({ TROUPE_STREAM_PREFIX: "{a}{b}:" })).toThrow(
    "TROUPE_STREAM_PREFIX: a '{' or '}' only",
  );
  // Commas alone name no seed node (it ran in memory without a word).
  expect(() => loadConfig({ REDIS_CLUSTER_NODES: " , ," })).toThrow(
    "REDIS_CLUSTER_NODES: names no seed node",
  );
});

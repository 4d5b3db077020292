import { expect, test } from "bun:test";
import { loadConfig } from "../src/config.ts";

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
    TROUPE_CHECKPOINT_EVERY: 1000,
    TROUPE_CHECKPOINT_MS: 1000,
    TROUPE_PENDING_BANDS: { high: 100, critical: 1000 },
    TROUPE_LAG_SECONDS_BANDS: { high: 10, critical: 60 },
    ALERT_WEBHOOK_URL: null,
  });
  expect(config.TROUPE_CONSUMER).toMatch(/-\d+$/);
});

test("values are coerced from strings; empty strings mean unset", () => {
  const config = loadConfig({
    REDIS_URL: "redis://127.0.0.1:6390",
    TROUPE_HTTP_PORT: "0",
    ALERT_WEBHOOK_URL: "",
  });
  expect(config.REDIS_URL).toBe("redis://127.0.0.1:6390");
  expect(config.TROUPE_HTTP_PORT).toBe(0);
  expect(config.ALERT_WEBHOOK_URL).toBeNull();
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
      "  TROUPE_HTTP_PORT: Too big: expected number to be <=65535",
      "  TROUPE_API_TOKEN: must be at least 16 characters",
      "  TROUPE_RATE: Invalid input: expected number, received NaN",
    ].join("\n"),
  );
});

test("durable state settings: on or off, and a checkpoint interval of at least 1 entry and 1 ms", () => {
  expect(loadConfig({ TROUPE_DURABLE_STATE: "off", TROUPE_CHECKPOINT_MS: "250" })).toMatchObject({
    TROUPE_DURABLE_STATE: "off",
    TROUPE_CHECKPOINT_MS: 250,
  });
  expect(() => loadConfig({ TROUPE_DURABLE_STATE: "yes", TROUPE_CHECKPOINT_EVERY: "0" })).toThrow(
    /TROUPE_DURABLE_STATE: [^\n]*\n {2}TROUPE_CHECKPOINT_EVERY: Too small/,
  );
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

import { test } from "bun:test";
import { redisAvailable } from "../support/redis-server.ts";
import { redisSuite } from "./harness.ts";
import { runPumpSuite } from "./pump-suite.ts";

if (redisAvailable()) {
  const { create, faulty } = redisSuite();
  runPumpSuite("redis", create, { faulty });
} else {
  test.skip("redis pump (no REDIS_URL and no redis-server)", () => {});
}

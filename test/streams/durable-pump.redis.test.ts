import { test } from "bun:test";
import { redisAvailable } from "../support/redis-server.ts";
import { runDurablePumpSuite } from "./durable-pump-suite.ts";
import { redisSuite } from "./harness.ts";

if (redisAvailable()) {
  const { create, faulty } = redisSuite();
  runDurablePumpSuite("redis", create, faulty);
} else {
  test.skip("redis durable pump (no REDIS_URL and no redis-server)", () => {});
}

import { test } from "bun:test";
import { redisServerInstalled } from "../support/redis-server.ts";
import { redisClusterSuite } from "./harness.ts";
import { runPumpSuite } from "./pump-suite.ts";

if (redisServerInstalled()) {
  const { create } = redisClusterSuite();
  runPumpSuite("redis cluster", create, { faulty: create });
} else {
  test.skip("redis cluster pump (no redis-server)", () => {});
}

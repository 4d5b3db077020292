import { test } from "bun:test";
import { redisServerInstalled } from "../support/redis-server.ts";
import { runDurablePumpSuite } from "./durable-pump-suite.ts";
import { redisClusterSuite } from "./harness.ts";

if (redisServerInstalled()) {
  const { create } = redisClusterSuite();
  runDurablePumpSuite("redis cluster", create, create);
} else {
  test.skip("redis cluster durable pump (no redis-server)", () => {});
}

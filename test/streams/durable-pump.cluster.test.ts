import { setDefaultTimeout, test } from "bun:test";
import { redisServerInstalled } from "../support/redis-server.ts";
import { runDurablePumpSuite } from "./durable-pump-suite.ts";
import { redisClusterSuite } from "./harness.ts";

// The first test starts a 3-master cluster (redis-cli waits for the join): 2-5 s on a loaded box, and a
// test that times out has bun kill every process the file spawned, servers included.
setDefaultTimeout(30_000);

if (redisServerInstalled()) {
  const { create } = redisClusterSuite();
  runDurablePumpSuite("redis cluster", create, create);
} else {
  test.skip("redis cluster durable pump (no redis-server)", () => {});
}

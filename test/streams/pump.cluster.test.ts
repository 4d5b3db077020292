import { setDefaultTimeout, test } from "bun:test";
import { redisServerInstalled } from "../support/redis-server.ts";
import { redisClusterSuite } from "./harness.ts";
import { runPumpSuite } from "./pump-suite.ts";

// The first test starts a 3-master cluster (redis-cli waits for the join): 2-5 s on a loaded box, and a
// test that times out has bun kill every process the file spawned, servers included.
setDefaultTimeout(30_000);

if (redisServerInstalled()) {
  const { create } = redisClusterSuite();
  runPumpSuite("redis cluster", create, { faulty: create });
} else {
  test.skip("redis cluster pump (no redis-server)", () => {});
}

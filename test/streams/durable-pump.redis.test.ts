import { setDefaultTimeout, test } from "bun:test";
import { redisAvailable } from "../support/redis-server.ts";
import { runDurablePumpSuite } from "./durable-pump-suite.ts";
import { redisSuite } from "./harness.ts";

// A test that times out has bun 1.4.5 kill every process the file spawned (its private redis-server too),
// so one slow test on a loaded box fails the rest of the file: 30 s each, not bun's 5 s.
setDefaultTimeout(30_000);

if (redisAvailable()) {
  const { create, faulty } = redisSuite();
  runDurablePumpSuite("redis", create, faulty);
} else {
  test.skip("redis durable pump (no REDIS_URL and no redis-server)", () => {});
}

import { setDefaultTimeout, test } from "bun:test";
import { redisAvailable } from "../support/redis-server.ts";
import { runStreamContract } from "./contract.ts";
import { redisSuite } from "./harness.ts";
import { runLeaseContract } from "./lease-contract.ts";
import { runOpsSuite } from "./ops-suite.ts";
import { runOwnershipSuite } from "./ownership-suite.ts";
import { runPartitionContract } from "./partition-contract.ts";
import { runStateStoreContract } from "./state-contract.ts";

// A test that times out has bun 1.4.5 kill every process the file spawned (its private redis-server too),
// so one slow test on a loaded box fails the rest of the file: 30 s each, not bun's 5 s.
setDefaultTimeout(30_000);

if (redisAvailable()) {
  const { create, faulty } = redisSuite();
  runStreamContract("redis", create, faulty);
  runOpsSuite("redis", create);
  runStateStoreContract("redis", create, faulty);
  runPartitionContract("redis", create);
  runLeaseContract("redis", create, { losesData: true });
  runOwnershipSuite("redis", create);
} else {
  test.skip("redis streams (no REDIS_URL and no redis-server)", () => {});
}

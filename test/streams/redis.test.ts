import { test } from "bun:test";
import { redisAvailable } from "../support/redis-server.ts";
import { runStreamContract } from "./contract.ts";
import { redisSuite } from "./harness.ts";
import { runLeaseContract } from "./lease-contract.ts";
import { runOpsSuite } from "./ops-suite.ts";
import { runOwnershipSuite } from "./ownership-suite.ts";
import { runPartitionContract } from "./partition-contract.ts";
import { runStateStoreContract } from "./state-contract.ts";

if (redisAvailable()) {
  const { create, faulty } = redisSuite();
  runStreamContract("redis", create, faulty);
  runOpsSuite("redis", create);
  runStateStoreContract("redis", create, faulty);
  runPartitionContract("redis", create);
  runLeaseContract("redis", create);
  runOwnershipSuite("redis", create);
} else {
  test.skip("redis streams (no REDIS_URL and no redis-server)", () => {});
}

/**
 * The stream backend contract, its operations and the state store contract on a real 3-master Redis
 * Cluster (redis-cluster.ts): every script and pipeline the backend sends must touch one slot.
 */
import { setDefaultTimeout, test } from "bun:test";
import { redisServerInstalled } from "../support/redis-server.ts";
import { runStreamContract } from "./contract.ts";
import { redisClusterSuite } from "./harness.ts";
import { runLeaseContract } from "./lease-contract.ts";
import { runOpsSuite } from "./ops-suite.ts";
import { runOwnershipSuite } from "./ownership-suite.ts";
import { runPartitionContract } from "./partition-contract.ts";
import { runStateStoreContract } from "./state-contract.ts";

// The first test starts a 3-master cluster (redis-cli waits for the join): 2-5 s on a loaded box, and a
// test that times out has bun kill every process the file spawned, servers included.
setDefaultTimeout(30_000);

if (redisServerInstalled()) {
  const { create } = redisClusterSuite();
  runStreamContract("redis cluster", create, create);
  runOpsSuite("redis cluster", create);
  runStateStoreContract("redis cluster", create, create);
  runPartitionContract("redis cluster", create);
  runLeaseContract("redis cluster", create, { losesData: true });
  runOwnershipSuite("redis cluster", create);
} else {
  test.skip("redis cluster streams (no redis-server)", () => {});
}

import { runStreamContract } from "./contract.ts";
import { memoryHarness } from "./harness.ts";
import { runLeaseContract } from "./lease-contract.ts";
import { runOpsSuite } from "./ops-suite.ts";
import { runPartitionContract } from "./partition-contract.ts";
import { runStateStoreContract } from "./state-contract.ts";

runStreamContract("memory", memoryHarness, memoryHarness);
runOpsSuite("memory", memoryHarness);
runStateStoreContract("memory", memoryHarness, memoryHarness);
runPartitionContract("memory", memoryHarness);
runLeaseContract("memory", memoryHarness);

import { runStreamContract } from "./contract.ts";
import { memoryHarness } from "./harness.ts";
import { runOpsSuite } from "./ops-suite.ts";

runStreamContract("memory", memoryHarness, memoryHarness);
runOpsSuite("memory", memoryHarness);

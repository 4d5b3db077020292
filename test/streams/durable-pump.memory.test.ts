import { runDurablePumpSuite } from "./durable-pump-suite.ts";
import { memoryHarness } from "./harness.ts";

runDurablePumpSuite("memory", memoryHarness, memoryHarness);

import { memoryHarness } from "./harness.ts";
import { runPumpSuite } from "./pump-suite.ts";

runPumpSuite("memory", memoryHarness, { faulty: memoryHarness });

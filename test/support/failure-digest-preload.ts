/** Prints the failure digest (failure-digest.ts) after the last test file: a global `afterAll`. */
import { afterAll } from "bun:test";
import { failureDigest } from "./failure-digest.ts";

afterAll(() => {
  const digest = failureDigest();
  if (digest !== null) process.stderr.write(digest);
});

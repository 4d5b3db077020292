/** A generated workload written as a recording `bun run start --replay` reads: one canonical event a line. */

import type { ChainEvent } from "../../src/detection/schema.ts";
import { generate } from "../../src/ingest/generator.ts";

/** Writes the first `maxEvents` events of `seed` to `path`; returns them, in file order. */
export async function writeRecording(path: string, seed: number, maxEvents: number): Promise<ChainEvent[]> {
  const events = [...generate({ seed, maxEvents }).events()];
  await Bun.write(path, `${events.map((e) => JSON.stringify(e)).join("\n")}\n`);
  return events;
}

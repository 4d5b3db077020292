/**
 * Child side of run-isolated.ts: `bun bench/lib/child.ts <module href> <export> <args as JSON>` imports the
 * module, awaits the export called with the arguments, and prints each measurement on a marked stdout line.
 */
import type { Measurement } from "./report.ts";
import { RESULT_MARKER } from "./run-isolated.ts";

const [href, fn, argsJson = "[]"] = Bun.argv.slice(2);
if (href === undefined || fn === undefined) {
  throw new Error("usage: bun bench/lib/child.ts <module href> <export> [args as JSON]");
}
const mod: Record<string, unknown> = await import(href);
const measure = mod[fn];
if (typeof measure !== "function") throw new Error(`${href} does not export a function "${fn}"`);
const result = (await measure(...(JSON.parse(argsJson) as unknown[]))) as Measurement | Measurement[];
const list = Array.isArray(result) ? result : [result];
await Bun.write(Bun.stdout, list.map((m) => `${RESULT_MARKER}${JSON.stringify(m)}\n`).join(""));
// Exit at once: a variant may leave workers or Redis reconnect timers behind, and they must not keep the
// child (and so the whole run) alive.
process.exit(0);

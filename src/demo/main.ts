/** `bun run demo`: the runtime demo (actors, a crash, a restart) without the scanner. */
import { parseArgs } from "node:util";
import { runDemo } from "./demo.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "0" },
    rate: { type: "string", default: "2000" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: bun run demo [--seconds N] [--rate MSG_PER_S]\n  runs the Troupe runtime demo until SIGINT/SIGTERM",
  );
  process.exit(0);
}
const seconds = Number(values.seconds);
const rate = Number(values.rate);
if (!Number.isInteger(seconds) || seconds < 0) {
  console.error(`--seconds: must be an integer ≥ 0, got ${values.seconds}`);
  process.exit(2);
}
if (!Number.isInteger(rate) || rate <= 0) {
  console.error(`--rate: must be a positive integer, got ${values.rate}`);
  process.exit(2);
}
await runDemo({ seconds, rate });
process.exit(0);

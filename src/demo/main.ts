/** `bun run demo`: the runtime demo (actors, a crash, a restart) without the scanner. */
import { parseCommandLine, usageError } from "../command-line.ts";
import { runDemo } from "./demo.ts";

const USAGE = `usage: bun run demo [--seconds N] [--rate MSG_PER_S]
  runs the Troupe runtime demo (actors, a crash, a restart) until SIGINT / SIGTERM

  --seconds   stop after N seconds (default 0: run until stopped)
  --rate      messages per second (default 2000)
  -h, --help  this text`;

function fail(message: string): never {
  return usageError(USAGE, message);
}

const values = parseCommandLine(USAGE, {
  seconds: { type: "string", default: "0" },
  rate: { type: "string", default: "2000" },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);
if (!Number.isInteger(seconds) || seconds < 0)
  fail(`--seconds: must be an integer ≥ 0, got ${values.seconds}`);
if (!Number.isInteger(rate) || rate <= 0) fail(`--rate: must be a positive integer, got ${values.rate}`);
await runDemo({ seconds, rate });
process.exit(0);

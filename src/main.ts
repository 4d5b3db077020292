/**
 * `bun run start`: the on-chain scanner. With no configuration: the synthetic transaction monitor at
 * TROUPE_RATE events/s, on the in-memory backend, the three analyzers, the alert sinks and the HTTP
 * control API. With REDIS_URL: the same on Redis, and `--role ingest|analyze` splits the work across
 * processes. Configuration: environment variables (src/config.ts, README); exit code 2 on bad input.
 */
import { parseArgs } from "node:util";
import { CONFIG_VARIABLES, loadConfig } from "./config.ts";
import { type Role, runScanner } from "./scanner/app.ts";

const USAGE = `usage: bun run start [--role all|ingest|analyze] [--replay FILE [--pace full|recorded]] [--seconds N]

  --role      all (default): ingest and analyze; ingest: only write the tx stream; analyze: only consume it
              (ingest / analyze need REDIS_URL, so several processes share the streams)
  --replay    feed a recorded JSONL file (canonical or PumpPortal-shaped lines) instead of the generator
  --pace      full (default) or recorded (keep the recorded gaps)
  --seconds   stop after N seconds (default: run until SIGINT / SIGTERM)

environment: ${CONFIG_VARIABLES.join(", ")}`;

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        role: { type: "string", default: "all" },
        replay: { type: "string" },
        pace: { type: "string", default: "full" },
        seconds: { type: "string", default: "0" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    return fail(`${(error as Error).message}\n\n${USAGE}`);
  }
})();

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const role = values.role as Role;
if (!["all", "ingest", "analyze"].includes(role))
  fail(`--role: must be all, ingest or analyze, got ${values.role}`);
if (values.pace !== "full" && values.pace !== "recorded")
  fail(`--pace: must be full or recorded, got ${values.pace}`);
const seconds = Number(values.seconds);
if (!Number.isInteger(seconds) || seconds < 0)
  fail(`--seconds: must be an integer ≥ 0, got ${values.seconds}`);
if (values.replay && !(await Bun.file(values.replay).exists()))
  fail(`--replay: no such file: ${values.replay}`);

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  fail((error as Error).message);
}

const stop = new AbortController();
process.on("SIGINT", () => stop.abort());
process.on("SIGTERM", () => stop.abort());
if (seconds > 0) setTimeout(() => stop.abort(), seconds * 1000);
try {
  await runScanner(
    { config, role, replay: values.replay ?? null, pace: values.pace, progress: true },
    stop.signal,
  );
} catch (error) {
  fail((error as Error).message);
}
console.error("troupe scanner stopped");
process.exit(0);

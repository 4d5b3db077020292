/**
 * `bun run start`: the on-chain scanner. With no configuration: the synthetic transaction monitor at
 * TROUPE_RATE events/s, on the in-memory backend, the three analyzers, the alert sinks and the HTTP
 * control API. With REDIS_URL: the same on Redis, and `--role ingest|analyze` splits the work across
 * processes. Configuration: environment variables (src/config.ts, README); exit code 2 on bad input.
 */
import { existsSync } from "node:fs";
import { parseCommandLine, USAGE_EXIT_CODE, usageError } from "./command-line.ts";
import { CONFIG_VARIABLES, loadConfig } from "./config.ts";
import { type Role, runScanner } from "./scanner/app.ts";
import { ScannerError } from "./scanner/errors.ts";
import { Terminal } from "./scanner/terminal.ts";

const USAGE = `usage: bun run start [--role all|ingest|analyze]
                     [--replay FILE [--pace full|recorded] [--resume-after N] [--keep-running]] [--seconds N]

  --role          all (default): ingest and analyze; ingest: only write the tx stream; analyze: only consume
                  it (ingest / analyze need REDIS_URL, so several processes share the streams)
  --replay        feed a recording instead of the generator: JSON lines (or one JSON array) of canonical
                  events, PumpPortal messages or Solana getTransaction responses (encoding "json"); stops
                  once the analyzers and alert sinks processed all of it, with a summary
  --pace          full (default) or recorded (keep the recorded gaps)
  --resume-after  skip the file's lines (or array elements) up to N (0: from the start). Without it, a
                  replay of a file an earlier run replayed into the same tx stream (stopped, crashed or
                  done) goes on after the last line that run wrote
  --keep-running  after a replay and its summary, keep running (serving the control API) until SIGINT /
                  SIGTERM
  --seconds       stop after N seconds (default: run until SIGINT / SIGTERM)

Alerts go to stdout: a readable line each on a terminal, JSON lines when piped (TROUPE_ALERTS_STDOUT);
the progress line to stderr.

environment: ${CONFIG_VARIABLES.join(", ")}`;

function fail(message: string): never {
  return usageError(USAGE, message);
}

const values = parseCommandLine(USAGE, {
  role: { type: "string", default: "all" },
  replay: { type: "string" },
  pace: { type: "string", default: "full" },
  seconds: { type: "string", default: "0" },
  "resume-after": { type: "string" },
  "keep-running": { type: "boolean", default: false },
});
const role = values.role as Role;
if (!["all", "ingest", "analyze"].includes(role))
  fail(`--role: must be all, ingest or analyze, got ${values.role}`);
if (values.pace !== "full" && values.pace !== "recorded")
  fail(`--pace: must be full or recorded, got ${values.pace}`);
const seconds = Number(values.seconds);
if (!Number.isInteger(seconds) || seconds < 0)
  fail(`--seconds: must be an integer ≥ 0, got ${values.seconds}`);
if (values.replay && !(await Bun.file(values.replay).exists()))
  fail(
    `--replay: ${existsSync(values.replay) ? "a directory, not a file" : "no such file"}: ${values.replay}`,
  );
if (values.replay && role === "analyze") fail("--replay: feeds the tx stream, so not with --role analyze");
if (values["keep-running"] && !values.replay) fail("--keep-running: only with --replay");
if (values.pace !== "full" && !values.replay) fail("--pace: only with --replay");
const resumeFlag = values["resume-after"];
const resumeAfter =
  resumeFlag === undefined ? null : /^\d{1,15}$/.test(resumeFlag) ? Number(resumeFlag) : Number.NaN;
if (Number.isNaN(resumeAfter)) fail(`--resume-after: must be an integer ≥ 0, got ${resumeFlag}`);
if (resumeAfter !== null && !values.replay) fail("--resume-after: only with --replay");

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  console.error((error as Error).message);
  process.exit(USAGE_EXIT_CODE);
}

const stop = new AbortController();
let running = false;
/**
 * A signal stops the scanner, draining what it holds, once it runs. Before that (a restore, a cluster
 * whose slot map names no reachable node) there is nothing to drain and the set-up may wait on Redis for
 * good, so a signal ends the process at once. A repeated signal is not a "force": `bun run start` passes
 * a terminal's Ctrl-C on to this process, which the terminal signalled already.
 */
const onSignal = (name: string) => {
  if (running) return stop.abort();
  console.error(`troupe scanner: ${name} while starting: stopped`);
  process.exit(0);
};
process.on("SIGINT", () => onSignal("SIGINT"));
process.on("SIGTERM", () => onSignal("SIGTERM"));
if (seconds > 0) setTimeout(() => stop.abort(), seconds * 1000);
try {
  await runScanner(
    {
      config,
      role,
      replay: values.replay ?? null,
      pace: values.pace,
      resumeAfter,
      keepRunning: values["keep-running"],
      terminal: new Terminal(),
      progress: true,
      onRunning: () => {
        running = true;
      },
    },
    stop.signal,
  );
} catch (error) {
  console.error((error as Error).message);
  // Bad configuration is the user's to fix (2); anything else failed at run time (1).
  process.exit(error instanceof ScannerError && error.code === "ERR_CONFIG" ? USAGE_EXIT_CODE : 1);
}
console.error("troupe scanner stopped");
process.exit(0);

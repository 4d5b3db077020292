/**
 * `bun run monitor`: a terminal view of a running instance, read from its control API.
 *
 *   bun run monitor [--url http://127.0.0.1:7070/] [--token T] [--once] [--json] [--interval MS]
 *
 * Data goes to stdout, errors to stderr. Exit codes: 0 ok; 1 the API could not be read (`--once`);
 * 2 bad usage. The token defaults to TROUPE_API_TOKEN (needed only when the API is bound off loopback).
 */
import { parseCommandLine, usageError } from "../command-line.ts";
import { readFrame } from "./client.ts";
import { renderFrame } from "./render.ts";
import { openScreen } from "./screen.ts";

const USAGE = `usage: bun run monitor [options]
  --url URL        control API of the instance (default $TROUPE_MONITOR_URL or http://127.0.0.1:7070/)
  --token TOKEN    bearer token (default $TROUPE_API_TOKEN)
  --once           print one frame and exit (exit 1 if the API cannot be read)
  --json           with --once: print the frame as JSON
  --interval MS    refresh period (default 1000)
  -h, --help       this text`;

function fail(message: string): never {
  return usageError(USAGE, message);
}

const parsed = parseCommandLine(USAGE, {
  // An empty variable means unset, as for `bun run start`.
  url: { type: "string", default: process.env.TROUPE_MONITOR_URL?.trim() || "http://127.0.0.1:7070/" },
  token: { type: "string", default: process.env.TROUPE_API_TOKEN?.trim() ?? "" },
  once: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  interval: { type: "string", default: "1000" },
});
if (!URL.canParse(parsed.url) || !/^https?:$/.test(new URL(parsed.url).protocol)) {
  fail(`--url: must be an http(s) URL, got ${parsed.url}`);
}
const intervalMs = Number(parsed.interval);
if (!Number.isInteger(intervalMs) || intervalMs < 100)
  fail(`--interval: must be an integer >= 100, got ${parsed.interval}`);
if (parsed.json && !parsed.once) fail("--json: only with --once");

// Relative reads (health, actors, streams) must stay under a mount prefix such as /ops.
const url = parsed.url.endsWith("/") ? parsed.url : `${parsed.url}/`;
const client = { url, token: parsed.token || null, timeoutMs: Math.max(1000, intervalMs * 2) };
const tty = process.stdout.isTTY === true;
const color = tty && !process.env.NO_COLOR;
const width = () => (tty ? (process.stdout.columns ?? 100) : 120);

if (parsed.once) {
  const frame = await readFrame(client);
  if (parsed.json) console.log(JSON.stringify(frame, null, 2));
  else console.log(renderFrame(frame, { color, width: width() }));
  const unreachable = frame.readiness === null && frame.actors === null && frame.streams === null;
  if (unreachable) console.error(`cannot read ${url}: ${frame.errors.join("; ")}`);
  process.exit(unreachable ? 1 : 0);
}

const screen = openScreen(tty);
let stopped = false;
screen.quit.then(() => {
  stopped = true;
});
while (!stopped) {
  const frame = await readFrame(client);
  if (stopped) break;
  screen.draw(renderFrame(frame, { color, width: width() }));
  await Promise.race([Bun.sleep(intervalMs), screen.quit]);
}
screen.close();
process.exit(0);

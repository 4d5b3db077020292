/** Alert sinks against real local HTTP servers and real files, fed through the alerts stream by a real pump. */
import { afterEach, expect, test } from "bun:test";
import { appendFile, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { Alert } from "../../src/detection/alert.ts";
import { type RunningSinks, startSinks } from "../../src/scanner/sinks.ts";
import { topology } from "../../src/scanner/topology.ts";
import { DeadLetters } from "../../src/streams/dead-letters.ts";
import { untilDrained } from "../../src/streams/drained.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";

const backend = new MemoryStreamBackend();
let sinks: RunningSinks | undefined;
let server: ReturnType<typeof Bun.serve> | undefined;
afterEach(async () => {
  await sinks?.stop();
  await server?.stop(true);
});

function alert(n: number): Alert {
  return {
    alertId: `alert-${n}`,
    groupId: `group-${n}`,
    detector: "fresh_sniper",
    analyzer: "wallet",
    severity: "med",
    score: 0.5,
    mint: `mint-${n}`,
    key: `mint-${n}`,
    wallets: [`w-${n}`],
    windowStart: n,
    detectedAt: n,
    triggerId: `sig-${n}:0`,
    timing: "exact",
    evidence: {},
    events: [`sig-${n}:0`],
  };
}

/** Alerts numbered `alerts` appended to `names`' alerts stream. */
async function feed(names: ReturnType<typeof topology>, alerts: number[]) {
  await backend.appendBatch(
    names.alerts,
    alerts.map((n) => defaultCodec.encode(alert(n))),
  );
}

const fast = { attempts: 4, backoffMinMs: 10, backoffMaxMs: 40, timeoutMs: 1000 };

/** Writes `count` alerts, runs the sinks over them until every alert is acked or dead-lettered. */
async function deliver(count: number, sink: { alertsFile?: string; webhookUrl?: string }) {
  const names = topology(`t${crypto.randomUUID()}:`);
  await feed(
    names,
    Array.from({ length: count }, (_, n) => n),
  );
  sinks = await startSinks({
    backend,
    topology: names,
    consumer: "c",
    alertsFile: sink.alertsFile ?? null,
    webhookUrl: sink.webhookUrl ?? null,
    webhook: fast,
    pump: { sweepIntervalMs: 0, blockMs: 50 },
  });
  await untilDrained(backend, sinks.pumps.values());
  return names;
}

test("a webhook that fails its first requests receives every alert once it recovers", async () => {
  const received: string[] = [];
  let calls = 0;
  server = Bun.serve({
    port: 0,
    async fetch(req) {
      calls++;
      if (calls <= 3) return new Response("down", { status: 503 });
      const body = (await req.json()) as Alert;
      expect(req.headers.get("idempotency-key")).toBe(body.alertId);
      received.push(body.alertId);
      return new Response(null, { status: 204 });
    },
  });
  const names = await deliver(20, { webhookUrl: server.url.href });
  expect(new Set(received)).toEqual(new Set(Array.from({ length: 20 }, (_, n) => `alert-${n}`)));
  expect((await new DeadLetters(backend, names.alertDeadLetters).list({}, { count: 10 })).letters).toEqual(
    [],
  );
});

test("a webhook that never recovers leaves the alerts in the dead-letter stream", async () => {
  server = Bun.serve({ port: 0, fetch: () => new Response("nope", { status: 500 }) });
  const names = await deliver(5, { webhookUrl: server.url.href });
  const letters = (await new DeadLetters(backend, names.alertDeadLetters).list({}, { count: 10 })).letters;
  expect(letters).toHaveLength(5);
  for (const letter of letters) {
    expect(letter.reason).toBe("handler-failed");
    expect(letter.error).toBe("webhook failed 4 times, last: HTTP 500");
  }
});

test("a webhook that redirects is not a delivery: the alerts are dead-lettered naming where it points", async () => {
  const received: string[] = [];
  server = Bun.serve({
    port: 0,
    async fetch(req) {
      // Followed, a 302 turns the POST into a GET without the alert, which this answers 200.
      if (new URL(req.url).pathname === "/moved") {
        received.push(req.method);
        return new Response("ok");
      }
      return new Response(null, { status: 302, headers: { location: "/moved" } });
    },
  });
  const names = await deliver(3, { webhookUrl: server.url.href });
  expect(received).toEqual([]);
  const letters = (await new DeadLetters(backend, names.alertDeadLetters).list({}, { count: 10 })).letters;
  expect(letters.map((l) => l.error)).toEqual(
    Array.from({ length: 3 }, () => "webhook failed 4 times, last: HTTP 302, redirected to /moved"),
  );
});

test("stopping the sinks ends a post that hangs at once: its alert stays pending, not dead-lettered", async () => {
  let reached: () => void = () => {};
  const posted = new Promise<void>((resolve) => {
    reached = resolve;
  });
  server = Bun.serve({
    port: 0,
    fetch: () => {
      reached();
      return new Promise<Response>(() => {});
    },
  });
  const names = topology(`t${crypto.randomUUID()}:`);
  await feed(names, [0]);
  sinks = await startSinks({
    backend,
    topology: names,
    consumer: "c",
    alertsFile: null,
    webhookUrl: server.url.href,
    webhook: { ...fast, timeoutMs: 60_000 },
    pump: { sweepIntervalMs: 0, blockMs: 50, stopTimeoutMs: 60_000 },
  });
  await posted;
  const started = performance.now();
  await sinks.stop();
  sinks = undefined;
  expect(performance.now() - started).toBeLessThan(5_000);
  expect(await backend.pending(names.alerts, names.sinkGroups.webhook, { count: 10 })).toHaveLength(1);
  expect((await new DeadLetters(backend, names.alertDeadLetters).list({}, { count: 10 })).letters).toEqual(
    [],
  );
});

test("the JSONL sink writes one line per alert", async () => {
  const path = `${tmpdir()}/troupe-alerts-${crypto.randomUUID()}.jsonl`;
  await deliver(7, { alertsFile: path });
  await sinks?.stop();
  sinks = undefined;
  const lines = (await Bun.file(path).text())
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Alert);
  expect(lines.map((a) => a.alertId)).toEqual(Array.from({ length: 7 }, (_, n) => `alert-${n}`));
});

/**
 * A file sink started on `path` as a restarted process would be, with `alerts` waiting in its stream (the
 * unacked ones redelivered, then new ones): drains them, stops, and returns the file's text.
 */
async function restartFileSink(path: string, alerts: number[]): Promise<string> {
  const names = topology(`t${crypto.randomUUID()}:`);
  await feed(names, alerts);
  await startFileSink(names, path);
  return drainedFile(path);
}

/** The JSONL sink alone on `names`' alerts stream, writing to `path`. */
async function startFileSink(names: ReturnType<typeof topology>, path: string) {
  sinks = await startSinks({
    backend,
    topology: names,
    consumer: "c",
    alertsFile: path,
    webhookUrl: null,
    webhook: fast,
    pump: { sweepIntervalMs: 0, blockMs: 50 },
  });
}

/** Once every alert is acked, stops the sinks and returns the file's text. */
async function drainedFile(path: string): Promise<string> {
  await untilDrained(backend, (sinks as RunningSinks).pumps.values());
  await sinks?.stop();
  sinks = undefined;
  return Bun.file(path).text();
}

const alertIds = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as Alert).alertId);

test("the JSONL sink appends after a restart, cuts a torn last line, and never writes an alert id twice", async () => {
  const path = `${tmpdir()}/troupe-alerts-${crypto.randomUUID()}.jsonl`;
  // What a killed process leaves: alerts 0–2 flushed (2 was never acked: it comes again), then a torn line.
  const before = [0, 1, 2].map((n) => JSON.stringify(alert(n))).join("\n");
  await Bun.write(path, `${before}\n${JSON.stringify(alert(3)).slice(0, 20)}`);
  // The next process is redelivered 2 and 3 (unacked), then gets 4 and 5.
  const text = await restartFileSink(path, [2, 3, 4, 5]);
  expect(alertIds(text)).toEqual([0, 1, 2, 3, 4, 5].map((n) => `alert-${n}`));
});

test("the JSONL sink keeps a whole last line it did not write (a note), giving it its newline", async () => {
  const path = `${tmpdir()}/troupe-alerts-${crypto.randomUUID()}.jsonl`;
  await Bun.write(path, `${JSON.stringify(alert(0))}\n{"note":"rotated by ops"}`);
  const text = await restartFileSink(path, [1]);
  expect(text).toBe(`${JSON.stringify(alert(0))}\n{"note":"rotated by ops"}\n${JSON.stringify(alert(1))}\n`);
});

test("the JSONL sink keeps a last line that lacks only its newline: that alert may have been acked", async () => {
  const path = `${tmpdir()}/troupe-alerts-${crypto.randomUUID()}.jsonl`;
  // Alerts 0–2 written and acked; the write of 2 stopped right before its newline.
  await Bun.write(path, [0, 1, 2].map((n) => JSON.stringify(alert(n))).join("\n"));
  const text = await restartFileSink(path, [3]);
  expect(text.endsWith("\n")).toBe(true);
  expect(alertIds(text)).toEqual([0, 1, 2, 3].map((n) => `alert-${n}`));
});

test("the JSONL sink reads what another process appended to its file since it opened it: an alert that process wrote is not written twice", async () => {
  const path = `${tmpdir()}/troupe-alerts-${crypto.randomUUID()}.jsonl`;
  const names = topology(`t${crypto.randomUUID()}:`);
  await startFileSink(names, path);
  // Another process on the same file wrote alert 2 and died before acking it: its entry comes here (a claim).
  await appendFile(path, `${JSON.stringify(alert(2))}\n`);
  await feed(names, [1, 2, 3]);
  expect(alertIds(await drainedFile(path))).toEqual(["alert-2", "alert-1", "alert-3"]);
});

test("the JSONL sink reads a file cut short under it (logrotate's copytruncate) from its start", async () => {
  const path = `${tmpdir()}/troupe-alerts-${crypto.randomUUID()}.jsonl`;
  // A long history before the cut, so that the lines after it end before where the sink had read to.
  await Bun.write(
    path,
    `${Array.from({ length: 50 }, (_, n) => JSON.stringify(alert(100 + n))).join("\n")}\n`,
  );
  const names = topology(`t${crypto.randomUUID()}:`);
  await startFileSink(names, path);
  await truncate(path, 0);
  // Another process on the file wrote alert 2 after the cut and died before acking it.
  await appendFile(path, `${JSON.stringify(alert(2))}\n`);
  await feed(names, [1, 2]);
  expect(alertIds(await drainedFile(path))).toEqual(["alert-2", "alert-1"]);
});

/**
 * The chaos run (RELIABILITY.md scenario 15, issue 5): several consumer processes running the real
 * runtime share one group on a private redis-server; a producer tags every entry with a unique id and
 * records writes whose outcome is unknown; a fault from scenarios 1, 5, 6, 7 and 8 is injected every few
 * seconds (see bench/chaos/faults.ts); then every fault is healed, the group drained, and the outputs
 * checked the Jepsen way (test/fixtures/faults/total-queue.ts). Lost and unexpected must be 0: the
 * process exits 1 otherwise.
 *
 *   bun bench/chaos.ts [--minutes 3] [--fault-every 5] [--consumers 3] [--rate 1000] [--seed N] [--json]
 *
 * Progress goes to stderr; the figures to stdout (a table, or JSON lines with --json).
 */
import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import { parseCommandLine } from "../src/command-line.ts";
import { RedisStreamBackend } from "../src/streams/redis-backend.ts";
import { TaggedProducer } from "../test/fixtures/faults/tagged-producer.ts";
import { checkTotalQueue, readDeadLetteredTags, readOutputs } from "../test/fixtures/faults/total-queue.ts";
import { RedisServer } from "../test/support/redis-server.ts";
import { Cluster } from "./chaos/cluster.ts";
import { FAULT_KINDS, type FaultRecord, injectFault } from "./chaos/faults.ts";
import { summarise } from "./chaos/summary.ts";
import { integer, positive, printReport } from "./lib/report.ts";

const USAGE =
  "usage: bun bench/chaos.ts [--minutes 3] [--fault-every 5] [--consumers 3] [--rate 1000] [--seed N] [--json]";
const values = parseCommandLine(USAGE, {
  minutes: { type: "string", default: "3" },
  "fault-every": { type: "string", default: "5" },
  consumers: { type: "string", default: "3" },
  rate: { type: "string", default: "1000" },
  seed: { type: "string" },
  json: { type: "boolean", default: false },
});
const minutes = positive(USAGE, "--minutes", values.minutes);
const faultEveryMs = positive(USAGE, "--fault-every", values["fault-every"]) * 1000;
const consumerCount = integer(USAGE, "--consumers", values.consumers);
const rate = positive(USAGE, "--rate", values.rate);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : positive(USAGE, "--seed", values.seed);

const CLAIM_IDLE_MS = 2_000;
const STALL_MS = 3_000;
const DRAIN_TIMEOUT_MS = 120_000;

const log = (line: string) =>
  process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const began = Date.now();
const random = mulberry32(seed);
const server = await RedisServer.start();
const admin = new Redis(server.url, { protocol: 2 });
admin.on("error", () => {});
const observer = new RedisStreamBackend(server.url);
const prefix = `troupe-chaos:${randomUUID()}`;
const stream = `${prefix}:in`;
const group = "workers";
const outputs = `${prefix}:out`;
log(
  `redis-server on ${server.url}; seed ${seed}; ${consumerCount} consumers; ${rate} entries/s; ${minutes} min`,
);

const cluster = new Cluster(
  {
    redisUrl: server.url,
    stream,
    group,
    outputs,
    instances: 2,
    capacity: 64,
    // 3 ms an entry, 2 workers a process: each process runs at about a third of its capacity, so the
    // entries it holds when a fault strikes are the ones it was working on, and the backlog clears.
    workMs: 3,
    // Redeliveries caused by the faults must not dead-letter healthy entries.
    maxDeliveries: 20,
    pump: { claimIdleMs: CLAIM_IDLE_MS, sweepIntervalMs: 250, maxDeliveries: 20, retryMaxMs: 1_000 },
  },
  Array.from({ length: consumerCount }, (_, i) => `c${i}`),
);
const producer = new TaggedProducer(server.url, stream, { prefix: `chaos-${seed}` });
let exitCode = 1;
try {
  await cluster.start();
  const faultsEnd = began + minutes * 60_000;
  // Until the last fault healed: recoveries are measured by the next ack, which needs work to do.
  const production = { on: true };
  const producing = produce(production);
  const records: FaultRecord[] = [];
  let next = Date.now() + faultEveryMs;
  while (next < faultsEnd) {
    await Bun.sleep(Math.max(0, next - Date.now()));
    const kind = FAULT_KINDS[Math.floor(random() * FAULT_KINDS.length)]!;
    const record = await injectFault(
      kind,
      {
        cluster,
        server,
        admin,
        observer,
        stream,
        group,
        claimIdleMs: CLAIM_IDLE_MS,
        stallMs: STALL_MS,
        random,
      },
      began,
    );
    records.push(record);
    const measures = record.measures.map((x) => `${x.name} ${x.ms} ms`).join(", ");
    log(
      `${kind} ${record.target}: ${record.note}${record.note && measures ? "; " : ""}${measures}${record.timeouts.length ? `; TIMEOUT ${record.timeouts.join("; ")}` : ""}`,
    );
    next = Math.max(next + faultEveryMs, Date.now());
  }
  production.on = false;
  await producing;
  const processedBeforeHeal = await observer.length(outputs);
  const faultSeconds = (Date.now() - began) / 1000;

  log("healing every fault, then draining");
  await server.kill("SIGCONT");
  await cluster.heal();
  const drainStarted = Date.now();
  await drained();
  const drainMs = Date.now() - drainStarted;
  log(`drained in ${drainMs} ms; stopping consumers`);
  await cluster.stop();

  const verdict = checkTotalQueue(
    producer.history,
    await readOutputs(observer, outputs),
    await readDeadLetteredTags(observer, `${stream}:dlq`),
  );
  const events = cluster.events();
  const deduplicated = events.reduce((n, e) => n + (e.e === "acked" ? e.count - e.written : 0), 0);
  printReport(
    summarise(records, verdict, {
      minutes,
      faultEverySec: faultEveryMs / 1000,
      claimIdleMs: CLAIM_IDLE_MS,
      throughput: Math.round(processedBeforeHeal / faultSeconds),
      deduplicated,
      drainMs,
    }),
    { json: values.json },
  );
  const failed = events.filter((e) => e.e === "actorFailed" || e.e === "groupRecreated").length;
  if (verdict.lost > 0 || verdict.unexpected > 0) {
    log(
      `FAILED: lost ${verdict.lost} ${verdict.examples.lost.join(" ")}; unexpected ${verdict.unexpected} ${verdict.examples.unexpected.join(" ")}`,
    );
  } else if (failed > 0) {
    log(`FAILED: ${failed} actorFailed / groupRecreated events`);
  } else {
    exitCode = 0;
  }
} finally {
  await cluster.kill();
  await producer.close();
  await observer.close();
  admin.disconnect();
  await server.cleanup();
}
process.exit(exitCode);

/** Writes `rate` tagged entries a second, in batches every 100 ms, one batch in flight at a time. */
async function produce(production: { on: boolean }): Promise<void> {
  const perTick = Math.max(1, Math.round(rate / 10));
  let tick = Date.now();
  while (production.on) {
    await producer.send(perTick);
    tick += 100;
    // Behind after a stall: skip the missed ticks rather than burst them.
    if (tick < Date.now()) tick = Date.now();
    await Bun.sleep(tick - Date.now());
  }
}

/** Polls the group until it has delivered everything and nothing is pending. */
async function drained(): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const info = await observer.groupInfo(stream, group);
    if (info && info.lag === 0 && info.pending === 0) return;
    await Bun.sleep(250);
  }
  throw new Error(`not drained in ${DRAIN_TIMEOUT_MS} ms`);
}

/** A small seeded PRNG, so a run's fault sequence can be replayed with --seed. */
function mulberry32(state: number): () => number {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

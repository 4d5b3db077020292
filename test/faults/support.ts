/**
 * Shared set-up of the fault tests: a private redis-server per file (never the shared one on 6379), key
 * names under `troupe-test-faults:<uuid>`, consumer-process configs, and the drain wait (event driven:
 * the group is checked after each ack, never on a timer).
 */
import { afterAll, beforeAll } from "bun:test";
import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { Pump } from "../../src/streams/pump.ts";
import type { PumpEvents } from "../../src/streams/pump-events.ts";
import type { PumpOptions } from "../../src/streams/pump-options.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import type { ConsumerConfig, ConsumerProcess } from "../fixtures/faults/consumer-process.ts";
import type { TaggedEntry } from "../fixtures/faults/tagged.actor.ts";
import type { ProducerHistory } from "../fixtures/faults/tagged-producer.ts";
import {
  checkTotalQueue,
  readDeadLetteredTags,
  readOutputs,
  type TotalQueueResult,
} from "../fixtures/faults/total-queue.ts";
import { RedisServer, type RedisServerOptions, redisServerInstalled } from "../support/redis-server.ts";

const TAGGED_ACTOR = new URL("../fixtures/faults/tagged.actor.ts", import.meta.url);

/** Fault tests need a redis-server binary; under CI=true its absence fails the run instead of skipping. */
export function canBreakRedis(): boolean {
  if (redisServerInstalled()) return true;
  if (process.env.CI === "true") throw new Error("CI=true: the fault tests need redis-server on the PATH");
  return false;
}

export interface FaultRedis {
  server: RedisServer;
  url: string;
  /** For CLIENT KILL, CONFIG SET, INFO: never for the data under test. */
  admin: Redis;
  /** The observer's own backend: reads outputs, pending lists, group info. */
  backend: RedisStreamBackend;
  close(): Promise<void>;
}

export async function startFaultRedis(options: RedisServerOptions = {}): Promise<FaultRedis> {
  const server = await RedisServer.start(options);
  const admin = new Redis(server.url, { protocol: 2 });
  // Restarts and CLIENT KILL drop it on purpose; commands still reject when it matters.
  admin.on("error", () => {});
  const backend = new RedisStreamBackend(server.url);
  return {
    server,
    url: server.url,
    admin,
    backend,
    close: async () => {
      await backend.close();
      admin.disconnect();
      await server.cleanup();
    },
  };
}

/** Stream, group, outputs and dead-letter names of one test. */
/**
 * Registers a private redis-server for a describe block and kills every consumer process its tests put in
 * `running`; `suite.redis` is that server, started before the first test.
 */
export function faultSuite(): { readonly redis: FaultRedis; readonly running: ConsumerProcess[] } {
  let redis: FaultRedis | undefined;
  const running: ConsumerProcess[] = [];
  beforeAll(async () => {
    redis = await startFaultRedis();
  });
  afterAll(async () => {
    await Promise.all(running.map((c) => c.kill()));
    await redis?.close();
  });
  return {
    get redis(): FaultRedis {
      if (!redis) throw new Error("faultSuite: the redis-server is not started yet");
      return redis;
    },
    running,
  };
}

export function names() {
  const prefix = `troupe-test-faults:${randomUUID()}`;
  return {
    prefix,
    stream: `${prefix}:in`,
    group: "workers",
    outputs: `${prefix}:out`,
    dlq: `${prefix}:in:dlq`,
  };
}

export function consumerConfig(
  redis: FaultRedis,
  n: ReturnType<typeof names>,
  consumer: string,
  extra: Partial<ConsumerConfig> = {},
): ConsumerConfig {
  return { redisUrl: redis.url, stream: n.stream, group: n.group, outputs: n.outputs, consumer, ...extra };
}

/** Resolves once the group has delivered everything and nothing is pending; checked after each ack. */
export async function untilDrained(
  redis: FaultRedis,
  n: ReturnType<typeof names>,
  consumers: readonly ConsumerProcess[],
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const marks = consumers.map((c) => c.mark());
    const info = await redis.backend.groupInfo(n.stream, n.group);
    if (info && info.lag === 0 && info.pending === 0) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`not drained in ${timeoutMs} ms: ${JSON.stringify(info)}`);
    const alive = consumers.filter((c) => c.alive);
    if (alive.length === 0) throw new Error(`no consumer left to drain: ${JSON.stringify(info)}`);
    await Promise.race(
      alive.map((c) => c.waitFor("acked", { from: marks[consumers.indexOf(c)]!, timeoutMs: left })),
    );
  }
}

/** The total-queue verdict over what the producer wrote and what the outputs stream holds. */
export async function verdict(
  redis: FaultRedis,
  n: ReturnType<typeof names>,
  history: ProducerHistory,
): Promise<TotalQueueResult> {
  const outputs = await readOutputs(redis.backend, n.outputs);
  return checkTotalQueue(history, outputs, await readDeadLetteredTags(redis.backend, n.dlq));
}

export interface InProcessConsumer {
  system: ActorSystem;
  backend: RedisStreamBackend;
  pump: Pump<TaggedEntry, unknown>;
  /** Entry ids acked so far, from the pump's `acked` events. */
  acked: string[];
  stop(): Promise<void>;
}

/**
 * The same consumer as `consumer.ts` (real worker actors, a pump, its own backend), in the test process:
 * for checks that need the pump's stats and events themselves.
 */
export async function inProcessConsumer(
  redis: FaultRedis,
  n: ReturnType<typeof names>,
  options: {
    consumer: string;
    workMs?: number;
    padBytes?: number;
    instances?: number;
    capacity?: number;
    pump?: Partial<PumpOptions<TaggedEntry, unknown>>;
  },
): Promise<InProcessConsumer> {
  const system = createSystem({
    supervisor: { maxRestarts: 1_000, periodMs: 1_000, backoff: { minMs: 1, maxMs: 50 } },
  });
  const ref = await system.spawn<TaggedEntry>(TAGGED_ACTOR, {
    name: "tagged",
    instances: options.instances ?? 1,
    capacity: options.capacity ?? 16,
    init: {
      outputs: n.outputs,
      consumer: options.consumer,
      workMs: options.workMs ?? 0,
      padBytes: options.padBytes ?? 0,
    },
  });
  const backend = new RedisStreamBackend(redis.url);
  const pump = new Pump(backend, ref, {
    stream: n.stream,
    group: n.group,
    consumer: options.consumer,
    ...options.pump,
  });
  const acked: string[] = [];
  pump.on("acked", (e) => acked.push(...e.ids));
  await pump.start();
  return {
    system,
    backend,
    pump,
    acked,
    stop: async () => {
      await pump.stop();
      await system.stop({ deadlineMs: 1_000 });
      await backend.close();
    },
  };
}

/** Resolves once `ready()` holds: checked now, then after each of the pump's `event`s (with it, or null). */
export function whenPump<E extends keyof PumpEvents>(
  pump: Pump<TaggedEntry, unknown>,
  event: E,
  ready: () => boolean = () => true,
): Promise<Parameters<PumpEvents[E]>[0] | null> {
  if (ready()) return Promise.resolve(null);
  return new Promise((resolve) => {
    const off = pump.on(event, ((payload: Parameters<PumpEvents[E]>[0]) => {
      if (!ready()) return;
      off();
      resolve(payload);
    }) as PumpEvents[E]);
  });
}

/** The next `event` of the pump. */
export function nextPumpEvent<E extends keyof PumpEvents>(
  pump: Pump<TaggedEntry, unknown>,
  event: E,
): Promise<Parameters<PumpEvents[E]>[0]> {
  return new Promise((resolve) => {
    const off = pump.on(event, ((payload: Parameters<PumpEvents[E]>[0]) => {
      off();
      resolve(payload);
    }) as PumpEvents[E]);
  });
}

/** Resolves once the group has delivered everything and nothing is pending; checked after each ack. */
export async function pumpDrained(
  pump: Pump<TaggedEntry, unknown>,
  redis: FaultRedis,
  n: ReturnType<typeof names>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const acked = nextPumpEvent(pump, "acked");
    const info = await redis.backend.groupInfo(n.stream, n.group);
    if (info && info.lag === 0 && info.pending === 0) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`not drained in ${timeoutMs} ms: ${JSON.stringify(info)}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`not drained in ${timeoutMs} ms: ${JSON.stringify(info)}`)),
        left,
      );
    });
    await Promise.race([acked, late]).finally(() => clearTimeout(timer));
  }
}

/**
 * Spec-driven tests of partitioned streams consumed across members with durable state (docs/architecture.md,
 * "Partitioned streams" and "Partition ownership"; README, "Scaling out"), written from the docs and the
 * exported types alone. Each member is a process of its own as far as Redis can tell (a RedisStreamBackend
 * each), a PartitionedConsumer whose pumps feed a durable per-partition counter (DurableTarget) restored from
 * that partition's store. The invariant of every scenario: once the members drained and stopped, the counts
 * stored per key equal the entries produced for it, and every application of an entry to a key's state was
 * the next entry of that key in production order (the entry applied at count c is the c-th produced).
 */
import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { TroupeError } from "../../src/errors.ts";
import type { Output } from "../../src/streams/outputs.ts";
import { PartitionedConsumer } from "../../src/streams/partitioned-consumer.ts";
import { PartitionedProducer } from "../../src/streams/partitioned-producer.ts";
import { PartitionedStream } from "../../src/streams/partitions.ts";
import type { PumpTarget } from "../../src/streams/pump-target.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { startPrivateRedis, startTestRedis, type TestRedis } from "../support/redis-server.ts";
import { DurableTarget, storedCounts } from "./durable-target.ts";
import { deleteKeys } from "./harness.ts";
import { until } from "./test-target.ts";

setDefaultTimeout(60_000);

const LEASE_MS = 1_000;
const RENEW_MS = 200;
const PRESENCE_MS = 200;
const DEADLINE_MS = 20_000;
const GROUP = "g";

interface Msg {
  key: string;
  seq: number;
  id: string;
}

interface Applied {
  key: string;
  seq: number;
  count: number;
  member: string;
  partition: number;
}

/** What was produced: per key, the sequence numbers in production order. */
class Model {
  readonly seqs = new Map<string, number[]>();
  readonly entries: Msg[] = [];
  next(key: string): Msg {
    const list = this.seqs.get(key) ?? [];
    this.seqs.set(key, list);
    const seq = list.length + 1;
    list.push(seq);
    const msg = { key, seq, id: `${key}#${seq}#${randomUUID().slice(0, 8)}` };
    this.entries.push(msg);
    return msg;
  }
  batch(n: number, keys = 29): Msg[] {
    return Array.from({ length: n }, () => {
      const i = this.entries.length;
      return this.next(`k${(i * 7919 + (i >> 3)) % keys}`);
    });
  }
  counts(): Map<string, number> {
    return new Map([...this.seqs].map(([key, list]) => [key, list.length]));
  }
}

/** A DurableTarget that records each application: the key, the entry's seq and the count it brought. */
class RecordingTarget implements PumpTarget<Msg, Output[]> {
  readonly name = "recording";
  readonly inner: DurableTarget;
  frozen = false;
  onApplied: (() => void) | undefined;
  #lastCount = 0;
  constructor(
    store: ConstructorParameters<typeof DurableTarget>[0]["store"],
    readonly log: Applied[],
    readonly member: string,
    readonly partition: number,
    checkpointEvery = 16,
  ) {
    this.inner = new DurableTarget({
      store,
      instances: 1,
      window: 64,
      checkpointEvery,
      // Called synchronously right before the reply: the count this entry brought its key to.
      outputs: (_key, count) => {
        this.#lastCount = count;
        return [];
      },
    });
  }
  freeCredits(): number {
    return this.inner.freeCredits();
  }
  deliver(
    message: Msg,
    done: (error: TroupeError | null, result?: Output[], epoch?: number) => void,
    deliveries?: number,
    tag?: unknown,
  ): boolean {
    return this.inner.deliver(
      message,
      (error, result, epoch) => {
        if (!error) {
          const a = { key: message.key, seq: message.seq, count: this.#lastCount, member: this.member };
          this.log.push({ ...a, partition: this.partition });
        }
        done(error, result, epoch);
        if (!error) this.onApplied?.();
      },
      deliveries,
      tag,
    );
  }
  onCredit(listener: () => void): () => void {
    return this.inner.onCredit(listener);
  }
  pause(): void {
    this.frozen = true;
    this.inner.freeze();
  }
  resume(): void {
    this.frozen = false;
    this.inner.thaw();
  }
}

interface Member {
  name: string;
  backend: RedisStreamBackend;
  consumer: PartitionedConsumer<Msg, Output[]>;
  targets: Map<number, RecordingTarget>;
  claimed: { count: number };
  events: string[];
  killed: boolean;
  kill(): Promise<void>;
}

interface MemberOptions {
  claimIdleMs?: number;
  sweepIntervalMs?: number;
  /** While `on`, new targets start frozen (a slow handler); the test thaws them. */
  frozen?: { on: boolean };
  pauseResume?: boolean;
  checkpointEvery?: number;
  /** Called after each of this member's applications, with how many it made so far. */
  onApplied?: (applied: number) => void;
}

/** One test's world: a prefix, its members, its Redis. */
class World {
  readonly prefix = `troupe-spec-part:${randomUUID()}`;
  readonly members: Member[] = [];
  readonly log: Applied[] = [];
  readonly extraBackends: RedisStreamBackend[] = [];
  stream!: PartitionedStream;
  admin: RedisStreamBackend;
  constructor(readonly url: string) {
    this.admin = new RedisStreamBackend(url);
  }

  async open(partitions: number, name = "tx"): Promise<PartitionedStream> {
    this.stream = await PartitionedStream.open(this.admin, `${this.prefix}:${name}`, { partitions });
    return this.stream;
  }

  member(name: string, options: MemberOptions = {}, stream = this.stream, url = this.url): Member {
    const backend = new RedisStreamBackend(url);
    const targets = new Map<number, RecordingTarget>();
    let appliedByMember = 0;
    const claimed = { count: 0 };
    const events: string[] = [];
    const consumer = new PartitionedConsumer<Msg, Output[]>(
      backend,
      stream,
      async (partition, key) => {
        const store = backend.stateStore({ anchor: key });
        const target = new RecordingTarget(store, this.log, name, partition, options.checkpointEvery);
        target.onApplied = () => options.onApplied?.(++appliedByMember);
        if (options.frozen?.on) target.pause();
        await target.inner.ready();
        targets.set(partition, target);
        return {
          target,
          options: {
            blockMs: 50,
            sweepIntervalMs: options.sweepIntervalMs ?? 0,
            claimIdleMs: options.claimIdleMs ?? 30_000,
            stopTimeoutMs: 500,
            stateStore: store,
          },
          // A durable actor's stop with handBack: checkpoint what was handled, then nothing more.
          release: async () => {
            if (!target.frozen) await target.inner.checkpoint();
            target.inner.kill();
          },
          ...(options.pauseResume !== false && {
            pause: () => target.pause(),
            resume: () => target.resume(),
          }),
        };
      },
      { group: GROUP, member: name, leaseMs: LEASE_MS, renewMs: RENEW_MS, presenceCheckMs: PRESENCE_MS },
    );
    consumer.on("started", ({ partition, pump }) => {
      events.push(`started p${partition}`);
      pump.on("claimed", ({ count }) => {
        claimed.count += count;
      });
    });
    consumer.on("stopped", ({ partition }) => {
      events.push(`stopped p${partition}`);
      targets.delete(partition);
    });
    consumer.on("paused", ({ partition, generation }) => events.push(`paused p${partition} g${generation}`));
    consumer.on("resumed", ({ partition, generation }) =>
      events.push(`resumed p${partition} g${generation}`),
    );
    consumer.ownership.on("handlerFailed", ({ partition, error }) =>
      events.push(`handlerFailed p${partition}: ${error}`),
    );
    const m: Member = {
      name,
      backend,
      consumer,
      targets,
      claimed,
      events,
      killed: false,
      kill: async () => {
        m.killed = true;
        for (const target of targets.values()) target.inner.kill();
        await backend.close();
      },
    };
    this.members.push(m);
    return m;
  }

  live(): Member[] {
    return this.members.filter((m) => !m.killed);
  }

  /** Calls `check` after any live member's round (every RENEW_MS) until it resolves true, or fails. */
  async waitFor(
    what: string | (() => string),
    check: () => Promise<boolean> | boolean,
    ms = DEADLINE_MS,
  ): Promise<void> {
    let last = "";
    await new Promise<void>((resolve, reject) => {
      let busy = false;
      let done = false;
      const offs: (() => void)[] = [];
      const finish = (error?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const off of offs) off();
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => {
        const described = typeof what === "string" ? what : what();
        finish(new Error(`timed out after ${ms} ms waiting for ${described}${last ? `: ${last}` : ""}`));
      }, ms);
      const run = async () => {
        if (busy || done) return;
        busy = true;
        try {
          if (await check()) finish();
        } catch (error) {
          last = String(error);
        } finally {
          busy = false;
        }
      };
      for (const m of this.members) offs.push(m.consumer.ownership.on("round", () => void run()));
      void run();
    });
  }

  /** Every live member owns its share and together they own each partition once. */
  async settled(stream = this.stream): Promise<void> {
    await this.waitFor("ownership to settle", () => {
      const live = this.live().filter((m) => m.consumer.ownership.stream.name === stream.name);
      const owned = live.flatMap((m) => m.consumer.ownership.owned);
      const names = live.map((m) => m.name).sort();
      return (
        owned.length === stream.partitions &&
        new Set(owned).size === stream.partitions &&
        live.every((m) => [...m.consumer.ownership.lastMembers].sort().join() === names.join())
      );
    });
  }

  /** Every partition holding entries has them all delivered and acked (covered by a checkpoint). */
  async drained(stream = this.stream): Promise<void> {
    let state = "";
    await this.waitFor(
      () => `the group to drain (pending/lag/length: ${state})`,
      async () => {
        const infos = await Promise.all(stream.keys.map((key) => this.admin.groupInfo(key, GROUP)));
        const lengths = await Promise.all(stream.keys.map((key) => this.admin.length(key)));
        state = infos.map((i, p) => `p${p}:${i?.pending}/${i?.lag}/${lengths[p]}`).join(" ");
        return infos.every((info, p) => (lengths[p] === 0 ? true : info?.pending === 0 && info.lag === 0));
      },
    );
  }

  /** The counts the partitions' stores hold, once every member stopped (a restore takes a new epoch). */
  async stored(stream = this.stream): Promise<Map<string, number>> {
    const merged = new Map<string, number>();
    for (const [partition, key] of stream.keys.entries()) {
      const counts = await storedCounts(this.admin.stateStore({ anchor: key }), "counter", 1);
      for (const [k, n] of counts) {
        expect(stream.partitionOf(k)).toBe(partition);
        merged.set(k, (merged.get(k) ?? 0) + n);
      }
    }
    return merged;
  }

  /** Applications that were not the next entry of their key in production order. */
  misordered(model: Model, log = this.log): Applied[] {
    return log.filter((a) => model.seqs.get(a.key)?.[a.count - 1] !== a.seq);
  }

  async deadLetters(stream = this.stream): Promise<number> {
    let n = 0;
    for (const key of stream.keys) n += await this.admin.length(`${key}:dlq`);
    return n;
  }

  async stopAll(): Promise<void> {
    for (const m of this.members) {
      if (m.killed) continue;
      await m.consumer.stop();
    }
  }

  async cleanup(): Promise<void> {
    for (const m of this.members) {
      const stopping = m.consumer.stop().catch(() => {});
      await Promise.race([stopping, Bun.sleep(5_000)]);
      if (!m.killed) await m.backend.close().catch(() => {});
    }
    for (const b of this.extraBackends) await b.close().catch(() => {});
    await this.admin.close().catch(() => {});
    await deleteKeys(this.url, this.prefix).catch(() => {});
  }
}

/** The invariant: counts exact, nothing misordered, nothing dead-lettered. */
async function expectModel(
  world: World,
  model: Model,
  stream = world.stream,
  log = world.log,
): Promise<void> {
  const replays = log.length - model.entries.length;
  console.log(`  ${model.entries.length} entries, ${log.length} applications (${replays} replays)`);
  const misordered = world.misordered(model, log);
  expect(misordered.slice(0, 5)).toEqual([]);
  expect(await world.deadLetters(stream)).toBe(0);
  expect(await world.stored(stream)).toEqual(model.counts());
}

async function startAll(members: Member[]): Promise<void> {
  await Promise.all(members.map((m) => m.consumer.start()));
}

function producer(world: World, stream = world.stream, idempotent = false): PartitionedProducer<Msg> {
  return new PartitionedProducer<Msg>(world.admin, stream, { key: (e) => e.key, idempotent });
}

/** Resolves once at least `n` applications were recorded (signalled by the members' rounds). */
function applied(world: World, n: number): Promise<void> {
  return world.waitFor(`${n} applications`, () => world.log.length >= n);
}

/** A TCP proxy whose sockets stop reading while stalled: a member's connection stalls, the server does not. */
class StallProxy {
  readonly sockets = new Set<Socket>();
  stalled = false;
  private constructor(
    readonly server: Server,
    readonly port: number,
  ) {}
  static async start(targetPort: number): Promise<StallProxy> {
    let proxy!: StallProxy;
    const server = createServer((client) => {
      const upstream = connect(targetPort, "127.0.0.1");
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        proxy.sockets.add(from);
        if (proxy.stalled) from.pause();
        from.on("data", (data) => to.write(data));
        from.on("close", () => {
          proxy.sockets.delete(from);
          to.destroy();
        });
        from.on("error", () => to.destroy());
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new StallProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  stall(): void {
    this.stalled = true;
    for (const s of this.sockets) s.pause();
  }
  resume(): void {
    this.stalled = false;
    for (const s of this.sockets) s.resume();
  }
  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }
}

let shared: TestRedis | null = null;
let world: World | null = null;
const sharedRedis = async () => {
  shared ??= await startTestRedis();
  return shared;
};

afterEach(async () => {
  await world?.cleanup();
  world = null;
});

// A private server when REDIS_URL is not set: stopped with the file (it was left running).
afterAll(async () => {
  await shared?.close();
});

describe("partitioned streams across members with durable state (spec)", () => {
  test("clean run, one member: counts and order equal the model", async () => {
    world = new World((await sharedRedis()).url);
    await world.open(4);
    const a = world.member("a");
    await startAll([a]);
    const model = new Model();
    await producer(world).sendBatch(model.batch(800));
    await world.drained();
    await world.stopAll();
    await expectModel(world, model);
    expect(world.log.length).toBe(800); // no crash, no move: each applied once
  });

  test("clean run, two members: counts and order equal the model", async () => {
    world = new World((await sharedRedis()).url);
    await world.open(4);
    const [a, b] = [world.member("a"), world.member("b")];
    await startAll([a, b]);
    await world.settled();
    expect(a.consumer.ownership.owned.length).toBe(2);
    const model = new Model();
    await producer(world).sendBatch(model.batch(800));
    await world.drained();
    await world.stopAll();
    await expectModel(world, model);
    expect(world.log.length).toBe(800);
  });

  test("1. two members, one killed mid-work (uncovered entries), a third joining later: counts exact, order kept", async () => {
    world = new World((await sharedRedis()).url);
    const w = world;
    await w.open(4);
    const model = new Model();
    const p = producer(w);
    // A backlog first, so the killed member holds handled-but-uncovered entries when it dies.
    await p.sendBatch(model.batch(1_500));
    let b!: Member;
    let killing: Promise<void> | null = null;
    const a = w.member("a", { checkpointEvery: 48 });
    b = w.member("b", {
      checkpointEvery: 48,
      onApplied: (n) => {
        if (n === 100) killing = b.kill(); // synchronously: its targets handle and commit nothing more
      },
    });
    await startAll([a, b]);
    await w.waitFor("b to be killed", () => killing !== null);
    await killing;
    await p.sendBatch(model.batch(300));
    await w.waitFor("a to own all four", () => a.consumer.ownership.owned.length === 4);
    const c = w.member("c");
    await c.consumer.start();
    await p.sendBatch(model.batch(300));
    await w.settled();
    await p.sendBatch(model.batch(300));
    await w.drained();
    await w.stopAll();
    await expectModel(w, model);
    // The scenario bit: b died holding entries it had applied but no checkpoint covered.
    expect(w.log.length).toBeGreaterThan(model.entries.length);
  });

  test("2. members joining and leaving (stop with hand-over) repeatedly while the producer writes", async () => {
    world = new World((await sharedRedis()).url);
    const w = world;
    await w.open(8);
    const model = new Model();
    const p = producer(w);
    const first = [w.member("a"), w.member("b")];
    await startAll(first);
    await w.settled();
    let churning = true;
    const writing = (async () => {
      while (churning && model.entries.length < 4_000) {
        await p.sendBatch(model.batch(25));
        await Bun.sleep(15); // pacing only
      }
    })();
    let live = [...first];
    let n = 0;
    for (let step = 0; step < 6; step++) {
      const joiner = w.member(`m${n++}`);
      await joiner.consumer.start();
      // Stop another before or after the joiner got anything: some moves overlap.
      if (step % 2 === 0)
        await w.waitFor(`${joiner.name} to own something`, () => joiner.consumer.ownership.owned.length > 0);
      const leaver = live[step % live.length]!;
      await leaver.consumer.stop();
      leaver.killed = true; // stopped: not live any more (its backend stays open until cleanup)
      live = [...live.filter((m) => m !== leaver), joiner];
      await w.settled();
    }
    churning = false;
    await writing;
    await p.sendBatch(model.batch(100));
    await w.drained();
    await w.stopAll();
    for (const m of w.members) await m.backend.close().catch(() => {});
    await expectModel(w, model);
  });

  describe("3. Redis stalls (SIGSTOP of a private server) past 3/4 of the lease", () => {
    for (const stallMs of [900, 2_000]) {
      test(`stalled ${stallMs} ms: lapsed partitions pause, then go on or move; counts exact`, async () => {
        const redis = await startPrivateRedis();
        const server = redis.server!;
        world = new World(redis.url);
        const w = world;
        try {
          await w.open(4);
          const [a, b] = [w.member("a"), w.member("b")];
          await startAll([a, b]);
          await w.settled();
          const model = new Model();
          const p = producer(w, w.stream, true);
          await p.sendBatch(model.batch(500));
          await applied(w, 150);
          let pausedSeen = 0;
          const onPaused = new Set<() => void>();
          for (const m of [a, b])
            m.consumer.on("paused", () => {
              pausedSeen++;
              for (const f of onPaused) f();
            });
          const stalledAt = performance.now();
          await server.kill("SIGSTOP");
          try {
            await Promise.race([
              until(
                (check) => {
                  onPaused.add(check);
                  return () => onPaused.delete(check);
                },
                () => pausedSeen > 0,
              ),
              Bun.sleep(5_000),
            ]);
            const left = stallMs - (performance.now() - stalledAt);
            if (left > 0) await Bun.sleep(left); // the fault's length, not a synchronisation
          } finally {
            await server.kill("SIGCONT");
          }
          const stalledFor = performance.now() - stalledAt;
          await p.sendBatch(model.batch(500));
          await w.settled();
          await w.drained();
          const events = [a, b].flatMap((m) => m.events.map((e) => `${m.name}: ${e}`));
          const paused = events.filter((e) => e.includes("paused"));
          console.log(
            `stall ${Math.round(stalledFor)} ms: ${paused.length} paused, ${
              events.filter((e) => e.includes("resumed")).length
            } resumed; ${events.filter((e) => e.includes("handlerFailed")).length} handler failures`,
          );
          // Each lapsed partition is kept paused, then resumed or stopped: none stays paused with a live owner.
          expect(paused.length).toBeGreaterThan(0);
          await w.stopAll();
          await expectModel(w, model);
        } finally {
          await w.cleanup();
          world = null;
          await redis.close();
        }
      });
    }
  });

  test("3b. one member's connection stalls past its lease (a proxy holds its bytes): the other takes over; counts exact", async () => {
    const redis = await startPrivateRedis();
    const proxy = await StallProxy.start(redis.server!.port);
    world = new World(redis.url);
    const w = world;
    try {
      await w.open(4);
      const b = w.member("b");
      let stalled = false;
      const a = w.member(
        "a",
        {
          checkpointEvery: 48,
          onApplied: (n) => {
            // Mid-work: its targets hold applied, uncovered entries and commands are in flight.
            if (n === 100 && !stalled) {
              stalled = true;
              proxy.stall();
            }
          },
        },
        w.stream,
        proxy.url,
      );
      await startAll([a, b]);
      await w.settled();
      const model = new Model();
      const p = producer(w, w.stream, true);
      const aHad = [...a.consumer.ownership.owned];
      await p.sendBatch(model.batch(1_500));
      await w.waitFor("a to stall", () => stalled);
      // While a is stalled the producer goes on (its own connection) and b takes a's partitions over.
      await p.sendBatch(model.batch(300));
      await w.waitFor("b to own every partition", () => b.consumer.ownership.owned.length === 4);
      await p.sendBatch(model.batch(300));
      await w.waitFor("b to drain them", async () => {
        const infos = await Promise.all(w.stream.keys.map((key) => w.admin.groupInfo(key, GROUP)));
        return infos.every((i) => i?.lag === 0);
      });
      proxy.resume();
      await w.settled();
      await p.sendBatch(model.batch(200));
      await w.drained();
      console.log(`3b: a had ${aHad}; a's events: ${a.events.join(", ")}`);
      // Another member held a's lapsed partitions meanwhile: they are stopped, never resumed.
      expect(a.events.filter((e) => e.startsWith("resumed"))).toEqual([]);
      await w.stopAll();
      await expectModel(w, model);
    } finally {
      await w.cleanup();
      world = null;
      proxy.close();
      await redis.close();
    }
  });

  test("4. P=8 and P=1 with the same input give the same per-key counts (and the model's)", async () => {
    world = new World((await sharedRedis()).url);
    const w = world;
    const model = new Model();
    const input = model.batch(1_200, 41);
    const results: Map<string, number>[] = [];
    for (const partitions of [8, 1]) {
      const stream = await PartitionedStream.open(w.admin, `${w.prefix}:p${partitions}`, { partitions });
      expect(stream.partitions).toBe(partitions);
      const members = [w.member(`a${partitions}`, {}, stream), w.member(`b${partitions}`, {}, stream)];
      await startAll(members);
      const p = producer(w, stream);
      await p.sendBatch(input.slice(0, 600));
      await w.settled(stream);
      await p.sendBatch(input.slice(600));
      await w.drained(stream);
      for (const m of members) {
        await m.consumer.stop();
        m.killed = true;
      }
      const log = w.log.splice(0);
      expect(w.misordered(model, log).slice(0, 5)).toEqual([]);
      expect(await w.deadLetters(stream)).toBe(0);
      results.push(await w.stored(stream));
    }
    expect(results[0]).toEqual(results[1]!);
    expect(results[0]).toEqual(model.counts());
  });

  test("5a. entries a frozen (slow) owner holds past claimIdleMs are claimed by nobody; each applied once", async () => {
    world = new World((await sharedRedis()).url);
    const w = world;
    await w.open(4);
    const CLAIM_IDLE_MS = 100;
    const opts = { claimIdleMs: CLAIM_IDLE_MS, sweepIntervalMs: 25 };
    const frozen = { on: true };
    const a = w.member("a", { ...opts, frozen });
    const b = w.member("b", opts);
    await startAll([a, b]);
    await w.settled();
    const model = new Model();
    await producer(w).sendBatch(model.batch(400));
    // a holds its entries (delivered, pending under a) for 6 claim periods while every pump sweeps.
    await w.waitFor("a to hold entries", async () => {
      const infos = await Promise.all(
        a.consumer.ownership.owned.map((p) => w.admin.groupInfo(w.stream.keys[p]!, GROUP)),
      );
      return infos.some((i) => (i?.pending ?? 0) > 0);
    });
    const heldFrom = performance.now();
    await w.waitFor("b to drain its share", async () => {
      const infos = await Promise.all(
        b.consumer.ownership.owned.map((p) => w.admin.groupInfo(w.stream.keys[p]!, GROUP)),
      );
      return infos.every((i) => i?.pending === 0 && i.lag === 0);
    });
    await w.waitFor("six claim periods", () => performance.now() - heldFrom >= 6 * CLAIM_IDLE_MS);
    expect(w.log.filter((x) => x.member === "a")).toEqual([]);
    frozen.on = false;
    for (const t of a.targets.values()) t.resume();
    await w.drained();
    expect(a.claimed.count + b.claimed.count).toBe(0);
    await w.stopAll();
    expect(w.log.length).toBe(400);
    await expectModel(w, model);
  });

  test("5b. opening with another partition count is ERR_PARTITION_MISMATCH naming both; racing first opens agree", async () => {
    world = new World((await sharedRedis()).url);
    const w = world;
    await w.open(8);
    const other = new RedisStreamBackend(w.url);
    w.extraBackends.push(other);
    const error = (await PartitionedStream.open(other, w.stream.name, { partitions: 4 }).catch(
      (e) => e,
    )) as TroupeError;
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe("ERR_PARTITION_MISMATCH");
    expect(error.message).toContain("8");
    expect(error.message).toContain("4");
    // The same count opens fine from another process.
    expect((await PartitionedStream.open(other, w.stream.name, { partitions: 8 })).keys).toEqual(
      w.stream.keys,
    );
    // Two processes creating one stream with different counts at once: exactly one count wins.
    const name = `${w.prefix}:race`;
    const outcomes = await Promise.allSettled([
      PartitionedStream.open(w.admin, name, { partitions: 2 }),
      PartitionedStream.open(other, name, { partitions: 3 }),
    ]);
    const ok = outcomes.filter((o) => o.status === "fulfilled");
    const failed = outcomes.filter((o) => o.status === "rejected") as PromiseRejectedResult[];
    expect(ok.length).toBe(1);
    expect((failed[0]!.reason as TroupeError).code).toBe("ERR_PARTITION_MISMATCH");
    // A consumer on a stale handle with another count: opening is where the mismatch is told.
    const winner = (ok[0] as PromiseFulfilledResult<PartitionedStream>).value.partitions;
    expect((await PartitionedStream.open(other, name, { partitions: winner })).partitions).toBe(winner);
  });
});

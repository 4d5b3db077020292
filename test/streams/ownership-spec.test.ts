/**
 * Spec-driven, adversarial tests of partition ownership (ownership.ts's doc comment, docs/architecture.md's
 * "presence" and "Changes are announced"), written from the spec alone, against the suite's Redis
 * (REDIS_URL, else a private server): one backend per member as separate processes would have, keys under
 * `troupe-spec-own:<uuid>:`.
 *
 * Promises checked: exactly one owner per partition (the lease's holder), each member's share as
 * assignment.ts says for the live members, a join or a leave settling within tens of milliseconds whatever
 * `renewMs` is (announcements), a dead member's partitions moving within a presence check, a stop that
 * releases everything even while its start is in flight, and never two members' handlers between `assigned`
 * and `revoked` of one partition at once (nor two `holds`), with `revoked` following `assigned` per partition.
 */
import { afterAll, afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { assignPartitions } from "../../src/streams/assignment.ts";
import { leaseKey } from "../../src/streams/leases.ts";
import {
  type OwnershipOptions,
  type PartitionHandler,
  PartitionOwnership,
  type RevokeReason,
} from "../../src/streams/ownership.ts";
import { PartitionedStream } from "../../src/streams/partitions.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { random as prng } from "../fixtures/scenarios/kit.ts";
import { withDeadline } from "../support/deadline.ts";
import { redisAvailable, startTestRedis, type TestRedis } from "../support/redis-server.ts";
import { deleteKeys } from "./harness.ts";
import { until } from "./test-target.ts";

setDefaultTimeout(30_000);

const GROUP = "g";
const SHORT = { leaseMs: 1_000, renewMs: 200 };
/** Rounds so rare that only announcements or presence can explain a fast rebalance. */
const LONG = { leaseMs: 60_000, renewMs: 20_000 };

type Timing = Pick<OwnershipOptions, "leaseMs" | "renewMs" | "presenceCheckMs" | "assignment">;

/** `promise`, or a rejection naming `label()` past `deadline` (performance.now() ms). */
function by<T>(deadline: number, promise: Promise<T>, label: () => string): Promise<T> {
  return withDeadline(promise, label, Math.max(0, deadline - performance.now()));
}

interface Member {
  readonly id: string;
  readonly name: string;
  readonly m: PartitionOwnership;
  readonly backend: RedisStreamBackend;
  readonly events: {
    roundFailed: unknown[];
    handlerFailed: unknown[];
    departed: string[][];
    revoked: RevokeReason[];
  };
}

/**
 * Shared across every member of a test: which members' handlers are between `assigned` and the end of
 * `revoked` per partition, the per-(member, partition) order of calls, and the generations handed out.
 */
class Tracker {
  readonly active = new Map<number, Set<string>>();
  readonly violations: string[] = [];
  readonly dead = new Set<string>();
  readonly #last = new Map<string, "A" | "R">();
  readonly #generation = new Map<number, { generation: number; id: string }>();
  constructor(readonly random: () => number) {}

  handler(id: string, keys: () => readonly string[]): PartitionHandler {
    return {
      assigned: async (partition, key, generation) => {
        if (this.dead.has(id)) return;
        if (key !== keys()[partition]) this.violations.push(`${id} assigned ${partition} with key ${key}`);
        const slot = `${id}:${partition}`;
        if (this.#last.get(slot) === "A") this.violations.push(`${id} assigned ${partition} twice in a row`);
        this.#last.set(slot, "A");
        const set = this.active.get(partition) ?? new Set<string>();
        this.active.set(partition, set);
        const others = [...set].filter((other) => other !== id && !this.dead.has(other));
        if (others.length > 0)
          this.violations.push(`${id} assigned ${partition} while ${others.join(",")} still consume it`);
        const previous = this.#generation.get(partition);
        if (
          previous &&
          (generation < previous.generation || (generation === previous.generation && previous.id !== id))
        )
          this.violations.push(
            `${id} assigned ${partition} at generation ${generation} after ${previous.id} had ${previous.generation}`,
          );
        this.#generation.set(partition, { generation, id });
        set.add(id);
        // A restore takes a while.
        await Bun.sleep(Math.floor(this.random() * 20));
      },
      revoked: async (partition, _key, _reason) => {
        if (this.dead.has(id)) return;
        const slot = `${id}:${partition}`;
        if (this.#last.get(slot) !== "A") this.violations.push(`${id} revoked ${partition} not assigned`);
        this.#last.set(slot, "R");
        // A pump's stop takes a while; the partition is consumed until it returns.
        await Bun.sleep(Math.floor(this.random() * 30));
        this.active.get(partition)?.delete(id);
      },
    };
  }

  consuming(id: string): number[] {
    return [...this.active]
      .filter(([, ids]) => ids.has(id))
      .map(([p]) => p)
      .sort((a, b) => a - b);
  }
}

describe.skipIf(!redisAvailable())("partition ownership, by its spec (redis)", () => {
  let prefix: string;
  let admin: RedisStreamBackend;
  let tracker: Tracker;
  let seed: number;
  let sampler: ReturnType<typeof setInterval> | undefined;
  const all: Member[] = [];
  const closed = new Set<RedisStreamBackend>();
  let counter = 0;

  // The suite's Redis (REDIS_URL, else a private server), started by the first test (redis.test.ts says why).
  let redis: TestRedis | null = null;
  let url: string;
  afterAll(async () => {
    await redis?.close();
  });

  beforeEach(async () => {
    redis ??= await startTestRedis();
    url = redis.url;
    prefix = `troupe-spec-own:${randomUUID()}:`;
    admin = new RedisStreamBackend(url);
    seed = (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) >>> 0;
    tracker = new Tracker(prng(seed));
  });

  afterEach(async () => {
    if (sampler) clearInterval(sampler);
    sampler = undefined;
    for (const { m } of all) {
      await by(performance.now() + 10_000, m.stop(), () => "a stop in clean-up").catch(() => {});
    }
    for (const { backend } of all.splice(0)) {
      if (!closed.has(backend)) await backend.close().catch(() => {});
    }
    closed.clear();
    await admin.close();
    await deleteKeys(url, prefix);
  });

  const open = (partitions: number, suffix = "tx") =>
    PartitionedStream.open(admin, `${prefix}${suffix}`, { partitions });

  const member = (stream: PartitionedStream, name: string, timing: Timing): Member => {
    const backend = new RedisStreamBackend(url);
    const id = `${name}#${++counter}`;
    const m = new PartitionOwnership(
      backend,
      stream,
      tracker.handler(id, () => stream.keys),
      {
        group: GROUP,
        member: name,
        ...timing,
      },
    );
    const events: Member["events"] = { roundFailed: [], handlerFailed: [], departed: [], revoked: [] };
    m.on("roundFailed", ({ error }) => events.roundFailed.push(error));
    m.on("handlerFailed", ({ error }) => events.handlerFailed.push(error));
    m.on("departed", ({ members }) => events.departed.push([...members]));
    m.on("revoked", ({ reason }) => events.revoked.push(reason));
    const it = { id, name, m, backend, events };
    all.push(it);
    return it;
  };

  /** A process killed: its connections (the presence's too) closed, its handler no longer consuming. */
  const kill = async (x: Member) => {
    tracker.dead.add(x.id);
    closed.add(x.backend);
    await x.backend.close();
  };

  const describeState = (members: readonly Member[]) =>
    `seed ${seed}; ${members
      .map((x) => `${x.id} owns [${x.m.owned.join(",")}] sees [${x.m.lastMembers.join(",")}]`)
      .join("; ")}`;

  /** The owners assignment.ts gives `names`, as partition lists per name. */
  const shares = (partitions: number, names: readonly string[]) => {
    const owners = assignPartitions(partitions, names);
    return new Map(names.map((n) => [n, owners.flatMap((o, p) => (o === n ? [p] : []))]));
  };

  /**
   * Resolves once every one of `live` owns exactly its share by assignment.ts among their names (so every
   * partition has one owner among them), checked after each of their events; rejects past `deadline`.
   */
  const settle = async (stream: PartitionedStream, live: readonly Member[], deadline: number) => {
    const expected = shares(
      stream.partitions,
      live.map((x) => x.name),
    );
    const predicate = () =>
      live.every((x) => JSON.stringify(x.m.owned) === JSON.stringify(expected.get(x.name)));
    await by(
      deadline,
      until((check) => {
        const offs = live.flatMap((x) => [
          x.m.on("round", check),
          x.m.on("assigned", check),
          x.m.on("revoked", check),
        ]);
        return () => {
          for (const off of offs) off();
        };
      }, predicate),
      () => `expected ${JSON.stringify(Object.fromEntries(expected))}; ${describeState(live)}`,
    );
  };

  const holders = (stream: PartitionedStream) =>
    Promise.all(stream.keys.map(async (key) => (await admin.leases().inspect(leaseKey(key, GROUP))).holder));

  /** The leases, `holds` and `lease` agree with what `live` own; `others` hold nothing. */
  const agree = async (
    stream: PartitionedStream,
    live: readonly Member[],
    others: readonly Member[] = [],
  ) => {
    const owner = new Map<number, string>();
    for (const x of live) for (const p of x.m.owned) owner.set(p, x.name);
    expect(await holders(stream)).toEqual(stream.keys.map((_, p) => owner.get(p) ?? null));
    for (const x of [...live, ...others]) {
      const owns = live.includes(x) ? x.m.owned : [];
      for (let p = 0; p < stream.partitions; p++) {
        expect({ id: x.id, p, holds: x.m.holds(p) }).toEqual({ id: x.id, p, holds: owns.includes(p) });
        const lease = x.m.lease(p);
        if (owns.includes(p)) {
          expect(lease?.holder).toBe(x.name);
          expect(lease?.key).toBe(leaseKey(stream.keys[p]!, GROUP));
        } else expect(lease).toBeUndefined();
      }
    }
  };

  /** Samples `holds` across the live members every few ms: never two at once for one partition. */
  const sampleHolds = (partitions: number) => {
    sampler = setInterval(() => {
      for (let p = 0; p < partitions; p++) {
        const holding = all.filter((x) => !tracker.dead.has(x.id) && x.m.holds(p)).map((x) => x.id);
        if (holding.length > 1) tracker.violations.push(`holds(${p}) on ${holding.join(",")} at once`);
      }
    }, 3);
  };

  const clean = () => {
    expect(tracker.violations).toEqual([]);
  };

  test("five members started at once over 16 partitions: one owner each within 2 s, 3 or 4 each, no round failed", async () => {
    const stream = await open(16);
    sampleHolds(16);
    const names = ["m1", "m2", "m3", "m4", "m5"];
    const five = names.map((n) => member(stream, n, SHORT));
    const t0 = performance.now();
    await by(t0 + 2_000, Promise.all(five.map((x) => x.m.start())), () => describeState(five));
    await settle(stream, five, t0 + 2_000);
    await agree(stream, five);
    for (const x of five) {
      expect([3, 4]).toContain(x.m.owned.length);
      expect(x.m.lastMembers).toEqual(names);
      expect(x.events.roundFailed).toEqual([]);
      expect(x.events.handlerFailed).toEqual([]);
      // Nobody died: a live member is present from before its first heartbeat.
      expect(x.events.departed).toEqual([]);
      expect(x.events.revoked.filter((r) => r === "lost")).toEqual([]);
    }
    // Settled means settled: nothing moves over the next 500 ms (two or three rounds).
    const moves = five.map((x) => x.m.rebalances);
    await Bun.sleep(500);
    expect(five.map((x) => x.m.rebalances)).toEqual(moves);
    await agree(stream, five);
    for (const x of five) {
      await x.m.settled();
      expect(tracker.consuming(x.id)).toEqual(x.m.owned);
    }
    clean();
  });

  test("joins and leaves one after another with 20 s rounds: each settles within 2 s", async () => {
    const stream = await open(16);
    sampleHolds(16);
    const live: Member[] = [];
    const gone: Member[] = [];
    const join = async (name: string) => {
      const x = member(stream, name, LONG);
      const t0 = performance.now();
      live.push(x);
      await by(t0 + 2_000, x.m.start(), () => `${name}'s start; ${describeState(live)}`);
      await settle(stream, live, t0 + 2_000);
      await agree(stream, live, gone);
    };
    const leave = async (name: string) => {
      const x = live.find((y) => y.name === name)!;
      live.splice(live.indexOf(x), 1);
      gone.push(x);
      const t0 = performance.now();
      await by(t0 + 2_000, x.m.stop(), () => `${name}'s stop; ${describeState([x, ...live])}`);
      // Stopped: it consumes nothing, and its handler calls have all returned.
      expect(x.m.owned).toEqual([]);
      expect(tracker.consuming(x.id)).toEqual([]);
      if (live.length > 0) await settle(stream, live, t0 + 2_000);
      await agree(stream, live, gone);
    };
    await join("a");
    expect(live[0]!.m.owned.length).toBe(16);
    await join("b");
    await join("c");
    await leave("a");
    await join("d");
    await leave("b");
    await join("e");
    await leave("c");
    await join("a"); // again, under a name that left
    await leave("e");
    await leave("d");
    await join("f");
    for (const x of [...live, ...gone]) {
      expect(x.events.roundFailed).toEqual([]);
      expect(x.events.handlerFailed).toEqual([]);
      expect(x.events.revoked.filter((r) => r === "lost")).toEqual([]);
    }
    expect(live.map((x) => x.m.lastMembers)).toEqual([
      ["a", "f"],
      ["a", "f"],
    ]);
    clean();
  });

  test("a member stopped while its start is in flight: stop resolves, it holds no lease, a later member owns all within 2 s", async () => {
    const delays = [-1, 0, 1, 3, 5, 10, 20, 50, 100];
    for (const [i, delay] of delays.entries()) {
      const stream = await open(8, `s${i}`);
      const x = member(stream, "m", LONG);
      const label = `stop ${delay < 0 ? "at once" : `after ${delay} ms`}`;
      const starting = x.m.start().then(
        () => "resolved",
        (error: unknown) => `rejected: ${String(error)}`,
      );
      if (delay >= 0) await Bun.sleep(delay);
      await by(performance.now() + 5_000, x.m.stop(), () => `${label}: stop did not resolve`);
      await by(performance.now() + 5_000, starting, () => `${label}: start did not settle`);
      await x.m.settled();
      expect({ label, owned: x.m.owned }).toEqual({ label, owned: [] });
      expect({ label, holders: await holders(stream) }).toEqual({
        label,
        holders: stream.keys.map(() => null),
      });
      expect({ label, consuming: tracker.consuming(x.id) }).toEqual({ label, consuming: [] });
      // A process started later, under another name or the same one (the first is stopped: not in use).
      const later = member(stream, i % 2 === 0 ? "later" : "m", LONG);
      const t0 = performance.now();
      await by(t0 + 2_000, later.m.start(), () => `${label}: later's start; ${describeState([x, later])}`);
      await settle(stream, [later], t0 + 2_000);
      expect({ label, members: later.m.lastMembers }).toEqual({ label, members: [later.name] });
      await agree(stream, [later], [x]);
      await later.m.stop();
      await agree(stream, [], [x, later]);
    }
    clean();
  });

  test("a member killed (its connections closed): the other owns all within 2 s despite 20 s rounds", async () => {
    const stream = await open(16);
    const timing = { ...LONG, presenceCheckMs: 200 };
    const a = member(stream, "a", timing);
    const b = member(stream, "b", timing);
    await Promise.all([a.m.start(), b.m.start()]);
    await settle(stream, [a, b], performance.now() + 2_000);
    await agree(stream, [a, b]);
    const t0 = performance.now();
    await kill(b);
    await settle(stream, [a], t0 + 2_000);
    expect(await holders(stream)).toEqual(stream.keys.map(() => "a"));
    expect(a.events.departed.flat()).toContain("b");
    expect(a.m.lastMembers).toEqual(["a"]);
    clean();
  });

  test("one of three killed: both survivors rebalance within 2 s despite 20 s rounds", async () => {
    const stream = await open(16);
    const timing = { ...LONG, presenceCheckMs: 200 };
    const [a, b, c] = ["a", "b", "c"].map((n) => member(stream, n, timing)) as [Member, Member, Member];
    await Promise.all([a, b, c].map((x) => x.m.start()));
    await settle(stream, [a, b, c], performance.now() + 2_000);
    const t0 = performance.now();
    await kill(c);
    await settle(stream, [a, b], t0 + 2_000);
    await agree(stream, [a, b]);
    for (const x of [a, b]) expect(x.m.lastMembers).toEqual(["a", "b"]);
    clean();
  });

  for (const [kind, timing] of [
    ["1 s leases", SHORT],
    ["20 s rounds", LONG],
  ] as const) {
    test(`a storm of joins and leaves (${kind}), then two steady members: one owner each within 3 s`, async () => {
      const stream = await open(16);
      sampleHolds(16);
      const random = prng(seed ^ 0x5eed);
      const outcomes: string[] = [];
      // Each name is one process at a time: an incarnation starts once the one before it stopped.
      const chain = async (name: string) => {
        for (let i = 0; i < 5; i++) {
          await Bun.sleep(Math.floor(random() * 40));
          const x = member(stream, name, timing);
          const starting = x.m.start().then(
            () => "ok",
            (error: unknown) => String(error),
          );
          await Bun.sleep(Math.floor(random() * 150));
          await by(performance.now() + 10_000, x.m.stop(), () => `${x.id}'s stop in the storm`);
          outcomes.push(`${x.id}: ${await starting}`);
          expect({ id: x.id, owned: x.m.owned }).toEqual({ id: x.id, owned: [] });
          expect({ id: x.id, consuming: tracker.consuming(x.id) }).toEqual({ id: x.id, consuming: [] });
          // A process that stopped exits.
          closed.add(x.backend);
          await x.backend.close();
        }
      };
      await Promise.all(["x", "y", "z"].map(chain));
      const stormed = [...all];
      // The steady two: one under a name of the storm, one new.
      const final = [member(stream, "x", timing), member(stream, "w", timing)];
      const t0 = performance.now();
      await by(t0 + 3_000, Promise.all(final.map((x) => x.m.start())), () => describeState(final));
      await settle(stream, final, t0 + 3_000);
      await agree(stream, final, stormed);
      for (const x of final) {
        expect(x.m.lastMembers).toEqual(["w", "x"]);
        await x.m.settled();
        expect(tracker.consuming(x.id)).toEqual(x.m.owned);
      }
      expect(outcomes.filter((o) => o.includes("ERR_MEMBER_IN_USE"))).toEqual([]);
      clean();
    });
  }

  test("a second live process under a name in use is refused; once the first stops, the name is free at once", async () => {
    const stream = await open(8);
    const first = member(stream, "a", LONG);
    await first.m.start();
    expect(first.m.owned).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const second = member(stream, "a", LONG);
    const refused = await second.m.start().then(
      () => null,
      (error: unknown) => error,
    );
    expect((refused as { code?: string } | null)?.code).toBe("ERR_MEMBER_IN_USE");
    await second.m.stop();
    expect(first.m.owned).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await holders(stream)).toEqual(stream.keys.map(() => "a"));
    await first.m.stop();
    const third = member(stream, "a", LONG);
    const t0 = performance.now();
    await by(t0 + 2_000, third.m.start(), () => "a restart under a stopped name");
    await settle(stream, [third], t0 + 2_000);
    await agree(stream, [third], [first, second]);
    clean();
  });

  test("a process killed and restarted under its name owns its share within 2 s despite 60 s leases, under higher generations", async () => {
    const stream = await open(8);
    const timing = { ...LONG, presenceCheckMs: 200 };
    const first = member(stream, "a", timing);
    const other = member(stream, "b", timing);
    await Promise.all([first.m.start(), other.m.start()]);
    await settle(stream, [first, other], performance.now() + 2_000);
    const before = new Map(first.m.owned.map((p) => [p, first.m.lease(p)!.generation]));
    await kill(first);
    const again = member(stream, "a", timing);
    const t0 = performance.now();
    await by(t0 + 2_000, again.m.start(), () => "a restart under a killed name");
    await settle(stream, [again, other], t0 + 2_000);
    await agree(stream, [again, other]);
    // A new owner's generation fences the previous one's reads and renewals, even under the same name: kept,
    // a process under that name that was only cut off, not dead, could go on reading under it.
    const after = new Map(again.m.owned.map((p) => [p, again.m.lease(p)!.generation]));
    const reused = [...after].filter(([p, g]) => before.has(p) && g <= before.get(p)!);
    expect({ reusedGenerations: reused }).toEqual({ reusedGenerations: [] });
    clean();
  });

  test("rebalances count each move on both sides; lease ages grow and restart on a move; rebalance() runs a round", async () => {
    const stream = await open(16);
    const a = member(stream, "a", LONG);
    await a.m.start();
    expect(a.m.rebalances).toBe(16);
    expect([...a.m.leaseAges().keys()].sort((x, y) => x - y)).toEqual(a.m.owned);
    const b = member(stream, "b", LONG);
    await b.m.start();
    await settle(stream, [a, b], performance.now() + 2_000);
    await b.m.settled();
    await a.m.settled();
    const agesA = a.m.leaseAges();
    const agesB = b.m.leaseAges();
    expect([...agesA.keys()].sort((x, y) => x - y)).toEqual(a.m.owned);
    expect([...agesB.keys()].sort((x, y) => x - y)).toEqual(b.m.owned);
    // b's partitions are new to it; a's were taken before b started.
    const youngestA = Math.min(...agesA.values());
    const oldestB = Math.max(...agesB.values());
    expect(youngestA).toBeGreaterThan(oldestB);
    await Bun.sleep(300);
    for (const [p, age] of a.m.leaseAges()) expect(age).toBeGreaterThanOrEqual(agesA.get(p)! + 250);
    // Exactly the moves a single join needs: a gave up b's share, b acquired it, nothing flapped.
    expect(b.m.rebalances).toBe(b.m.owned.length);
    expect(a.m.rebalances).toBe(16 + b.m.owned.length);
    // With 20 s rounds, a round now comes only from rebalance().
    let rounds = 0;
    const off = a.m.on("round", () => rounds++);
    const t0 = performance.now();
    await by(t0 + 1_000, a.m.rebalance(), () => "rebalance() resolving");
    off();
    expect(rounds).toBeGreaterThanOrEqual(1);
    expect(a.m.rebalances).toBe(16 + b.m.owned.length);
    clean();
  });

  test("sticky with 20 s rounds: a stand-by keeps off through a join and takes all within 2 s of the holder's stop", async () => {
    const stream = await open(4);
    const timing = { ...LONG, assignment: "sticky" as const };
    const a = member(stream, "a", timing);
    await a.m.start();
    expect(a.m.owned).toEqual([0, 1, 2, 3]);
    const b = member(stream, "b", timing);
    await b.m.start();
    await b.m.rebalance();
    await a.m.rebalance();
    expect([a.m.owned, b.m.owned]).toEqual([[0, 1, 2, 3], []]);
    const t0 = performance.now();
    await a.m.stop();
    await by(
      t0 + 2_000,
      until(
        (check) => {
          const offs = [b.m.on("assigned", check), b.m.on("round", check)];
          return () => {
            for (const off of offs) off();
          };
        },
        () => b.m.owned.length === 4,
      ),
      () => describeState([a, b]),
    );
    expect(await holders(stream)).toEqual(["b", "b", "b", "b"]);
    clean();
  });
});

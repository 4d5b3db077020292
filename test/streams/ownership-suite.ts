/**
 * Partition ownership across members, each on a connection of its own as separate processes would be
 * (redis.test.ts, cluster.test.ts): an even share per live member, exactly one owner per partition,
 * rebalances on join, leave and death (a member cut off from Redis stops consuming by its own deadline),
 * and pumps on owned partitions that handle every entry once through a member's death.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { assignPartitions } from "../../src/streams/assignment.ts";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { leaseKey, membersKey } from "../../src/streams/leases.ts";
import type { Output } from "../../src/streams/outputs.ts";
import {
  type OwnershipOptions,
  type PartitionHandler,
  PartitionOwnership,
  type RevokeReason,
} from "../../src/streams/ownership.ts";
import { PartitionedConsumer, type PartitionPump } from "../../src/streams/partitioned-consumer.ts";
import { PartitionedProducer } from "../../src/streams/partitioned-producer.ts";
import { PartitionedStream } from "../../src/streams/partitions.ts";
import type { ContractHarness } from "./contract.ts";
import { type CountMsg, DurableTarget, storedCounts } from "./durable-target.ts";
import { TestTarget, until } from "./test-target.ts";

const LEASE_MS = 1_000;
const RENEW_MS = 200;
const idle: PartitionHandler = { assigned: async () => {}, revoked: async () => {} };

export function runOwnershipSuite(name: string, create: () => Promise<ContractHarness>): void {
  describe(`partition ownership: ${name}`, () => {
    let h: ContractHarness;
    let stream: PartitionedStream;
    const backends: StreamBackend[] = [];
    const members: PartitionOwnership[] = [];
    const open = async (partitions = 8) => {
      h = await create();
      stream = await PartitionedStream.open(h.backend, `${h.prefix}:tx`, { partitions });
    };
    const connect = () => {
      const backend = h.connect!();
      backends.push(backend);
      return backend;
    };
    const options = (name: string) => ({ group: "g", member: name, leaseMs: LEASE_MS, renewMs: RENEW_MS });
    const member = (name: string, backend = connect(), handler = idle) => {
      const m = new PartitionOwnership(backend, stream, handler, options(name));
      members.push(m);
      return m;
    };
    /** A member whose rounds are 20 s apart: only announcements and presence checks move anything sooner. */
    const slow = (name: string, extra: Partial<OwnershipOptions> = {}, backend = connect()) => {
      const m = new PartitionOwnership(backend, stream, idle, {
        ...options(name),
        leaseMs: 60_000,
        renewMs: 20_000,
        ...extra,
      });
      members.push(m);
      return m;
    };
    /** A member consuming its partitions through a pump each (`setup` gives a partition's target). */
    const consumer = <M, R>(
      name: string,
      backend: StreamBackend,
      setup: (partition: number, key: string) => PartitionPump<M, R> | Promise<PartitionPump<M, R>>,
    ) => {
      const c = new PartitionedConsumer<M, R>(backend, stream, setup, options(name));
      members.push(c.ownership);
      return c;
    };
    /** Resolves once `predicate` holds after some member's round. */
    const settled = (predicate: () => boolean) =>
      until((check) => {
        const offs = members.map((m) => m.on("round", check));
        return () => {
          for (const off of offs) off();
        };
      }, predicate);
    const holders = async () =>
      Promise.all(
        stream.keys.map(async (key) => (await h.backend.leases().inspect(leaseKey(key, "g"))).holder),
      );
    /** Hand-overs a test holds up, let go before its members stop (a stop waits for them). */
    const holding: (() => void)[] = [];
    afterEach(async () => {
      for (const letGo of holding.splice(0)) letGo();
      for (const m of members.splice(0)) await m.stop();
      for (const backend of backends.splice(0)) await backend.close();
      await h?.cleanup();
    });

    test("two members share eight partitions four and four, one owner each, as the leases say", async () => {
      await open();
      const a = member("a");
      await a.start();
      expect(a.owned).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      const b = member("b");
      await b.start();
      await settled(() => a.owned.length === 4 && b.owned.length === 4);
      const owners = assignPartitions(8, ["a", "b"]);
      expect(await holders()).toEqual(owners);
      expect(a.owned).toEqual(owners.flatMap((o, p) => (o === "a" ? [p] : [])));
      expect(a.lastMembers).toEqual(["a", "b"]);
    });

    test("sticky: a member keeps what it holds through joins; the others take it over once it stops or dies", async () => {
      await open(2);
      const sticky = (name: string, backend = connect()) => {
        const m = new PartitionOwnership(backend, stream, idle, {
          ...options(name),
          presenceCheckMs: RENEW_MS,
          assignment: "sticky",
        });
        members.push(m);
        return m;
      };
      /** Resolves after `m`'s next three rounds. */
      const threeRounds = (m: PartitionOwnership) => {
        let rounds = 0;
        return until(
          (check) =>
            m.on("round", () => {
              rounds++;
              check();
            }),
          () => rounds >= 3,
        );
      };
      const a = sticky("a");
      await a.start();
      expect(a.owned).toEqual([0, 1]);
      const bBackend = connect();
      const b = sticky("b", bBackend);
      await b.start();
      // Balanced, b would take one over at its first round (the first test); sticky, it waits.
      await threeRounds(b);
      expect([a.owned, b.owned]).toEqual([[0, 1], []]);
      await a.stop();
      await settled(() => b.owned.length === 2);
      const c = sticky("c");
      await c.start();
      await threeRounds(c);
      expect([b.owned, c.owned]).toEqual([[0, 1], []]);
      // b's connections close as a dead process's do: c takes over within a presence check.
      await bBackend.close();
      await settled(() => c.owned.length === 2);
      expect(await holders()).toEqual(["c", "c"]);
    });

    test("a handler slower than the lease holds up no renewal: nothing owned is lost meanwhile", async () => {
      await open();
      let restored!: () => void;
      const restoring = new Promise<void>((resolve) => {
        restored = resolve;
      });
      const lost: number[] = [];
      const a = member("a", connect(), {
        // Partition 0's restore takes three leases; the other seven must stay owned and renewed meanwhile.
        assigned: (partition) => (partition === 0 ? restoring : Promise.resolve()),
        revoked: async (partition, _key, reason) => {
          if (reason === "lost") lost.push(partition);
        },
      });
      const started: number[] = [];
      a.on("assigned", ({ partition }) => started.push(partition));
      await a.start();
      let rounds = 0;
      await until(
        (check) =>
          a.on("round", () => {
            rounds++;
            check();
          }),
        () => rounds >= (3 * LEASE_MS) / RENEW_MS,
      );
      expect(lost).toEqual([]);
      expect(a.owned).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(started.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
      restored();
      await until(
        (check) => a.on("assigned", check),
        () => started.includes(0),
      );
    });

    test("a member that stops hands its partitions over; a third that joins gets its share", async () => {
      await open();
      const [a, b] = [member("a"), member("b")];
      await Promise.all([a.start(), b.start()]);
      await settled(() => a.owned.length === 4 && b.owned.length === 4);
      await b.stop();
      await settled(() => a.owned.length === 8);
      const [c, d] = [member("c"), member("d")];
      await Promise.all([c.start(), d.start()]);
      const expected = assignPartitions(8, ["a", "c", "d"]);
      const share = (name: string) => expected.filter((o) => o === name).length;
      await settled(() => [a, c, d].every((m) => m.owned.length === share(m.options.member)));
      expect(await holders()).toEqual(expected);
      expect(Math.max(...["a", "c", "d"].map(share))).toBe(3);
    });

    test("a member cut off from Redis stops consuming by its own deadline; the others take over", async () => {
      await open();
      const revoked: RevokeReason[] = [];
      const cutBackend = connect();
      const cut = member("cut", cutBackend, {
        assigned: async () => {},
        revoked: async (_p, _k, reason) => {
          revoked.push(reason);
        },
      });
      const a = member("a");
      await Promise.all([a.start(), cut.start()]);
      await settled(() => a.owned.length === 4 && cut.owned.length === 4);
      revoked.length = 0; // a hand-over while they settled counts as a rebalance
      const cutAt = performance.now();
      await cutBackend.close();
      await settled(() => cut.owned.length === 0 && a.owned.length === 8);
      // Its own deadline (lease - renew) passes before the lease can expire in Redis, where a takes over.
      expect(revoked).toEqual(["lost", "lost", "lost", "lost"]);
      expect(performance.now() - cutAt).toBeLessThan(LEASE_MS + 5 * RENEW_MS);
      expect(new Set(await holders())).toEqual(new Set(["a"]));
    });

    /** A member whose `revoked` (for a rebalance or a stop) waits until the test lets go. */
    const holdingOn = (name: string, extra: { handOverMs?: number } = {}) => {
      let letGo!: () => void;
      const released = new Promise<void>((resolve) => {
        letGo = resolve;
      });
      const handler: PartitionHandler = {
        assigned: async () => {},
        revoked: (_p, _k, reason) => (reason === "lost" ? Promise.resolve() : released),
      };
      const m = new PartitionOwnership(connect(), stream, handler, { ...options(name), ...extra });
      members.push(m);
      holding.push(letGo);
      return { m, letGo };
    };
    /** Resolves at the first round of `m` at least `ms` from now. */
    const roundsFor = (m: PartitionOwnership, ms: number) => {
      const from = performance.now();
      return until(
        (check) => m.on("round", check),
        () => performance.now() - from >= ms,
      );
    };

    test("a member giving partitions up keeps their leases until its handler let go, however long past the lease", async () => {
      await open();
      const { m: a, letGo } = holdingOn("a");
      await a.start();
      const b = member("b");
      await b.start();
      // Three leases' worth of b's rounds while a's hand-over runs: b takes nothing a has not released.
      await roundsFor(b, 3 * LEASE_MS);
      expect(b.owned).toEqual([]);
      expect(new Set(await holders())).toEqual(new Set(["a"]));
      letGo();
      await settled(() => a.owned.length === 4 && b.owned.length === 4);
      expect(await holders()).toEqual(assignPartitions(8, ["a", "b"]));
    });

    test("a stopping member's stuck hand-over holds its partitions for handOverMs, then they move", async () => {
      await open();
      const handOverMs = 2 * LEASE_MS;
      const { m: a, letGo } = holdingOn("a", { handOverMs });
      await a.start();
      const b = member("b");
      await b.start();
      await settled(() => b.owned.length === 4);
      const stopping = a.stop();
      const stoppedAt = performance.now();
      await settled(() => b.owned.length === 8);
      // Renewed for handOverMs, then left to expire: not before, and not much after.
      const waited = performance.now() - stoppedAt;
      expect(waited).toBeGreaterThan(handOverMs);
      expect(waited).toBeLessThan(handOverMs + LEASE_MS + 5 * RENEW_MS);
      letGo();
      await stopping;
    });

    test("with rounds 20 s apart, a join and a leave rebalance at once: the member announces them", async () => {
      await open();
      const [a, b] = [slow("a"), slow("b")];
      await a.start();
      await settled(() => a.owned.length === 8);
      const joinedAt = performance.now();
      await b.start();
      await settled(() => a.owned.length === 4 && b.owned.length === 4);
      expect(performance.now() - joinedAt).toBeLessThan(5_000);
      const leftAt = performance.now();
      await b.stop();
      await settled(() => a.owned.length === 8);
      expect(performance.now() - leftAt).toBeLessThan(5_000);
      expect(new Set(await holders())).toEqual(new Set(["a"]));
    });

    test("announcements while a member is joining start no second presence: its first round goes through", async () => {
      await open();
      const a = slow("a");
      await a.start();
      const b = slow("b");
      const failures: unknown[] = [];
      b.on("roundFailed", ({ error }) => {
        failures.push(error);
      });
      // Another member announcing all along, so one reaches b between its subscription and its claim.
      const loud = await connect()
        .leases()
        .present(membersKey(stream.name, "g"), "loud", 60_000, () => {});
      let joining = true;
      const announcing = (async () => {
        while (joining) await loud.announce();
      })();
      const startedAt = performance.now();
      await b.start();
      joining = false;
      await announcing;
      await loud.close();
      await settled(() => a.owned.length === 4 && b.owned.length === 4);
      expect(performance.now() - startedAt).toBeLessThan(5_000);
      expect(failures).toEqual([]);
    });

    test("a member whose process ends loses its partitions within a presence check, long before its lease expires or a round", async () => {
      await open();
      const goneBackend = connect();
      const [a, gone] = [
        slow("a", { presenceCheckMs: RENEW_MS }),
        slow("gone", { presenceCheckMs: RENEW_MS }, goneBackend),
      ];
      await Promise.all([a.start(), gone.start()]);
      await settled(() => a.owned.length === 4 && gone.owned.length === 4);
      const before = await Promise.all(
        stream.keys.map(async (key) => (await h.backend.leases().inspect(leaseKey(key, "g"))).generation),
      );
      const departed: string[] = [];
      a.on("departed", ({ members }) => {
        departed.push(...members);
      });
      // Its connections close as a killed process's do; its timers go on, their rounds failing.
      const goneAt = performance.now();
      await goneBackend.close();
      await settled(() => a.owned.length === 8);
      expect(performance.now() - goneAt).toBeLessThan(10 * RENEW_MS);
      expect(departed).toEqual(["gone"]);
      expect(new Set(await holders())).toEqual(new Set(["a"]));
      const after = await Promise.all(
        stream.keys.map(async (key) => (await h.backend.leases().inspect(leaseKey(key, "g"))).generation),
      );
      // The partitions taken from it changed generation (its writes fenced); a's own did not.
      expect(after.filter((generation, p) => generation !== before[p]).length).toBe(4);
    });

    test("a dead member's partitions move at once to whoever's share they fall in, even a member that did not see it go", async () => {
      await open();
      const goneBackend = connect();
      // b never looks for the others' presence: it learns of the death from a, as a member whose own check
      // came after its round does (it then checks only the members that round listed).
      const [a, b, gone] = [
        slow("a", { presenceCheckMs: RENEW_MS }),
        slow("b", { presenceCheckMs: 600_000 }),
        slow("gone", { presenceCheckMs: 600_000 }, goneBackend),
      ];
      await Promise.all([a.start(), b.start(), gone.start()]);
      const three = assignPartitions(8, ["a", "b", "gone"]);
      await settled(() => gone.owned.length === three.filter((owner) => owner === "gone").length);
      const two = assignPartitions(8, ["a", "b"]);
      const toB = two.filter((owner, p) => owner === "b" && three[p] === "gone").length;
      expect(toB).toBeGreaterThan(0);
      const goneAt = performance.now();
      await goneBackend.close();
      await settled(() => a.owned.length + b.owned.length === 8);
      expect(performance.now() - goneAt).toBeLessThan(10 * RENEW_MS);
      expect(await holders()).toEqual(two);
    });

    test("pumps on owned partitions handle every entry once through a member's death", async () => {
      await open(4);
      const out = `${h.prefix}:alerts`;
      const N = 2_000;
      let acked = 0;
      const onAcked = new Set<() => void>();
      const node = (name: string) => {
        const backend = connect();
        const target = new TestTarget<{ k: string }, Output[]>({
          instances: 2,
          window: 16,
          key: (m) => m.k,
          handler: async (m) => [{ stream: out, dedupId: "seen", payload: m }],
        });
        // The previous owner stopped (or its lease expired): the consumer adopts its pending entries.
        const c = consumer(name, backend, () => ({
          target,
          options: { blockMs: 50, retryMinMs: 5, retryMaxMs: 50, stopTimeoutMs: 500 },
        }));
        c.on("started", ({ pump }) => {
          pump.on("acked", ({ ids }) => {
            acked += ids.length;
            for (const notify of onAcked) notify();
          });
        });
        const m = c.ownership;
        return { m, backend };
      };
      const a = node("a");
      const b = node("b");
      await Promise.all([a.m.start(), b.m.start()]);
      await settled(() => a.m.owned.length === 2 && b.m.owned.length === 2);
      const producer = new PartitionedProducer<{ k: string }>(h.backend, stream, { key: (e) => e.k });
      const events = Array.from({ length: N }, (_, i) => ({ k: `w${i}` }));
      await producer.sendBatch(events.slice(0, N / 2));
      await b.backend.close();
      await producer.sendBatch(events.slice(N / 2));
      await settled(() => a.m.owned.length === 4);
      // Every entry acked once: what b had handled before its death, and the rest by a (adopted or new).
      await until(
        (check) => {
          onAcked.add(check);
          return () => onAcked.delete(check);
        },
        () => acked >= N,
      );
      const keys = (await h.backend.range(out, { count: N * 2 })).map(
        (e) => (defaultCodec.decode(e.fields!) as { k: string }).k,
      );
      expect(keys.length).toBe(N);
      expect(new Set(keys).size).toBe(N);
      for (const key of stream.keys) expect(await h.backend.pending(key, "g", { count: 10 })).toEqual([]);
    }, 30_000);

    test("entries a live owner holds past 3x claimIdleMs are claimed by nobody and handled once", async () => {
      await open(4);
      const out = `${h.prefix}:alerts`;
      const CLAIM_IDLE_MS = 100;
      const handled = new Map<string, number>();
      let finished = 0;
      const onFinished = new Set<() => void>();
      const node = (name: string) => {
        const target = new TestTarget<{ k: string }, Output[]>({
          instances: 1,
          window: 64,
          key: (m) => m.k,
          handler: async (m) => {
            handled.set(m.k, (handled.get(m.k) ?? 0) + 1);
            // Held in the "mailbox" for three claim periods, while sweeps run every 25 ms.
            await Bun.sleep(3 * CLAIM_IDLE_MS);
            finished++;
            for (const notify of onFinished) notify();
            return [{ stream: out, dedupId: "seen", payload: m }];
          },
        });
        return consumer(name, connect(), () => ({
          target,
          options: { blockMs: 50, claimIdleMs: CLAIM_IDLE_MS, sweepIntervalMs: 25 },
        })).ownership;
      };
      const [a, b] = [node("a"), node("b")];
      await Promise.all([a.start(), b.start()]);
      await settled(() => a.owned.length === 2 && b.owned.length === 2);
      const producer = new PartitionedProducer<{ k: string }>(h.backend, stream, { key: (e) => e.k });
      const N = 40;
      await producer.sendBatch(Array.from({ length: N }, (_, i) => ({ k: `w${i}` })));
      await until(
        (check) => {
          onFinished.add(check);
          return () => onFinished.delete(check);
        },
        () => finished >= N,
      );
      expect(handled.size).toBe(N);
      expect([...handled.values()].every((count) => count === 1)).toBe(true);
      for (const m of [a, b]) await m.stop();
      expect(await h.backend.length(out)).toBe(N);
    }, 20_000);

    test("a partition that moves takes its checkpointed state with it: counts exact after a member's death", async () => {
      await open(4);
      let acked = 0;
      const onAcked = new Set<() => void>();
      const node = (name: string) => {
        const backend = connect();
        const targets = new Map<number, DurableTarget>();
        // The target's restore takes the partition's state over (a new epoch fences the previous owner);
        // the durable pump then adopts every entry pending in the group and replays it first.
        const c = consumer<CountMsg, Output[]>(name, backend, async (partition, key) => {
          const store = backend.stateStore({ anchor: key });
          const target = new DurableTarget({ store, instances: 1, window: 64 });
          await target.ready();
          targets.set(partition, target);
          return {
            target,
            options: { blockMs: 50, sweepIntervalMs: 0, stopTimeoutMs: 500, stateStore: store },
          };
        });
        c.on("started", ({ pump }) => {
          pump.on("acked", ({ ids }) => {
            acked += ids.length;
            for (const notify of onAcked) notify();
          });
        });
        c.on("stopped", ({ partition }) => targets.delete(partition));
        const m = c.ownership;
        /** The process dies: its targets handle and checkpoint nothing more, its connection goes. */
        const kill = async () => {
          for (const target of targets.values()) target.kill();
          await backend.close();
        };
        return { m, kill };
      };
      const a = node("a");
      const b = node("b");
      await Promise.all([a.m.start(), b.m.start()]);
      await settled(() => a.m.owned.length === 2 && b.m.owned.length === 2);
      const producer = new PartitionedProducer<CountMsg>(h.backend, stream, { key: (e) => e.key });
      const keys = Array.from({ length: 1_200 }, (_, i) => `k${i % 37}`);
      await producer.sendBatch(keys.slice(0, 600).map((key) => ({ key })));
      await until(
        (check) => {
          onAcked.add(check);
          return () => onAcked.delete(check);
        },
        () => acked >= 300,
      );
      await b.kill();
      await producer.sendBatch(keys.slice(600).map((key) => ({ key })));
      await settled(() => a.m.owned.length === 4);
      await until(
        (check) => {
          onAcked.add(check);
          return () => onAcked.delete(check);
        },
        () => acked >= keys.length,
      );
      await a.m.stop();
      for (const [partition, key] of stream.keys.entries()) {
        expect((await h.backend.groupInfo(key, "g"))?.pending).toBe(0);
        const expected = new Map<string, number>();
        for (const k of keys.filter((k) => stream.partitionOf(k) === partition))
          expected.set(k, (expected.get(k) ?? 0) + 1);
        expect(await storedCounts(h.backend.stateStore({ anchor: key }), "counter", 1)).toEqual(expected);
      }
    }, 30_000);
  });
}

/**
 * The README's scale-out example (examples/partitions/member.ts) as real processes on a real 3-master Redis
 * Cluster: a group of members shares a partitioned stream (8 partitions, a durable tally actor per owned
 * partition). One member alone gives the clean answer; then two members split the work, one is SIGKILLed
 * mid-stream, the survivor finds it gone and takes its partitions over, and a third joins and takes
 * its share. The tallies must come out exactly as in the clean run: the same outputs, none written twice.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ordersStream, PARTITIONS, talliesStream } from "../../examples/partitions/shop.ts";
import type { Order } from "../../examples/partitions/tally.actor.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { PartitionedProducer } from "../../src/streams/partitioned-producer.ts";
import { PartitionedStream } from "../../src/streams/partitions.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { ChildOutput } from "../support/child-output.ts";
import { reaper } from "../support/reaper.ts";
import { RedisCluster } from "../support/redis-cluster.ts";
import { redisServerInstalled } from "../support/redis-server.ts";

const MEMBER = new URL("../../examples/partitions/member.ts", import.meta.url).pathname;
const ORDERS: Order[] = Array.from({ length: 12_000 }, (_, i) => ({
  customer: `c${(i * 7) % 101}`,
  cents: 100 + ((i * 13) % 997),
}));

interface Line {
  member: string;
  partition?: number;
  event: "started" | "assigned" | "first-written" | "revoked";
  at: number;
}

const track = reaper("all");

/** The partitions a member's lines say it holds: taken and not given up. */
function owned(lines: readonly Line[]): number[] {
  const held = new Set<number>();
  for (const line of lines) {
    if (line.event === "assigned") held.add(line.partition as number);
    if (line.event === "revoked") held.delete(line.partition as number);
  }
  return [...held];
}

describe.skipIf(!redisServerInstalled())("scale-out example on a 3-master cluster", () => {
  let cluster: RedisCluster;
  let backend: RedisStreamBackend;
  // Three servers and a `--cluster create` can take longer than bun's 5 s hook timeout on a loaded machine.
  beforeAll(async () => {
    cluster = await RedisCluster.start();
    backend = new RedisStreamBackend({ cluster: cluster.nodes });
  }, 60_000);
  afterAll(async () => {
    await backend?.close();
    await cluster?.cleanup();
  });

  function member(name: string, tag: string) {
    const child = track(
      Bun.spawn(["bun", MEMBER, name, tag], {
        env: { ...process.env, REDIS_URL: undefined, REDIS_CLUSTER_NODES: cluster.nodes.join(",") },
        stdout: "pipe",
        stderr: "inherit",
      }),
    );
    const output = new ChildOutput(child.stdout);
    const lines = () =>
      output.text
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Line);
    /** Resolves once the member holds `count` partitions. */
    const owns = (count: number) => output.waitUntil(() => owned(lines()).length === count, `${count} owned`);
    return { child, output, lines, owns };
  }

  async function produce(tag: string, orders: readonly Order[]): Promise<void> {
    const stream = await PartitionedStream.open(backend, ordersStream(tag), { partitions: PARTITIONS });
    const producer = new PartitionedProducer<Order>(backend, stream, { key: (o) => o.customer });
    for (let i = 0; i < orders.length; i += 1_000) await producer.sendBatch(orders.slice(i, i + 1_000));
  }

  /**
   * Resolves once `tag`'s tallies stream holds `count` entries. Polling: the members are other processes,
   * and what they wrote is the only view of their progress.
   */
  async function tallied(tag: string, count: number): Promise<void> {
    while ((await backend.length(talliesStream(tag))) < count) await Bun.sleep(20);
  }

  /** Every partition's group has nothing unread and nothing pending (every entry covered by a checkpoint). */
  async function drained(tag: string): Promise<void> {
    const stream = await PartitionedStream.open(backend, ordersStream(tag), { partitions: PARTITIONS });
    for (const key of stream.keys) {
      for (;;) {
        const info = await backend.groupInfo(key, "tally");
        if (info !== null && info.lag === 0 && info.pending === 0) break;
        await Bun.sleep(20);
      }
    }
  }

  async function tallies(tag: string): Promise<string[]> {
    const entries = await backend.range(talliesStream(tag), {
      start: "-",
      end: "+",
      count: 2 * ORDERS.length,
    });
    return entries
      .flatMap((e) => (e.fields === null ? [] : [JSON.stringify(defaultCodec.decode(e.fields))]))
      .sort();
  }

  const clean = { tag: `clean-${crypto.randomUUID().slice(0, 8)}`, tallies: [] as string[] };

  test("one member alone: every order tallied once", async () => {
    await produce(clean.tag, ORDERS);
    const solo = member("solo", clean.tag);
    await solo.owns(PARTITIONS);
    await tallied(clean.tag, ORDERS.length);
    await drained(clean.tag);
    solo.child.kill("SIGTERM");
    expect(await solo.child.exited).toBe(0);
    clean.tallies = await tallies(clean.tag);
    expect(clean.tallies.length).toBe(ORDERS.length);
    expect(new Set(clean.tallies).size).toBe(ORDERS.length);
  }, 60_000);

  test("two members, one SIGKILLed mid-stream, a third joins: the clean run's tallies, none twice", async () => {
    expect(clean.tallies.length).toBe(ORDERS.length);
    const tag = `faulted-${crypto.randomUUID().slice(0, 8)}`;
    const a = member("a", tag);
    const b = member("b", tag);
    await Promise.all([a.owns(PARTITIONS / 2), b.owns(PARTITIONS / 2)]);

    await produce(tag, ORDERS.slice(0, 7_000));
    await tallied(tag, 2_000);
    a.child.kill("SIGKILL");
    const killedAt = Date.now();
    await a.child.exited;
    await a.output.rest();
    const ownedByA = owned(a.lines());
    expect(ownedByA.length).toBe(PARTITIONS / 2);

    // The survivor finds the dead member gone and takes its partitions, with their state.
    await b.owns(PARTITIONS);
    await produce(tag, ORDERS.slice(7_000, 10_000));
    const c = member("c", tag);
    await Promise.all([c.owns(PARTITIONS / 2), b.owns(PARTITIONS / 2)]);
    await produce(tag, ORDERS.slice(10_000));
    await tallied(tag, ORDERS.length);
    await drained(tag);
    for (const m of [b, c]) m.child.kill("SIGTERM");
    expect(await Promise.all([b.child.exited, c.child.exited])).toEqual([0, 0]);
    await Promise.all([b.output.rest(), c.output.rest()]);

    // The dead member's partitions were taken over (restored, their pending entries adopted) well before its
    // leases (10 s, renewed every 3 s) could expire: it was found gone; after the join, each of them was
    // handled by its new owner.
    const takeovers = ownedByA.map((partition) => {
      const line = b
        .lines()
        .find((l) => l.partition === partition && l.event === "assigned" && l.at > killedAt);
      return line === undefined ? Number.POSITIVE_INFINITY : line.at - killedAt;
    });
    console.log(
      `partitions ${ownedByA.join(", ")} of the killed member taken over after ${takeovers.join(", ")} ms`,
    );
    for (const ms of takeovers) expect(ms).toBeLessThan(3_000);
    expect(c.lines().filter((l) => l.event === "assigned").length).toBe(PARTITIONS / 2);
    expect(c.lines().filter((l) => l.event === "first-written").length).toBe(PARTITIONS / 2);

    const faulted = await tallies(tag);
    expect(faulted.length).toBe(ORDERS.length);
    expect(faulted).toEqual(clean.tallies);
  }, 90_000);
});

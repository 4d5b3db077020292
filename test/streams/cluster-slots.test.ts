/**
 * What only a Redis Cluster has: slots on several nodes, and slots that move. On a private 3-master cluster:
 * blocking readers reach the node of their stream's slot; a reader whose slot migrates follows it; a pump
 * keeps going through a live migration of its stream's slot, and through a restart of its stream's master,
 * losing and doubling nothing; and a checkpoint
 * whose keys span two slots fails with an error that says how to fix it.
 */
import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import Redis from "ioredis";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { keySlot } from "../../src/streams/key-slot.ts";
import type { Output } from "../../src/streams/outputs.ts";
import { Pump } from "../../src/streams/pump.ts";
import { RedisCluster } from "../support/redis-cluster.ts";
import { redisServerInstalled } from "../support/redis-server.ts";
import type { ContractHarness } from "./contract.ts";
import { redisClusterHarness } from "./harness.ts";
import { Entry } from "./state-contract.ts";
import { TestTarget, until } from "./test-target.ts";

// The first test starts a 3-master cluster (redis-cli waits for the join): 2-5 s on a loaded box, and a
// test that times out has bun kill every process the file spawned, servers included.
setDefaultTimeout(30_000);

/** Backoff of the test's producer while a master is away. */
const RETRY_MS = 50;

const text = (fields: Record<string, Buffer> | null) => fields?.n?.toString();

describe.skipIf(!redisServerInstalled())("redis cluster slots", () => {
  let cluster: RedisCluster | null = null;
  let h: ContractHarness;
  let b: StreamBackend;
  const open = async () => {
    // AOF with fsync always: a restarted master comes back with every write it acknowledged.
    cluster ??= await RedisCluster.start({ appendonly: true, appendfsync: "always" });
    await cluster.revive();
    h = await redisClusterHarness(cluster);
    b = h.backend;
  };
  /**
   * A pump on `stream` whose handler writes one output per entry to `<prefix>:alerts`; `acked(n)` resolves
   * once n entries are acked, `effects(most)` reads the outputs' numbers back.
   */
  const effectPump = (stream: string, retryMaxMs: number) => {
    const out = `${h.prefix}:alerts`;
    const target = new TestTarget<{ n: number }, Output[]>({
      instances: 2,
      window: 32,
      key: (m) => String(m.n % 13),
      handler: async (m) => [{ stream: out, dedupId: "effect", payload: { n: m.n } }],
    });
    const pump = new Pump<{ n: number }, Output[]>(b, target, {
      stream,
      group: "g",
      consumer: "me",
      blockMs: 50,
      retryMinMs: 5,
      retryMaxMs,
    });
    const acked = (count: number) =>
      until(
        (check) => pump.on("acked", check),
        () => pump.stats.acked >= count,
      );
    const effects = async (most: number) =>
      (await b.range(out, { count: most })).map((e) => (defaultCodec.decode(e.fields!) as { n: number }).n);
    return { pump, acked, effects };
  };
  /** A stream name under the test's prefix whose slot is served by master `node`. */
  const streamOn = async (node: number, name: string) => {
    for (let i = 0; ; i++) {
      const stream = `${h.prefix}:${name}{${i}}`;
      if ((await cluster!.ownerOf(keySlot(stream))) === node) return stream;
    }
  };
  afterEach(async () => {
    await h?.cleanup();
  });
  afterAll(async () => {
    await cluster?.cleanup();
  });

  test("a key's slot is the one Redis gives it: tagged, untagged, empty tags, non-ASCII", async () => {
    await open();
    const admin = new Redis(cluster!.servers[0]!.url, { protocol: 2 });
    try {
      for (const key of [
        "somekey",
        "foo{hash_tag}",
        "{}x",
        "a{}{b}",
        "123456789",
        `${h.prefix}:alerts`,
        "ünï{ß}",
        "☃:tx",
      ])
        expect(keySlot(key)).toBe(Number(await admin.call("CLUSTER", "KEYSLOT", key)));
    } finally {
      admin.disconnect();
    }
  });

  test("blocking readers reach the node of their stream's slot, on every master", async () => {
    await open();
    const streams = await Promise.all([0, 1, 2].map((node) => streamOn(node, "s")));
    for (const s of streams) await b.ensureGroup(s, "g");
    const reads = streams.map((s) => b.readNew(s, "g", "c", { count: 10, blockMs: 5_000 }));
    await Promise.all(streams.map((s, i) => b.append(s, { n: String(i) })));
    expect((await Promise.all(reads)).map((entries) => entries.map((e) => text(e.fields)))).toEqual([
      ["0"],
      ["1"],
      ["2"],
    ]);
  });

  test("a reader whose slot migrates while it blocks fails over to the new owner", async () => {
    await open();
    const s = await streamOn(0, "s");
    await b.ensureGroup(s, "g");
    await b.append(s, { n: "1" });
    expect((await b.readNew(s, "g", "c", { count: 10, blockMs: 1_000 })).map((e) => text(e.fields))).toEqual([
      "1",
    ]);
    const blocked = b.readNew(s, "g", "c", { count: 10, blockMs: 10_000 }).then(
      (entries) => ({ entries, error: null }),
      (error: Error) => ({ entries: [], error }),
    );
    await cluster!.migrateSlot(keySlot(s), 1);
    // The node unblocks the read with a redirect once its slot is gone (or, at worst, the read times out).
    const first = await blocked;
    if (first.error) expect(first.error.message).toMatch(/MOVED|ASK|UNBLOCKED|closed/);
    await b.append(s, { n: "2" });
    const next = await b.readNew(s, "g", "c", { count: 10, blockMs: 2_000 });
    expect([...first.entries, ...next].map((e) => text(e.fields))).toEqual(["2"]);
    expect((await b.pending(s, "g", { count: 10 })).length).toBe(2);
  }, 30_000);

  test("a pump loses and doubles nothing while redis-cli --cluster reshard moves its stream's slot", async () => {
    await open();
    // redis-cli moves the source's lowest slot first: the stream is put there.
    const slot = await cluster!.lowestSlotOf(0);
    let s = "";
    for (let i = 0; keySlot(s) !== slot || s === ""; i++) s = `${h.prefix}:tx{${i}}`;
    const N = 3_000;
    const { pump, acked, effects } = effectPump(s, 50);
    try {
      await pump.start();
      const produce = (async () => {
        for (let n = 0; n < N; n += 100)
          await b.appendBatch(
            s,
            Array.from({ length: 100 }, (_, i) => defaultCodec.encode({ n: n + i })),
          );
      })();
      await acked(N / 3);
      await cluster!.reshard(0, 2);
      await produce;
      await acked(N);
    } finally {
      await pump.stop();
    }
    const written = await effects(N * 2);
    expect(written.length).toBe(N);
    expect(new Set(written).size).toBe(N);
    expect(await b.pending(s, "g", { count: 10 })).toEqual([]);
    expect(await cluster!.ownerOf(keySlot(s))).toBe(2);
  }, 60_000);

  test("a pump loses and doubles nothing while its stream's master restarts (AOF always)", async () => {
    await open();
    const s = await streamOn(0, "tx");
    const N = 1_500;
    const { pump, acked, effects } = effectPump(s, 200);
    /** Idempotent per n, retried while the master is away (a lost reply must not write twice). */
    const send = async (n: number) => {
      for (;;) {
        try {
          return await b.appendUnique(s, `n${n}`, defaultCodec.encode({ n }), 600_000);
        } catch {
          await Bun.sleep(RETRY_MS);
        }
      }
    };
    try {
      await pump.start();
      const produce = (async () => {
        for (let n = 0; n < N; n += 50) await Promise.all(Array.from({ length: 50 }, (_, i) => send(n + i)));
      })();
      await acked(N / 3);
      const owner = await cluster!.ownerOf(keySlot(s));
      await cluster!.restart(owner);
      await produce;
      await acked(N);
    } finally {
      await pump.stop();
    }
    const written = await effects(N * 2);
    expect(written.length).toBe(N);
    expect(new Set(written).size).toBe(N);
    expect(await b.length(s)).toBe(N);
    expect(await b.pending(s, "g", { count: 10 })).toEqual([]);
  }, 60_000);

  test("a checkpoint covering streams in two slots fails naming the fix (a shared hash tag)", async () => {
    await open();
    const s = await streamOn(0, "tx");
    const other = await streamOn(1, "alerts");
    await b.ensureGroup(other, "g");
    await b.append(other, { n: "1" });
    const [read] = await b.readNew(other, "g", "c", { count: 1 });
    const store = b.stateStore({ anchor: s });
    const scope = { actor: "counter", instance: 0 };
    const { epoch } = await store.restore(scope);
    const error = await store
      .commit({ scope, epoch, segments: [], covers: [new Entry(other, "g", read!.id)] })
      .then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
    expect(error?.code).toBe("ERR_STREAM_BACKEND");
    expect(error?.message).toContain("share a hash tag");
    expect((await b.pending(other, "g", { count: 10 })).length).toBe(1);
  });
});

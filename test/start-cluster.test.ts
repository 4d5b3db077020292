/**
 * `bun run start` on a Redis Cluster (REDIS_CLUSTER_NODES): it starts, its analyzers' groups and the alert
 * sinks' exist on the cluster under the tagged prefix, ingest writes the tx stream, and SIGTERM stops it
 * cleanly. A cluster whose seeds all refuse is named at start.
 */
import { afterAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { RedisStreamBackend } from "../src/streams/redis-backend.ts";
import { ChildOutput } from "./support/child-output.ts";
import { reaper } from "./support/reaper.ts";
import { RedisCluster } from "./support/redis-cluster.ts";
import { freePort, RedisServer, redisServerInstalled } from "./support/redis-server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const track = reaper();
let cluster: RedisCluster | null = null;
afterAll(async () => {
  await cluster?.cleanup();
});

test.skipIf(!redisServerInstalled())(
  "bun run start on a 3-master cluster: groups on the cluster, tx written, SIGTERM exits 0",
  async () => {
    cluster = await RedisCluster.start();
    const prefix = `{start-${crypto.randomUUID()}}:`;
    const child = track(
      Bun.spawn(["bun", "src/main.ts"], {
        cwd: ROOT,
        env: {
          ...process.env,
          REDIS_URL: undefined,
          REDIS_CLUSTER_NODES: cluster.nodes.join(","),
          TROUPE_STREAM_PREFIX: prefix,
          TROUPE_HTTP_PORT: "0",
          TROUPE_RATE: "500",
          TROUPE_ALERTS_STDOUT: "off",
        },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    const stderr = new ChildOutput(child.stderr);
    const banner = await stderr.waitFor(/redis cluster backend/);
    expect(banner).toContain("redis cluster backend");
    const backend = new RedisStreamBackend({ cluster: cluster.nodes });
    try {
      const groups = (await backend.groups(`${prefix}tx`)).map((g) => g.name).sort();
      expect(groups).toEqual(["pattern-recognition", "sybil-detection", "wallet-analyzer"]);
      // Ingest writes: a group of the test's own, from the stream's start, sees its entries.
      await backend.ensureGroup(`${prefix}tx`, "probe", "0");
      const tx = await backend.readNew(`${prefix}tx`, "probe", "probe", { count: 1, blockMs: 5_000 });
      expect(tx.length).toBe(1);
    } finally {
      await backend.close();
    }
    child.kill("SIGTERM");
    await stderr.rest();
    expect(await child.exited).toBe(0);
  },
  60_000,
);

test("bun run start with REDIS_CLUSTER_NODES that all refuse: named at start, exit 1", async () => {
  const ports = [await freePort(), await freePort()];
  const child = track(
    Bun.spawn(["bun", "src/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        REDIS_URL: undefined,
        REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(","),
        TROUPE_STREAM_PREFIX: "{t}:",
        TROUPE_HTTP_PORT: "0",
      },
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  expect(code).toBe(1);
  expect(stderr).toContain(`redis at 127.0.0.1:${ports[0]} (REDIS_CLUSTER_NODES): connection refused`);
}, 20_000);

test.skipIf(!redisServerInstalled())(
  "a SIGINT while start waits on Redis in its set-up ends the process (a cluster whose slot map names no reachable node)",
  async () => {
    // A one-node cluster without an announced address says "" as its host in CLUSTER SLOTS: the client
    // answers the seed check, then never reaches a node for the set-up's commands.
    const node = await RedisServer.start({ cluster: true });
    const admin = new Redis(node.url, { protocol: 2 });
    try {
      await admin.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
      await until(async () => String(await admin.call("CLUSTER", "INFO")).includes("cluster_state:ok"));
      const clients = async () =>
        String(await admin.call("CLIENT", "LIST"))
          .trim()
          .split("\n").length;
      const before = await clients();
      const child = track(
        Bun.spawn(["bun", "src/main.ts"], {
          cwd: ROOT,
          env: {
            ...process.env,
            REDIS_URL: undefined,
            REDIS_CLUSTER_NODES: `127.0.0.1:${node.port}`,
            TROUPE_STREAM_PREFIX: "{hang}:",
            TROUPE_HTTP_PORT: "0",
          },
          stdout: "pipe",
          stderr: "pipe",
        }),
      );
      // Past the seed check, in the set-up: its cluster client connected.
      await until(async () => (await clients()) > before);
      child.kill("SIGINT");
      const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
      expect(code).toBe(0);
      expect(stderr).toContain("troupe scanner: SIGINT while starting: stopped");
    } finally {
      admin.disconnect();
      await node.cleanup();
    }
  },
  30_000,
);

/** Polls `check` every 20 ms until it holds. */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await Bun.sleep(20);
}

/**
 * `bun run start` on a Redis Cluster (REDIS_CLUSTER_NODES): it starts, its analyzers' groups and the alert
 * sinks' exist on the cluster under the tagged prefix, ingest writes the tx stream, and SIGTERM stops it
 * cleanly. A cluster whose seeds all refuse is named at start.
 */
import { afterAll, expect, test } from "bun:test";
import { RedisStreamBackend } from "../src/streams/redis-backend.ts";
import { ChildOutput } from "./support/child-output.ts";
import { reaper } from "./support/reaper.ts";
import { RedisCluster } from "./support/redis-cluster.ts";
import { freePort, redisServerInstalled } from "./support/redis-server.ts";

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
  expect(stderr).toContain(`redis at 127.0.0.1:${ports[1]} (REDIS_CLUSTER_NODES): connection refused`);
}, 20_000);

/**
 * A private Redis Cluster for tests: `masters` redis-servers started with `--cluster-enabled yes` on free
 * ports in temp dirs, joined by `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`, and ready
 * once every node reports `cluster_state:ok`. Stopped (and its dirs removed) by `cleanup`.
 */
import Redis from "ioredis";
import { RedisServer, type RedisServerOptions } from "./redis-server.ts";

export interface RedisClusterOptions extends Omit<RedisServerOptions, "cluster"> {
  /** @defaultValue 3 */
  masters?: number;
  /** How long the nodes may take to agree on the slots after the create. @defaultValue 15000 */
  readyTimeoutMs?: number;
}

/** How often a node is asked whether the cluster is ok while it converges (no event tells it). */
const CONVERGE_POLL_MS = 50;

export class RedisCluster {
  readonly servers: readonly RedisServer[];

  private constructor(servers: readonly RedisServer[]) {
    this.servers = servers;
  }

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const { masters = 3, readyTimeoutMs = 15_000, ...serverOptions } = options;
    const servers: RedisServer[] = [];
    const cluster = new RedisCluster(servers);
    try {
      for (let i = 0; i < masters; i++)
        servers.push(await RedisServer.start({ ...serverOptions, cluster: true }));
      const create = Bun.spawn(
        [
          "redis-cli",
          "--cluster",
          "create",
          ...servers.map((s) => `127.0.0.1:${s.port}`),
          "--cluster-replicas",
          "0",
          "--cluster-yes",
        ],
        { stdout: "pipe", stderr: "pipe" },
      );
      const [code, out, err] = await Promise.all([
        create.exited,
        new Response(create.stdout).text(),
        new Response(create.stderr).text(),
      ]);
      if (code !== 0)
        throw new Error(`redis-cli --cluster create failed (${code}): ${out.slice(-500)}${err}`);
      await cluster.#converged(readyTimeoutMs);
      return cluster;
    } catch (error) {
      await cluster.cleanup();
      throw error;
    }
  }

  /** Seed nodes as `host:port`, the form REDIS_CLUSTER_NODES takes. */
  get nodes(): string[] {
    return this.servers.map((s) => `127.0.0.1:${s.port}`);
  }

  /** Waits until every node reports `cluster_state:ok` and knows every other node. */
  async #converged(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const server of this.servers) {
      const admin = new Redis(server.url, { protocol: 2, lazyConnect: false });
      try {
        for (;;) {
          const info = String(await admin.cluster("INFO"));
          if (
            info.includes("cluster_state:ok") &&
            info.includes(`cluster_known_nodes:${this.servers.length}`)
          )
            break;
          if (Date.now() > deadline) throw new Error(`redis cluster not ok in ${timeoutMs} ms: ${info}`);
          await Bun.sleep(CONVERGE_POLL_MS);
        }
      } finally {
        admin.disconnect();
      }
    }
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.cleanup()));
  }
}

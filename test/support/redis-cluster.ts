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

  /** The index in {@link servers} of the master serving `slot`. */
  async ownerOf(slot: number): Promise<number> {
    const admin = new Redis(this.servers[0]!.url, { protocol: 2 });
    try {
      const ranges = await admin.cluster("SLOTS");
      const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
      if (!master) throw new Error(`no node serves slot ${slot}`);
      return this.servers.findIndex((s) => s.port === Number(master[1]));
    } finally {
      admin.disconnect();
    }
  }

  /**
   * Moves `slot` to the master `to` while clients keep using it, as `redis-cli --cluster reshard` does for
   * each slot: IMPORTING / MIGRATING, MIGRATE of its keys in batches (clients get ASK for moved keys), then
   * SETSLOT … NODE on every master.
   */
  async migrateSlot(slot: number, to: number): Promise<void> {
    const from = await this.ownerOf(slot);
    if (from === to) return;
    const admins = this.servers.map((s) => new Redis(s.url, { protocol: 2 }));
    try {
      const ids = (await Promise.all(admins.map((a) => a.cluster("MYID")))) as string[];
      const source = admins[from]!;
      const target = admins[to]!;
      await target.cluster("SETSLOT", slot, "IMPORTING", ids[from]!);
      await source.cluster("SETSLOT", slot, "MIGRATING", ids[to]!);
      for (;;) {
        const keys = (await source.cluster("GETKEYSINSLOT", slot, 100)) as string[];
        if (keys.length === 0) break;
        await source.migrate("127.0.0.1", this.servers[to]!.port, "", 0, 5_000, "KEYS", ...keys);
      }
      await target.cluster("SETSLOT", slot, "NODE", ids[to]!);
      await source.cluster("SETSLOT", slot, "NODE", ids[to]!);
      await Promise.all(
        admins
          .filter((_, i) => i !== from && i !== to)
          .map((a) => a.cluster("SETSLOT", slot, "NODE", ids[to]!)),
      );
    } finally {
      for (const admin of admins) admin.disconnect();
    }
  }

  /** The lowest slot master `node` serves: the one `reshard` moves first. */
  async lowestSlotOf(node: number): Promise<number> {
    const admin = new Redis(this.servers[0]!.url, { protocol: 2 });
    try {
      const port = this.servers[node]!.port;
      const ranges = (await admin.cluster("SLOTS")).filter(([, , master]) => Number(master?.[1]) === port);
      return Math.min(...ranges.map(([from]) => from));
    } finally {
      admin.disconnect();
    }
  }

  /**
   * `redis-cli --cluster reshard` of `slots` slots from master `from` to master `to`, as an operator would
   * run it (without a failover); redis-cli takes the source's lowest slots first.
   */
  async reshard(from: number, to: number, slots = 1): Promise<void> {
    const ids = await Promise.all(
      [from, to].map(async (i) => {
        const admin = new Redis(this.servers[i]!.url, { protocol: 2 });
        return String(await admin.cluster("MYID").finally(() => admin.disconnect()));
      }),
    );
    const run = Bun.spawn(
      [
        "redis-cli",
        "--cluster",
        "reshard",
        `127.0.0.1:${this.servers[from]!.port}`,
        "--cluster-from",
        ids[0]!,
        "--cluster-to",
        ids[1]!,
        "--cluster-slots",
        String(slots),
        "--cluster-yes",
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const [code, out, err] = await Promise.all([
      run.exited,
      new Response(run.stdout).text(),
      new Response(run.stderr).text(),
    ]);
    if (code !== 0) throw new Error(`redis-cli --cluster reshard failed (${code}): ${out.slice(-500)}${err}`);
  }

  /**
   * Restarts master `node` (its data as its persistence keeps it), then waits until every node says the
   * cluster is ok again: until the others see it back they answer CLUSTERDOWN, for longer than a client
   * retries on a loaded box.
   */
  async restart(node: number, timeoutMs = 15_000): Promise<void> {
    await this.servers[node]!.restart();
    await this.#converged(timeoutMs);
  }

  /** Restarts any node found dead (Bun's runner kills a file's processes on a timeout), then waits for ok. */
  async revive(timeoutMs = 15_000): Promise<void> {
    const dead = this.servers.filter((s) => !s.running);
    if (dead.length === 0) return;
    for (const server of dead) await server.restart();
    await this.#converged(timeoutMs);
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.cleanup()));
  }
}

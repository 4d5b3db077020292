/**
 * Where the Redis backend connects: one server (a URL) or a Redis Cluster (its seed nodes). Commands go
 * through one client, ioredis's `Redis` or its `Cluster` (which routes each command by its keys' slot and
 * follows MOVED / ASK). A blocking read ties up its connection, so it never goes through that client:
 * each reader opens a connection of its own to the node that serves its stream's slot now
 * ({@link RedisTarget.node}); a reply saying the slot moved marks the slot map stale, and the next read
 * goes to the new owner.
 */
import Redis, { Cluster, type RedisOptions } from "ioredis";
import { InvalidOptionError, TroupeError } from "../errors.ts";
import { keySlot } from "./key-slot.ts";

/** A URL (`redis://…`, `rediss://…`), or a cluster's seed nodes (`host:port` or `redis://host:port`). */
export type RedisAddress = string | { readonly cluster: readonly string[] };

export type RedisClient = Redis | Cluster;

/** The node a reader connects to: `address` identifies it, `open` makes a connection of the reader's own. */
export interface ReaderNode {
  readonly address: string;
  open(options: RedisOptions): Redis;
}

export interface RedisTarget {
  readonly cluster: boolean;
  /** A command client with `options` on every connection (each node's, in a cluster). */
  client(options: RedisOptions): RedisClient;
  /** The node serving `key` now, from the command client's slot map (a single server: always itself). */
  node(key: string): Promise<ReaderNode>;
  /** Every master node now (a single server: itself). */
  masters(): Promise<ReaderNode[]>;
  /** A reply said the slot map is out of date (MOVED, ASK, CLUSTERDOWN): fetch it again. */
  stale(): void;
}

/** A seed node as host and port; `setting` names it in the error. */
export function parseSeedNode(seed: string, setting = "cluster"): { host: string; port: number } {
  const match = /^(?:rediss?:\/\/)?(\[[^\]]+\]|[^:/\s]+):(\d{1,5})\/?$/.exec(seed.trim());
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65_535)
    throw new InvalidOptionError(setting, `"${seed}" is not host:port (or redis://host:port)`);
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

/**
 * Replies that mean the key's slot is served elsewhere now, or is moving (a MIGRATE of a stream unblocks its
 * readers with UNBLOCKED), or that the cluster is reconfiguring.
 */
export function isSlotMoved(message: string): boolean {
  return /^(redis: )?(MOVED|ASK|CLUSTERDOWN|TRYAGAIN|UNBLOCKED)\b/.test(message);
}

export function redisTarget(address: RedisAddress): RedisTarget {
  if (typeof address === "string") return new ServerTarget(address);
  if (address.cluster.length === 0) throw new InvalidOptionError("cluster", "needs at least one seed node");
  return new ClusterTarget(address.cluster.map((seed) => parseSeedNode(seed)));
}

class ServerTarget implements RedisTarget {
  readonly cluster = false;
  readonly #url: string;

  constructor(url: string) {
    this.#url = url;
  }

  client(options: RedisOptions): Redis {
    return new Redis(this.#url, options);
  }

  async node(): Promise<ReaderNode> {
    return { address: this.#url, open: (options) => new Redis(this.#url, options) };
  }

  async masters(): Promise<ReaderNode[]> {
    return [await this.node()];
  }

  stale(): void {}
}

class ClusterTarget implements RedisTarget {
  readonly cluster = true;
  readonly #seeds: readonly { host: string; port: number }[];
  /** The command client whose slot map readers follow (the first one made). */
  #router: Cluster | null = null;
  /** A refresh of the slot map asked for by {@link stale}: readers locate after it. */
  #refreshing: Promise<void> | null = null;

  constructor(seeds: readonly { host: string; port: number }[]) {
    this.#seeds = seeds;
  }

  client(options: RedisOptions): Cluster {
    // Commands wait out a failover or a migration's TRYAGAIN in ioredis's offline queue and retries;
    // their commandTimeout still bounds each one.
    const cluster = new Cluster([...this.#seeds], { redisOptions: options, scaleReads: "master" });
    this.#router ??= cluster;
    return cluster;
  }

  async node(key: string): Promise<ReaderNode> {
    const router = this.#routerOrThrow();
    const slot = keySlot(key);
    // A failed refresh leaves the old map: the read then fails on a redirect and asks again.
    await this.#refreshing?.catch(() => {});
    let owner = router.slots[slot]?.[0];
    if (owner === undefined) {
      // Before the client's first connect the map is empty: a command waits for it (commandTimeout bounds it).
      await router.ping().catch((error: Error) => {
        throw redisClusterError(error);
      });
      owner = router.slots[slot]?.[0];
    }
    if (owner === undefined)
      throw new TroupeError("ERR_STREAM_BACKEND", `redis cluster: no node serves slot ${slot} (of "${key}")`);
    return nodeAt(owner);
  }

  async masters(): Promise<ReaderNode[]> {
    const router = this.#routerOrThrow();
    await this.#refreshing?.catch(() => {});
    if (router.nodes("master").length === 0)
      await router.ping().catch((error: Error) => {
        throw redisClusterError(error);
      });
    return router.nodes("master").map((node) => nodeAt(`${node.options.host}:${node.options.port}`));
  }

  #routerOrThrow(): Cluster {
    if (!this.#router) throw new TroupeError("ERR_STREAM_BACKEND", "redis cluster: no command client yet");
    return this.#router;
  }

  stale(): void {
    const router = this.#router;
    if (!router || this.#refreshing) return;
    const refreshing = this.#refresh(router).finally(() => {
      if (this.#refreshing === refreshing) this.#refreshing = null;
    });
    refreshing.catch(() => {});
    this.#refreshing = refreshing;
  }

  #refresh(router: Cluster): Promise<void> {
    return new Promise((resolve, reject) => {
      router.refreshSlotsCache((error) => (error ? reject(redisClusterError(error)) : resolve()));
    });
  }
}

function nodeAt(address: string): ReaderNode {
  const { host, port } = parseSeedNode(address);
  return { address, open: (options) => new Redis({ ...options, host, port }) };
}

function redisClusterError(error: Error): TroupeError {
  return new TroupeError("ERR_STREAM_BACKEND", `redis cluster: ${error.message}`, { cause: error });
}

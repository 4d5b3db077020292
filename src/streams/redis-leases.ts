/**
 * Leases and membership in Redis (leases.ts). A lease is a hash (`holder`, `gen`) with a key expiry, so it
 * expires on Redis's clock; its generation counter is a key of its own in the same slot. Membership is a
 * sorted set scored by each member's expiry on Redis's clock (TIME inside the script). Each operation is
 * one script on one slot.
 *
 * A member's presence is a connection of its own to every master, named after it (CLIENT SETNAME, set
 * again by ioredis on each reconnect): Redis drops it when the process dies, however the process ends. A
 * member reads the others' from CLIENT LIST on every master (a script cannot: CLIENT is refused in
 * scripts); one master's list would do on a single server, but in a cluster the members key's slot can move
 * to another node, which the presences opened before the move would not follow. A member missing from every
 * list is looked for again {@link CONFIRM_GONE_MS} later before it counts as gone: a connection the server
 * dropped (its `timeout`, an idle cut by a NAT) is back by then, since presences reconnect within 20 ms
 * (ioredis's own first retry comes after 50-250 ms, jitter included: measured up to 243 ms).
 */
import type Redis from "ioredis";
import type { Cluster, RedisOptions } from "ioredis";
import { TroupeError } from "../errors.ts";
import type { Clock } from "../time/clock.ts";
import { sleep } from "../time/timers.ts";
import { messageOf } from "./commit.ts";
import {
  type LeaseStore,
  type LeaseView,
  leaseGenerationKey,
  membersChannel,
  NO_LEASE,
  type Presence,
  presenceName,
} from "./leases.ts";
import { redisError } from "./redis-replies.ts";
import type { ReaderNode } from "./redis-target.ts";

/**
 * KEYS: lease, generation counter. ARGV: holder, ttl ms, then the members gone (their lease is taken).
 * Returns `{held 0/1, holder, generation, pttl}`.
 */
export const LEASE_ACQUIRE_LUA = `
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local gone = false
if holder and holder ~= ARGV[1] then
  for i = 3, #ARGV do if ARGV[i] == holder then gone = true end end
end
if holder and not gone then
  return {holder == ARGV[1] and 1 or 0, holder, tonumber(redis.call('HGET', KEYS[1], 'gen')), redis.call('PTTL', KEYS[1])}
end
local gen = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'gen', gen)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, ARGV[1], gen, tonumber(ARGV[2])}
`;

/** KEYS: lease. ARGV: holder, generation, ttl ms (0 releases). Returns 1 when it held and was extended. */
export const LEASE_RENEW_LUA = `
if redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'gen') ~= ARGV[2] then
  return 0
end
if ARGV[3] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`;

/**
 * KEYS: members. ARGV: member, ttl ms (0 leaves). Drops expired members, then returns the live ones.
 * The set itself expires a while after its last heartbeat, so a group nobody runs leaves nothing behind.
 */
export const MEMBERS_HEARTBEAT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl * 10)
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

export interface RedisLeaseClient {
  troupeLeaseAcquire(
    lease: string,
    counter: string,
    holder: string,
    ttlMs: number,
    ...departed: string[]
  ): Promise<unknown>;
  troupeLeaseRenew(lease: string, holder: string, generation: number, ttlMs: number): Promise<unknown>;
  troupeMembersHeartbeat(members: string, member: string, ttlMs: number): Promise<unknown>;
}

/** Defines the scripts on a client (the backend's command client). */
export function defineLeaseCommands(client: Redis | Cluster): void {
  client.defineCommand("troupeLeaseAcquire", { numberOfKeys: 2, lua: LEASE_ACQUIRE_LUA });
  client.defineCommand("troupeLeaseRenew", { numberOfKeys: 1, lua: LEASE_RENEW_LUA });
  client.defineCommand("troupeMembersHeartbeat", { numberOfKeys: 1, lua: MEMBERS_HEARTBEAT_LUA });
}

/** Where presences connect: every master, with the backend's connection options. */
export interface PresenceTarget {
  masters(): Promise<ReaderNode[]>;
  readonly options: RedisOptions;
  readonly clock: Clock;
}

/** How long after a first look a member missing from every master's connections is looked for again. */
export const CONFIRM_GONE_MS = 200;

/**
 * A presence's reconnect delays: 20, 40, 80 ms… up to 1 s, without jitter (a process has one presence
 * connection per master and group, no herd to spread).
 */
function presenceRetry(times: number): number {
  return Math.min(20 * 2 ** (times - 1), 1_000);
}

export class RedisLeaseStore implements LeaseStore {
  readonly #client: RedisLeaseClient & Pick<Redis, "hmget" | "pttl">;
  readonly #presenceTarget: PresenceTarget;
  readonly #presences = new Set<RedisPresence>();

  constructor(client: RedisLeaseClient & Pick<Redis, "hmget" | "pttl">, presenceTarget: PresenceTarget) {
    this.#client = client;
    this.#presenceTarget = presenceTarget;
  }

  async acquire(
    key: string,
    holder: string,
    ttlMs: number,
    departed: readonly string[] = [],
  ): Promise<LeaseView> {
    const reply = await run(() =>
      this.#client.troupeLeaseAcquire(key, leaseGenerationKey(key), holder, ttlMs, ...departed),
    );
    if (!Array.isArray(reply) || reply.length !== 4)
      throw new TroupeError("ERR_STREAM_BACKEND", `unexpected lease reply: ${String(reply)}`);
    const [held, owner, generation, ttl] = reply as [number, string, number, number];
    return { held: held === 1, holder: owner, generation, ttlMs: Math.max(0, ttl) };
  }

  async renew(key: string, holder: string, generation: number, ttlMs: number): Promise<boolean> {
    return (await run(() => this.#client.troupeLeaseRenew(key, holder, generation, ttlMs))) === 1;
  }

  async release(key: string, holder: string, generation: number): Promise<void> {
    await run(() => this.#client.troupeLeaseRenew(key, holder, generation, 0));
  }

  async inspect(key: string): Promise<LeaseView> {
    const [[holder, generation], ttl] = await run(() =>
      Promise.all([this.#client.hmget(key, "holder", "gen"), this.#client.pttl(key)]),
    );
    if (holder === null || holder === undefined) return NO_LEASE;
    return { held: false, holder, generation: Number(generation), ttlMs: Math.max(0, ttl) };
  }

  async heartbeat(key: string, member: string, ttlMs: number): Promise<string[]> {
    const reply = await run(() => this.#client.troupeMembersHeartbeat(key, member, ttlMs));
    if (!Array.isArray(reply))
      throw new TroupeError("ERR_STREAM_BACKEND", `unexpected members reply: ${String(reply)}`);
    return (reply as string[]).sort();
  }

  async leave(key: string, member: string): Promise<void> {
    await run(() => this.#client.troupeMembersHeartbeat(key, member, 0));
  }

  async present(key: string, member: string, changed: () => void): Promise<Presence> {
    const name = presenceName(key, member);
    const masters = await run(() => this.#presenceTarget.masters());
    const open = (node: ReaderNode) => {
      const connection = node.open({
        ...this.#presenceTarget.options,
        connectionName: name,
        retryStrategy: presenceRetry,
      });
      connection.on("error", () => {});
      return connection;
    };
    const connections = masters.map(open);
    // Announcements reach every node of a cluster (PUBLISH goes over the cluster bus): one master will do.
    // ioredis subscribes again after a reconnect.
    const subscriber = open(masters[0] as ReaderNode);
    const channel = membersChannel(key);
    subscriber.on("message", (from: string, message: string) => {
      if (from === channel && message !== member) changed();
    });
    const presence = new RedisPresence(
      { name, key, member, connections, subscriber, clock: this.#presenceTarget.clock },
      () => this.#presences.delete(presence),
    );
    // Named once connected (ioredis names a connection before its first command): one master reached is
    // enough to be seen; the others connect on their own. Subscribed before a first heartbeat, so no
    // announcement after it is missed.
    const [reached] = await Promise.all([
      Promise.allSettled(connections.map((connection) => connection.ping())),
      subscriber.subscribe(channel).catch(() => {}),
    ]);
    if (!reached.some((result) => result.status === "fulfilled")) {
      await presence.close();
      throw redisError((reached[0] as PromiseRejectedResult).reason);
    }
    this.#presences.add(presence);
    return presence;
  }

  /** The backend closes: its members' presences end with it, as with the process's. */
  async closePresences(): Promise<void> {
    await Promise.all([...this.#presences].map((presence) => presence.close()));
  }
}

/** Replies that mean connections cannot be listed here at all (an ACL, a proxy), not that a node is away. */
const CANNOT_LIST = /^(NOPERM|ERR unknown (sub)?command)/;

interface PresenceConnections {
  /** The connections' name. */
  readonly name: string;
  /** The members key. */
  readonly key: string;
  readonly member: string;
  /** One to each master, listed by the others. */
  readonly connections: readonly Redis[];
  /** Subscribed to the members' announcements. */
  readonly subscriber: Redis;
  readonly clock: Clock;
}

class RedisPresence implements Presence {
  readonly #name: string;
  readonly #key: string;
  readonly #member: string;
  readonly #connections: readonly Redis[];
  readonly #subscriber: Redis;
  readonly #clock: Clock;
  readonly #closed: () => void;
  /** False once a node refused CLIENT LIST: nobody is taken for gone, leases are left to expire. */
  #listable = true;

  constructor(presence: PresenceConnections, closed: () => void) {
    this.#name = presence.name;
    this.#key = presence.key;
    this.#member = presence.member;
    this.#connections = presence.connections;
    this.#subscriber = presence.subscriber;
    this.#clock = presence.clock;
    this.#closed = closed;
  }

  async announce(): Promise<void> {
    for (const connection of this.#connections) {
      try {
        await connection.publish(membersChannel(this.#key), this.#member);
        return;
      } catch {
        // That master is away: another one carries it.
      }
    }
  }

  async departed(members: readonly string[]): Promise<string[]> {
    const missing = await this.#missing(members);
    if (missing.length === 0) return missing;
    await sleep(this.#clock, CONFIRM_GONE_MS);
    return this.#missing(missing);
  }

  /** Of `members`, those no master lists a connection of now. */
  async #missing(members: readonly string[]): Promise<string[]> {
    if (!this.#listable || members.length === 0) return [];
    const present = new Set<string>();
    const lists = await Promise.allSettled(
      this.#connections.map((connection) => connection.call("CLIENT", "LIST", "TYPE", "normal")),
    );
    for (const list of lists) {
      if (list.status === "fulfilled")
        for (const name of connectionNames(String(list.value))) present.add(name);
      else if (CANNOT_LIST.test(messageOf(list.reason))) this.#listable = false;
    }
    // Not seeing itself, it cannot trust what it does not see of the others.
    if (!this.#listable || !present.has(this.#name)) return [];
    return members.filter((member) => !present.has(presenceName(this.#key, member)));
  }

  async close(): Promise<void> {
    this.#closed();
    for (const connection of [...this.#connections, this.#subscriber]) connection.disconnect();
  }
}

/** The names in a CLIENT LIST reply (one connection a line, `name=` empty when unnamed). */
function connectionNames(list: string): string[] {
  const names: string[] = [];
  for (const match of list.matchAll(/(?:^| )name=(\S+)/gm)) names.push(match[1] as string);
  return names;
}

async function run<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (error) {
    throw redisError(error);
  }
}

/**
 * Leases and membership in Redis (leases.ts). A lease is a hash (`holder`, `gen`) with a key expiry, so it
 * expires on Redis's clock; its generation counter is a key of its own in the same slot. Membership is a
 * sorted set scored by each member's expiry on Redis's clock (TIME inside the script). Each operation is
 * one script on one slot.
 */
import type Redis from "ioredis";
import type { Cluster } from "ioredis";
import { TroupeError } from "../errors.ts";
import { type LeaseStore, type LeaseView, leaseGenerationKey, NO_LEASE } from "./leases.ts";
import { redisError } from "./redis-replies.ts";

/** KEYS: lease, generation counter. ARGV: holder, ttl ms. Returns `{held 0/1, holder, generation, pttl}`. */
export const LEASE_ACQUIRE_LUA = `
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if holder then
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
  troupeLeaseAcquire(lease: string, counter: string, holder: string, ttlMs: number): Promise<unknown>;
  troupeLeaseRenew(lease: string, holder: string, generation: number, ttlMs: number): Promise<unknown>;
  troupeMembersHeartbeat(members: string, member: string, ttlMs: number): Promise<unknown>;
}

/** Defines the scripts on a client (the backend's command client). */
export function defineLeaseCommands(client: Redis | Cluster): void {
  client.defineCommand("troupeLeaseAcquire", { numberOfKeys: 2, lua: LEASE_ACQUIRE_LUA });
  client.defineCommand("troupeLeaseRenew", { numberOfKeys: 1, lua: LEASE_RENEW_LUA });
  client.defineCommand("troupeMembersHeartbeat", { numberOfKeys: 1, lua: MEMBERS_HEARTBEAT_LUA });
}

export class RedisLeaseStore implements LeaseStore {
  readonly #client: RedisLeaseClient & Pick<Redis, "hmget" | "pttl">;

  constructor(client: RedisLeaseClient & Pick<Redis, "hmget" | "pttl">) {
    this.#client = client;
  }

  async acquire(key: string, holder: string, ttlMs: number): Promise<LeaseView> {
    const reply = await run(() =>
      this.#client.troupeLeaseAcquire(key, leaseGenerationKey(key), holder, ttlMs),
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
}

async function run<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (error) {
    throw redisError(error);
  }
}

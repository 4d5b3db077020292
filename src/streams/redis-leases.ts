/**
 * Leases and membership in Redis (leases.ts). A lease is a hash (`holder`, `gen`) with a key expiry, so it
 * expires on Redis's clock; its generation counter is a key of its own in the same slot. Membership is a
 * sorted set scored by each member's expiry on Redis's clock (TIME inside the script). Each operation is
 * one script on one slot.
 *
 * A member's presence is a connection of its own to every master, named after it (CLIENT SETNAME, set
 * again by ioredis on each reconnect): Redis drops it when the process dies, however the process ends. Each
 * connection, once ready, records where it is (the server's run id and its CLIENT ID) in the members' presence
 * hash; a member looks the others' up by those ids alone (CLIENT LIST ID on each master: a script cannot, CLIENT
 * is refused in scripts), so a check costs the servers what the members are, not what every client of theirs
 * is (a whole CLIENT LIST every check grew with the clients: 139 KB of reply with 500 of them). Run ids, not
 * addresses, name the servers, since two members may reach one server by two names. One master would do
 * on a single server, but in a cluster the members key's slot can move to another node, which the presences
 * opened before the move would not follow. A member none of whose connections is listed is looked for again
 * {@link CONFIRM_GONE_MS} later before it counts as gone: a connection the server dropped (its `timeout`, an
 * idle cut by a NAT) is back and recorded again by then, since presences reconnect within 20 ms (ioredis's
 * own first retry comes after 50-250 ms, jitter included: measured up to 243 ms).
 */
import type Redis from "ioredis";
import type { Cluster, RedisOptions } from "ioredis";
import { messageOf, TroupeError } from "../errors.ts";
import type { Clock } from "../time/clock.ts";
import { sleep } from "../time/timers.ts";
import {
  type LeaseStore,
  type LeaseView,
  leaseGenerationKey,
  memberInUse,
  membersChannel,
  NO_LEASE,
  type Presence,
  presenceName,
  presenceRecordsKey,
} from "./leases.ts";
import { redisError } from "./redis-replies.ts";
import type { ReaderNode } from "./redis-target.ts";

/**
 * KEYS: lease, generation counter. ARGV: holder, ttl ms, then the members gone (their lease is taken).
 * Returns `{held 0/1, holder, generation, pttl}`. A lease the caller's name holds already is taken under a
 * new generation too (leases.ts: an earlier process under that name is fenced). A missing counter (a new lease, or one a Redis lost with
 * its data) starts from the server's clock in microseconds, not from 0: after a loss, a generation handed
 * out before it is not handed out again, so a frozen holder that thaws cannot renew under a new one's
 * generation (the same rule as the durable-state epochs, redis-scripts.ts).
 */
export const LEASE_ACQUIRE_LUA = `
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder and holder ~= ARGV[1] then
  local gone = false
  for i = 3, #ARGV do if ARGV[i] == holder then gone = true end end
  if not gone then
    return {0, holder, tonumber(redis.call('HGET', KEYS[1], 'gen')), redis.call('PTTL', KEYS[1])}
  end
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[2], now[1] .. string.rep('0', 6 - #now[2]) .. now[2])
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
 * KEYS: members, their presence records. ARGV: member, ttl ms (0 leaves), the member's presence record (its
 * connections' places; empty: none to write). Drops expired members and their records, then returns the
 * live ones. A record written with each heartbeat is there for as long as the member is, even after its
 * own expiry dropped it. Both keys expire a while after the last heartbeat, so a group nobody runs leaves
 * nothing behind.
 */
export const MEMBERS_HEARTBEAT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], member)
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
  redis.call('PEXPIRE', KEYS[1], ttl * 10)
  redis.call('PEXPIRE', KEYS[2], ttl * 10)
else
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

/**
 * KEYS: members, their presence records. ARGV: member, ttl ms, its presence record, 1 to claim the name
 * whatever the record says. Makes the member live and records its presence, unless (not forced) another
 * record is there under a membership that has not expired: that record is returned instead, with the ms
 * until that membership expires, for the caller to look its connections up. One script, so of two
 * processes joining at once under one name, the second finds the first's record.
 */
export const CLAIM_MEMBER_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[4] ~= '1' then
  local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
  local record = redis.call('HGET', KEYS[2], ARGV[1])
  if expiry and tonumber(expiry) > now and record and record ~= ARGV[3] then
    return {record, tonumber(expiry) - now}
  end
end
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
redis.call('PEXPIRE', KEYS[1], ttl * 10)
redis.call('PEXPIRE', KEYS[2], ttl * 10)
return false
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
  troupeMembersHeartbeat(
    members: string,
    records: string,
    member: string,
    ttlMs: number,
    places: string,
  ): Promise<unknown>;
  troupeClaimMember(
    members: string,
    records: string,
    member: string,
    ttlMs: number,
    places: string,
    force: 0 | 1,
  ): Promise<unknown>;
}

/** The command client's part the lease store and the presences use. */
type LeaseClient = RedisLeaseClient & Pick<Redis, "hmget" | "hset" | "pttl">;

/** Defines the scripts on a client (the backend's command client). */
export function defineLeaseCommands(client: Redis | Cluster): void {
  client.defineCommand("troupeLeaseAcquire", { numberOfKeys: 2, lua: LEASE_ACQUIRE_LUA });
  client.defineCommand("troupeLeaseRenew", { numberOfKeys: 1, lua: LEASE_RENEW_LUA });
  client.defineCommand("troupeMembersHeartbeat", { numberOfKeys: 2, lua: MEMBERS_HEARTBEAT_LUA });
  client.defineCommand("troupeClaimMember", { numberOfKeys: 2, lua: CLAIM_MEMBER_LUA });
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
  readonly #client: LeaseClient;
  readonly #presenceTarget: PresenceTarget;
  readonly #presences = new Set<RedisPresence>();

  constructor(client: LeaseClient, presenceTarget: PresenceTarget) {
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
    let places = "";
    for (const presence of this.#presences) if (presence.is(key, member)) places = presence.places();
    const reply = await run(() =>
      this.#client.troupeMembersHeartbeat(key, presenceRecordsKey(key), member, ttlMs, places),
    );
    if (!Array.isArray(reply))
      throw new TroupeError("ERR_STREAM_BACKEND", `unexpected members reply: ${String(reply)}`);
    return (reply as string[]).sort();
  }

  async leave(key: string, member: string): Promise<void> {
    await run(() => this.#client.troupeMembersHeartbeat(key, presenceRecordsKey(key), member, 0, ""));
  }

  async present(key: string, member: string, ttlMs: number, changed: () => void): Promise<Presence> {
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
      {
        key,
        member,
        connections,
        subscriber,
        records: this.#client,
        clock: this.#presenceTarget.clock,
      },
      () => this.#presences.delete(presence),
    );
    // One master reached and recorded is enough to be seen; the others connect and record on their own.
    // Subscribed before a first heartbeat, so no announcement after it is missed.
    const [reached] = await Promise.all([
      Promise.allSettled(connections.map((connection) => connection.ping())),
      subscriber.subscribe(channel).catch(() => {}),
    ]);
    try {
      if (!reached.some((result) => result.status === "fulfilled"))
        throw (reached[0] as PromiseRejectedResult).reason;
      await presence.claimed(ttlMs);
    } catch (error) {
      await presence.close();
      throw redisError(error);
    }
    this.#presences.add(presence);
    return presence;
  }

  /** The backend closes: its members' presences end with it, as with the process's. */
  async closePresences(): Promise<void> {
    await Promise.all([...this.#presences].map((presence) => presence.close()));
  }
}

/** Replies that mean connections cannot be listed here at all (an ACL, a proxy, a server before 6.2), not that a node is away. */
const CANNOT_LIST = /^(NOPERM|ERR unknown (sub)?command|ERR syntax)/;

interface PresenceConnections {
  /** The members key. */
  readonly key: string;
  readonly member: string;
  /** One to each master, looked up by the others. */
  readonly connections: readonly Redis[];
  /** Subscribed to the members' announcements. */
  readonly subscriber: Redis;
  /** Where the members' connections are recorded (the command client). */
  readonly records: LeaseClient;
  readonly clock: Clock;
}

/** A connection's place: the run id of its server and its client id there, `<run id>:<client id>`. */
type Place = string;

/**
 * How the record of a member whose connections cannot be looked up (CLIENT refused) begins: such a member
 * is never taken for gone. A token of its presence follows, so a process never takes another's record for
 * its own (the name's claim compares them).
 */
const UNLISTED = "?";
const unlisted = (record: string | null | undefined): boolean => record?.startsWith(UNLISTED) === true;

class RedisPresence implements Presence {
  readonly #unlistedRecord = `${UNLISTED}${crypto.randomUUID()}`;
  readonly #key: string;
  readonly #recordsKey: string;
  readonly #member: string;
  readonly #connections: readonly Redis[];
  readonly #subscriber: Redis;
  readonly #records: LeaseClient;
  readonly #clock: Clock;
  readonly #closed: () => void;
  /** Where each connection is since its last (re)connect. */
  readonly #places = new Map<Redis, Place>();
  /** False once a node refused CLIENT (an ACL): nobody is taken for gone, leases are left to expire. */
  #listable = true;
  /** The member's name is this presence's ({@link claimed}): from then on, it records its connections. */
  #claimed = false;

  constructor(presence: PresenceConnections, closed: () => void) {
    this.#key = presence.key;
    this.#recordsKey = presenceRecordsKey(presence.key);
    this.#member = presence.member;
    this.#connections = presence.connections;
    this.#subscriber = presence.subscriber;
    this.#records = presence.records;
    this.#clock = presence.clock;
    this.#closed = closed;
    // A reconnect is a new client id (and, after a restart, a new run id): recorded again each time.
    for (const connection of this.#connections)
      connection.on("ready", () => void this.#locate(connection).catch(() => {}));
  }

  /** Places the connections that are up now and records them; rejects when it cannot. */
  async recorded(): Promise<void> {
    const ready = this.#connections.filter((connection) => connection.status === "ready");
    await Promise.all(ready.map((connection) => this.#place(connection)));
    await this.#record();
  }

  /**
   * Places the connections that are up, and joins under this member's name with their record, unless
   * another process is present under that name now (`ERR_MEMBER_IN_USE`): its membership not expired and
   * one of the connections its record names listed under the presence's name. A record whose connections
   * are gone is claimed over: a process that died (Redis dropped its connections) leaves one behind, and
   * its successor may take its name at once. Where connections cannot be looked up (an ACL refuses CLIENT,
   * here or to the other process), the membership tells instead: the claim waits until it would expire,
   * and a process that renewed it meanwhile is live.
   */
  async claimed(ttlMs: number): Promise<void> {
    const ready = this.#connections.filter((connection) => connection.status === "ready");
    await Promise.all(ready.map((connection) => this.#place(connection)));
    const claim = async (force: 0 | 1): Promise<[string, number] | null> =>
      ((await this.#records.troupeClaimMember(
        this.#key,
        this.#recordsKey,
        this.#member,
        ttlMs,
        this.places(),
        force,
      )) as [string, number] | null) ?? null;
    const found = await claim(0);
    if (found !== null) {
      const [record, expiresInMs] = found;
      if (unlisted(record) || !this.#listable) {
        // Claimed again once that membership would have expired: it is still there only if renewed.
        await sleep(this.#clock, expiresInMs + CONFIRM_GONE_MS);
        if ((await claim(0)) !== null) throw memberInUse(this.#key, this.#member);
      } else {
        const name = presenceName(this.#key, this.#member);
        const listed = async () => {
          const asked = await this.#listed([record]);
          return (
            asked !== null &&
            placesIn(record).some(({ place, runId }) => asked.get(runId)?.get(place) === name)
          );
        };
        // Looked for twice, as a member taken for gone is: a process just killed may still be listed.
        if ((await listed()) && (await sleep(this.#clock, CONFIRM_GONE_MS).then(listed)))
          throw memberInUse(this.#key, this.#member);
        await claim(1);
      }
    }
    this.#claimed = true;
    // A connection that came up meanwhile was placed but not recorded.
    await this.#record();
  }

  async #locate(connection: Redis): Promise<void> {
    await this.#place(connection);
    await this.#record();
  }

  async #place(connection: Redis): Promise<void> {
    let id: number;
    let info: string;
    try {
      [id, info] = await Promise.all([connection.client("ID"), connection.info("server")]);
    } catch (error) {
      // Refused here (an ACL): this member cannot be looked up, and says so in its record.
      if (!CANNOT_LIST.test(messageOf(error))) throw error;
      this.#listable = false;
      return;
    }
    const runId = /^run_id:(\w+)/m.exec(info)?.[1];
    if (runId === undefined) throw new TroupeError("ERR_STREAM_BACKEND", "INFO server gave no run_id");
    this.#places.set(connection, `${runId}:${id}`);
  }

  async #record(): Promise<void> {
    const places = this.places();
    // Nothing placed (no connection up yet): an empty record would say it has no presence at all. Before
    // the name is claimed, the record there may be another process's, which the claim looks up first.
    if (places !== "" && this.#claimed) await this.#records.hset(this.#recordsKey, this.#member, places);
  }

  /** What this member's record says: its connections' places, in a stable order. */
  places(): string {
    if (!this.#listable) return this.#unlistedRecord;
    return [...this.#places.values()].sort().join(" ");
  }

  is(key: string, member: string): boolean {
    return this.#key === key && this.#member === member;
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

  /**
   * Of `members`, those none of whose recorded connections a master lists now, or without a record (never
   * present: a member records its presence before its first heartbeat, and again with each). A member with
   * a connection on a server this one cannot ask (none of its own connections is there, or it did not
   * answer) is not taken for gone.
   */
  async #missing(members: readonly string[]): Promise<string[]> {
    if (!this.#listable || members.length === 0) return [];
    let records: (string | null)[];
    try {
      records = await this.#records.hmget(this.#recordsKey, this.#member, ...members);
    } catch {
      return [];
    }
    const asked = await this.#listed(records);
    if (asked === null) return [];
    // Seen: one of its places listed under its name; unknown: a place on a server that did not answer.
    const look = (member: string, record: string | null | undefined): "seen" | "unknown" | "gone" => {
      if (unlisted(record)) return "unknown";
      const name = presenceName(this.#key, member);
      let unknown = false;
      for (const { place, runId } of placesIn(record)) {
        const listed = asked.get(runId);
        if (listed === undefined) unknown = true;
        else if (listed.get(place) === name) return "seen";
      }
      return unknown ? "unknown" : "gone";
    };
    // Not seeing itself, it cannot trust what it does not see of the others. Its record may be gone (dropped
    // while it was taken for expired) or its places out of date (placing a reconnected connection failed):
    // it places the connections that are up again and records them.
    if (look(this.#member, records[0]) !== "seen") {
      await this.recorded().catch(() => {});
      return [];
    }
    return members.filter((member, i) => look(member, records[i + 1]) === "gone");
  }

  /**
   * Asks each server this member has a connection to for the recorded connections there: per run id, the
   * places listed with their names. A server that did not answer is left out. Null when connections cannot be
   * listed at all.
   */
  async #listed(records: readonly (string | null)[]): Promise<Map<string, Map<Place, string>> | null> {
    const ids = new Map<string, string[]>();
    for (const record of records)
      for (const { runId, clientId } of placesIn(record))
        ids.get(runId)?.push(clientId) ?? ids.set(runId, [clientId]);
    const asked = new Map<string, Map<Place, string>>();
    await Promise.all(
      [...this.#places].map(async ([connection, own]) => {
        const runId = own.slice(0, own.indexOf(":"));
        const wanted = ids.get(runId);
        if (!wanted) return;
        try {
          const list = String(await connection.call("CLIENT", "LIST", "ID", ...wanted));
          asked.set(runId, connectionNames(runId, list));
        } catch (error) {
          if (CANNOT_LIST.test(messageOf(error))) this.#listable = false;
        }
      }),
    );
    return this.#listable ? asked : null;
  }

  async close(): Promise<void> {
    this.#closed();
    for (const connection of [...this.#connections, this.#subscriber]) connection.disconnect();
  }
}

/**
 * The places a record names (anything else in it, `?` included, is no place). A client id is a positive
 * 64-bit number: one Redis would refuse (past 2^63, leading zeros) would fail the CLIENT LIST ID that asks
 * for every member's places on that server, so that nobody there could be found gone.
 */
function* placesIn(
  record: string | null | undefined,
): Generator<{ place: Place; runId: string; clientId: string }> {
  for (const place of record ? record.split(" ") : []) {
    const match = /^(\w+):([1-9]\d{0,17})$/.exec(place);
    if (match) yield { place, runId: match[1] as string, clientId: match[2] as string };
  }
}

/** The connections in a CLIENT LIST reply of the server `runId`: each one's place and name. */
function connectionNames(runId: string, list: string): Map<Place, string> {
  const names = new Map<Place, string>();
  for (const match of list.matchAll(/^id=(\d+) .*?(?:^| )name=(\S*)/gm))
    names.set(`${runId}:${match[1]}`, match[2] as string);
  return names;
}

async function run<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (error) {
    throw redisError(error);
  }
}

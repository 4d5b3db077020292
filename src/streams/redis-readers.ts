/**
 * Blocking XREADGROUP for the Redis backend. A blocking read holds its whole connection, so each
 * reader (stream, group, consumer) gets its own. And a watchdog: after a short disconnect an ioredis
 * blocking call can hang forever (BullMQ added one too), so a read with no reply `blockMs + grace`
 * after it was sent fails with `ERR_READ_STALLED` and its connection is replaced. A read whose
 * connection closes (CLIENT KILL, a reset) fails at once with `ERR_STREAM_BACKEND`: its reply can never
 * come. Entries a lost read may still deliver when Redis wakes stay in the consumer's pending list:
 * the pump replays its history after any read failure, and its own-consumer claim sweep catches later
 * stragglers.
 *
 * On a Redis Cluster a reader's connection goes to the node serving its stream's slot (redis-target.ts);
 * when the slot moves, the read's MOVED / ASK reply fails it, the target refreshes its slot map, and the
 * next read opens a connection to the new owner.
 */
import type Redis from "ioredis";
import type { RedisOptions } from "ioredis";
import { messageOf, TroupeError } from "../errors.ts";
import type { Clock, TimerHandle } from "../time/clock.ts";
import type { ReadLease } from "./backend.ts";
import { isSlotMoved, type RedisTarget } from "./redis-target.ts";

/** A leased read's outcome: refused (the lease moved on), or the raw XREADGROUP reply and the stream's last id. */
export type LeasedReadReply =
  | { readonly refused: true }
  | { readonly refused: false; readonly read: unknown; readonly last: string | null };

/** Reads aborted by a touch of the lease (a renewal) that are tried again before one reads nothing. */
const LEASED_READ_ATTEMPTS = 3;
const REFUSED = Symbol("refused");
const ABORTED = Symbol("aborted");

/** Each reader (stream, group, consumer) has a connection of its own. */
function readerKey(stream: string, group: string, consumer: string): string {
  return `${stream}\u0000${group}\u0000${consumer}`;
}

/** The id of XREVRANGE … COUNT 1's entry; `0-0` for an empty stream. */
function lastIdOf(reply: unknown): string {
  const first = (reply as unknown[][] | null)?.[0];
  return first ? String(first[0]) : "0-0";
}

export interface ReadersOptions {
  /** ioredis options of every reader connection. */
  redis: RedisOptions;
  /** How long past its BLOCK a read may stay unanswered. */
  graceMs: number;
  /** Times the watchdog. */
  clock: Clock;
}

interface ReaderConnection {
  /** The node it is connected to. */
  readonly address: string;
  readonly redis: Redis;
}

export class BlockingReaders {
  readonly #target: RedisTarget;
  readonly #options: ReadersOptions;
  readonly #connections = new Map<string, ReaderConnection>();
  #closed = false;

  constructor(target: RedisTarget, options: ReadersOptions) {
    this.#target = target;
    this.#options = options;
  }

  /**
   * XREADGROUP … BLOCK `blockMs` … STREAMS `stream` > on the reader's own connection; the raw reply (null:
   * nothing read). Sent only once the connection is ready and `mayRead` still says so: a read queued on a
   * connection coming up would go out whenever it came up, after a lease that allowed it had lapsed (a
   * process frozen meanwhile took new entries from its successor that way).
   */
  read(
    stream: string,
    group: string,
    consumer: string,
    count: number,
    blockMs: number,
    mayRead?: () => boolean,
  ): Promise<unknown> {
    const args = ["GROUP", group, consumer, "COUNT", count, "BLOCK", blockMs, "STREAMS", stream, ">"];
    return this.#blocking(readerKey(stream, group, consumer), stream, blockMs, mayRead, [
      "XREADGROUP",
      ...args,
    ]);
  }

  /**
   * Waits up to `blockMs` for an entry after `afterId` (XREAD BLOCK, which takes nothing), on the reader's
   * own connection: the wait of a leased read, whose reading is a transaction that cannot block.
   */
  async waitAfter(
    stream: string,
    group: string,
    consumer: string,
    afterId: string,
    blockMs: number,
    mayRead?: () => boolean,
  ): Promise<void> {
    const args = ["COUNT", 1, "BLOCK", blockMs, "STREAMS", stream, afterId];
    await this.#blocking(readerKey(stream, group, consumer), stream, blockMs, mayRead, ["XREAD", ...args]);
  }

  /**
   * XREADGROUP > taken only while the reader holds `lease`, checked in Redis and atomic with the read:
   * WATCH the lease and read it on the reader's own connection (WATCH is per connection, so never on the
   * shared one), then the read in MULTI / EXEC, which Redis runs only if the lease was not touched since
   * the WATCH, expiry included. A Lua script could do the same, but its reply goes through Lua tables and
   * back: half the throughput (bench/leased-read.ts). The EXEC also returns the stream's last entry, the id
   * after which a blocking read waits ({@link waitAfter}). A renewal touches the lease too and aborts the
   * read; it is tried again, up to {@link LEASED_READ_ATTEMPTS} times, then reads nothing.
   */
  async leasedRead(
    stream: string,
    group: string,
    consumer: string,
    count: number,
    lease: ReadLease,
    mayRead?: () => boolean,
  ): Promise<LeasedReadReply> {
    const key = readerKey(stream, group, consumer);
    for (let attempt = 0; attempt < LEASED_READ_ATTEMPTS; attempt++) {
      const reply = await this.#watched(
        key,
        stream,
        0,
        mayRead,
        "a leased XREADGROUP",
        async (connection) => {
          const [watched, held] = ((await connection
            .pipeline()
            .watch(lease.key)
            .hmget(lease.key, "holder", "gen")
            .exec()) ?? []) as [Error | null, unknown][];
          if (watched?.[0] || held?.[0]) throw watched?.[0] ?? held?.[0];
          const [holder, generation] = (held?.[1] ?? []) as (string | null)[];
          if (holder !== lease.holder || generation !== String(lease.generation)) {
            await connection.unwatch();
            return REFUSED;
          }
          const result = await connection
            .multi()
            .callBuffer("XREADGROUP", "GROUP", group, consumer, "COUNT", count, "STREAMS", stream, ">")
            .callBuffer("XREVRANGE", stream, "+", "-", "COUNT", 1)
            .exec();
          if (result === null) return ABORTED;
          const steps = result as [Error | null, unknown][];
          const [readError, read] = steps[0] ?? [null, null];
          const [lastError, last] = steps[1] ?? [null, null];
          if (readError || lastError) throw readError ?? lastError;
          return { read, last: lastIdOf(last) };
        },
      );
      if (reply === null || reply === REFUSED) return { refused: true };
      if (reply !== ABORTED) return { refused: false, ...reply };
    }
    return { refused: false, read: null, last: null };
  }

  /** One blocking command on the reader's connection, under the watchdog; null when `mayRead` said no. */
  #blocking(
    key: string,
    stream: string,
    blockMs: number,
    mayRead: (() => boolean) | undefined,
    [command, ...args]: [string, ...(string | number)[]],
  ): Promise<unknown> {
    return this.#watched(key, stream, blockMs, mayRead, `${command} BLOCK ${blockMs}`, (connection) =>
      connection.callBuffer(command, ...args),
    );
  }

  /**
   * `run` on the reader's connection under the watchdog (no reply `blockMs` + grace after it was sent:
   * ERR_READ_STALLED, and the connection is replaced); null when `mayRead` said no once it was ready.
   */
  async #watched<T>(
    key: string,
    stream: string,
    blockMs: number,
    mayRead: (() => boolean) | undefined,
    what: string,
    run: (connection: Redis) => Promise<T>,
  ): Promise<T | null> {
    const reader = await this.#connection(key, stream, blockMs);
    if (mayRead && !mayRead()) return null;
    const connection = reader.redis;
    const read = run(connection);
    const { graceMs, clock } = this.#options;
    const limitMs = blockMs + graceMs;
    let timer: TimerHandle | undefined;
    let closed: (() => void) | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      const abandon = (error: TroupeError) => {
        // Replace the connection: a wedged one would hold every later read behind this one, and
        // disconnecting it rejects a read still queued there, so it can never be sent later.
        if (this.#connections.get(key) === reader) this.#connections.delete(key);
        connection.disconnect();
        reject(error);
      };
      timer = clock.setTimeout(
        () => abandon(new TroupeError("ERR_READ_STALLED", `${what} got no reply in ${limitMs} ms`)),
        limitMs,
      );
      // Without resend, ioredis neither re-sends nor rejects a command the closed socket took with it
      // (CLIENT KILL, a reset): the read would wait for the watchdog. Fail it as soon as the socket closes.
      closed = () =>
        abandon(new TroupeError("ERR_STREAM_BACKEND", `redis: connection closed during ${what}`));
      connection.once("close", closed);
    });
    try {
      return await Promise.race([read, watchdog]);
    } catch (error) {
      if (isSlotMoved(messageOf(error))) this.#target.stale();
      throw error;
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      if (closed) connection.off("close", closed);
      read.catch(() => {});
    }
  }

  close(): void {
    this.#closed = true;
    for (const connection of this.#connections.values()) connection.redis.disconnect();
    this.#connections.clear();
  }

  /**
   * The reader's connection to the node serving `stream` now (a new one when the slot moved), once it is
   * ready. Not ready within the read's own limit (`blockMs` + grace), it fails as a stalled read would
   * (ERR_READ_STALLED), and closed meanwhile as a read on a closed connection (ERR_STREAM_BACKEND).
   */
  async #connection(key: string, stream: string, blockMs: number): Promise<ReaderConnection> {
    if (this.#closed) throw new TroupeError("ERR_STREAM_BACKEND", "redis stream backend is closed");
    const node = await this.#target.node(stream);
    if (this.#closed) throw new TroupeError("ERR_STREAM_BACKEND", "redis stream backend is closed");
    let connection = this.#connections.get(key);
    if (connection?.address !== node.address) {
      connection?.redis.disconnect();
      // No resend after a reconnect: a re-sent `>` read would deliver entries nobody awaits. No offline
      // queue: a read is sent when it is made, or fails, never later.
      const redis = node.open({
        ...this.#options.redis,
        protocol: 2,
        autoResendUnfulfilledCommands: false,
        enableOfflineQueue: false,
      });
      // Errors reach the read that fails; unheard, ioredis prints each one (see redis-backend.ts).
      redis.on("error", () => {});
      connection = { address: node.address, redis };
      this.#connections.set(key, connection);
    }
    if (connection.redis.status !== "ready") await this.#ready(key, connection, blockMs);
    return connection;
  }

  #ready(key: string, reader: ReaderConnection, blockMs: number): Promise<void> {
    const { clock, graceMs } = this.#options;
    const { redis } = reader;
    const limitMs = blockMs + graceMs;
    return new Promise((resolve, reject) => {
      const settle = (error?: TroupeError) => {
        clock.clearTimeout(timer);
        redis.off("ready", onReady);
        redis.off("close", onClose);
        if (!error) return resolve();
        // As after a stalled read: a new connection for the next one.
        if (this.#connections.get(key) === reader) this.#connections.delete(key);
        redis.disconnect();
        reject(error);
      };
      const onReady = () => settle();
      const onClose = () =>
        settle(
          new TroupeError(
            "ERR_STREAM_BACKEND",
            `redis: connection closed before XREADGROUP BLOCK ${blockMs} was sent`,
          ),
        );
      const timer = clock.setTimeout(
        () =>
          settle(
            new TroupeError(
              "ERR_READ_STALLED",
              `redis: no connection ready for XREADGROUP BLOCK ${blockMs} in ${limitMs} ms`,
            ),
          ),
        limitMs,
      );
      redis.once("ready", onReady);
      redis.once("close", onClose);
      // A lazy connection (the caller's `lazyConnect`) connects on its first command, which waits for this.
      if (redis.status === "wait") redis.connect().catch(() => {});
    });
  }
}

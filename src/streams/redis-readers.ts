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
import { TroupeError } from "../errors.ts";
import type { Clock, TimerHandle } from "../time/clock.ts";
import { messageOf } from "./commit.ts";
import { isSlotMoved, type RedisTarget } from "./redis-target.ts";

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
    return this.#blocking(`${stream}\u0000${group}\u0000${consumer}`, stream, blockMs, mayRead, [
      "XREADGROUP",
      ...args,
    ]);
  }

  /**
   * Waits up to `blockMs` for an entry after `afterId` (XREAD BLOCK, which takes nothing), on the reader's
   * own connection: the wait of a leased read, whose reading is a script that cannot block (redis-backend.ts).
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
    await this.#blocking(`${stream}\u0000${group}\u0000${consumer}`, stream, blockMs, mayRead, [
      "XREAD",
      ...args,
    ]);
  }

  /** One blocking command on the reader's connection, under the watchdog; null when `mayRead` said no. */
  async #blocking(
    key: string,
    stream: string,
    blockMs: number,
    mayRead: (() => boolean) | undefined,
    [command, ...args]: [string, ...(string | number)[]],
  ): Promise<unknown> {
    const reader = await this.#connection(key, stream, blockMs);
    if (mayRead && !mayRead()) return null;
    const connection = reader.redis;
    const read = connection.callBuffer(command, ...args);
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
        () =>
          abandon(
            new TroupeError("ERR_READ_STALLED", `${command} BLOCK ${blockMs} got no reply in ${limitMs} ms`),
          ),
        limitMs,
      );
      // Without resend, ioredis neither re-sends nor rejects a command the closed socket took with it
      // (CLIENT KILL, a reset): the read would wait for the watchdog. Fail it as soon as the socket closes.
      closed = () =>
        abandon(
          new TroupeError(
            "ERR_STREAM_BACKEND",
            `redis: connection closed during ${command} BLOCK ${blockMs}`,
          ),
        );
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

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

  /** XREADGROUP … BLOCK `blockMs` … STREAMS `stream` > on the reader's own connection; the raw reply. */
  async read(
    stream: string,
    group: string,
    consumer: string,
    count: number,
    blockMs: number,
  ): Promise<unknown> {
    const key = `${stream}\u0000${group}\u0000${consumer}`;
    const reader = await this.#connection(key, stream);
    const connection = reader.redis;
    const args = ["GROUP", group, consumer, "COUNT", count, "BLOCK", blockMs, "STREAMS", stream, ">"];
    const read = connection.callBuffer("XREADGROUP", ...args);
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
            new TroupeError("ERR_READ_STALLED", `XREADGROUP BLOCK ${blockMs} got no reply in ${limitMs} ms`),
          ),
        limitMs,
      );
      // Without resend, ioredis neither re-sends nor rejects a command the closed socket took with it
      // (CLIENT KILL, a reset): the read would wait for the watchdog. Fail it as soon as the socket closes.
      closed = () =>
        abandon(
          new TroupeError(
            "ERR_STREAM_BACKEND",
            `redis: connection closed during XREADGROUP BLOCK ${blockMs}`,
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

  /** The reader's connection to the node serving `stream` now (a new one when the slot moved). */
  async #connection(key: string, stream: string): Promise<ReaderConnection> {
    if (this.#closed) throw new TroupeError("ERR_STREAM_BACKEND", "redis stream backend is closed");
    const node = await this.#target.node(stream);
    if (this.#closed) throw new TroupeError("ERR_STREAM_BACKEND", "redis stream backend is closed");
    const current = this.#connections.get(key);
    if (current?.address === node.address) return current;
    current?.redis.disconnect();
    // No resend after a reconnect: a re-sent `>` read would deliver entries nobody awaits.
    const redis = node.open({ ...this.#options.redis, protocol: 2, autoResendUnfulfilledCommands: false });
    // Errors reach the read that fails; unheard, ioredis prints each one (see redis-backend.ts).
    redis.on("error", () => {});
    const connection = { address: node.address, redis };
    this.#connections.set(key, connection);
    return connection;
  }
}

/**
 * Control plane into one worker over comlink: state snapshots and query calls. Never the data plane.
 * Comlink calls left pending when their worker dies never settle, so every call races a timeout, and the
 * calls under way when the channel closes (the worker ended: a crash, a restart, a stop) reject then.
 */
import * as Comlink from "comlink";
import { deserializeError, messageOf, TroupeError } from "../errors.ts";
import type { Clock } from "../time/clock.ts";
import type { ControlApi, ControlResult } from "./protocol.ts";

export class ControlChannel {
  readonly #remote: Comlink.Remote<ControlApi>;
  readonly #port: MessagePort;
  readonly #clock: Clock;
  readonly #label: string;
  /** The calls under way: each rejects at once when the channel closes. */
  readonly #pending = new Set<(error: TroupeError) => void>();

  constructor(port: MessagePort, clock: Clock, label: string) {
    this.#port = port;
    this.#remote = Comlink.wrap<ControlApi>(port);
    this.#clock = clock;
    this.#label = label;
  }

  snapshot(timeoutMs: number): Promise<unknown> {
    return this.#call(() => this.#remote.snapshot(), "snapshot", timeoutMs);
  }

  query(name: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    return this.#call(() => this.#remote.query(name, args), `query ${name}`, timeoutMs);
  }

  close(): void {
    this.#remote[Comlink.releaseProxy]();
    this.#port.close();
    const ended = new TroupeError("ERR_ACTOR_STOPPED", `${this.#label} ended before it answered`);
    for (const abandon of [...this.#pending]) abandon(ended);
  }

  /**
   * A call that failed on its way: arguments the worker cannot be sent (posting them throws), or an answer
   * that cannot travel back (comlink's worker side then sends a TypeError instead), else the channel.
   */
  #transportError(what: string, error: unknown): TroupeError {
    const name = (error as { name?: unknown } | null)?.name;
    if (name === "DataCloneError")
      return new TroupeError(
        "ERR_MESSAGE_ENCODE",
        `${what}: its arguments cannot be sent to ${this.#label}: ${messageOf(error)}`,
        { cause: error },
      );
    if (messageOf(error) === "Unserializable return value")
      return new TroupeError(
        "ERR_MESSAGE_ENCODE",
        `${what}: the answer of ${this.#label} cannot be sent back`,
        { cause: error },
      );
    return new TroupeError("ERR_CONTROL_TIMEOUT", `${what} on ${this.#label} failed`, { cause: error });
  }

  #call(call: () => Promise<ControlResult>, what: string, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const settle = (outcome: () => void) => {
        if (!this.#pending.delete(abandon)) return;
        this.#clock.clearTimeout(timer);
        outcome();
      };
      const abandon = (error: TroupeError) => settle(() => reject(error));
      this.#pending.add(abandon);
      const timer = this.#clock.setTimeout(
        () =>
          abandon(
            new TroupeError(
              "ERR_CONTROL_TIMEOUT",
              `${what} on ${this.#label} took longer than ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      call().then(
        (result) =>
          settle(() => {
            // A query that threw is the handler's error (an unknown one carries ERR_QUERY_NOT_FOUND).
            if (result.ok) resolve(result.value);
            else reject(deserializeError(result.error));
          }),
        (error: unknown) => abandon(this.#transportError(what, error)),
      );
    });
  }
}

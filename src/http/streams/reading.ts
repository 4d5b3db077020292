/**
 * One reading of the streams layer (backend health + every group), shared by `/health`, `/streams`,
 * `/metrics` and the live feed. Every read has a deadline, and concurrent callers share the reading in
 * flight, so a burst of health checks costs Redis one round of commands, and nothing waits longer than
 * `sourceTimeoutMs` when Redis is down.
 */
import { messageOf } from "../../errors.ts";
import { withDeadline } from "../../time/deadline.ts";
import type { BackendHealth, StreamGroupInfo, StreamsSource } from "./source.ts";

export interface StreamsReading {
  /** `null` without a streams source. */
  readonly backend: BackendHealth | null;
  /** `null` when the overview failed or timed out (`error` says why) or without a streams source. */
  readonly groups: StreamGroupInfo[] | null;
  readonly error: string | null;
  readonly at: number;
}

export class StreamsReader {
  readonly source: StreamsSource | null;
  readonly #timeoutMs: number;
  #inFlight: Promise<StreamsReading> | null = null;

  constructor(source: StreamsSource | null, timeoutMs: number) {
    this.source = source;
    this.#timeoutMs = timeoutMs;
  }

  read(): Promise<StreamsReading> {
    this.#inFlight ??= this.#read().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  async #read(): Promise<StreamsReading> {
    const source = this.source;
    if (!source) return { backend: null, groups: null, error: null, at: Date.now() };
    const health = withDeadline(source.backendHealth(), this.#timeoutMs, "stream backend").catch(
      (error): BackendHealth => ({ kind: "redis", up: false, pingMs: null, error: messageOf(error) }),
    );
    // A backend that failed its probe will not answer the overview either (ioredis holds the commands
    // until it reconnects): stop waiting for it at once.
    const down = health.then((h) =>
      h.up ? new Promise<never>(() => {}) : Promise.reject(new Error("backend down")),
    );
    const [backend, overview] = await Promise.all([
      health,
      Promise.race([withDeadline(source.overview(), this.#timeoutMs, "stream overview"), down]).then(
        (groups) => ({ groups, error: null }),
        (error) => ({ groups: null, error: messageOf(error) }),
      ),
    ]);
    return { backend, ...overview, at: Date.now() };
  }
}

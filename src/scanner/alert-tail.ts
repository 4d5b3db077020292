/**
 * Follows the alerts stream for display, from its end at start: each poll reads the entries after the
 * last one seen. No consumer group: a terminal has nothing to acknowledge, leaves no consumer or pending
 * entry behind, and never holds retention back; every process that tails sees every alert written, by
 * itself or by another analyzer process. At most once: alerts trimmed between two polls are not shown
 * (the alerts stream and its sinks keep them).
 */
import type { Alert } from "../detection/alert.ts";
import type { StreamBackend } from "../streams/backend.ts";
import { replayedFor } from "../streams/dead-letters.ts";
import { defaultCodec } from "../streams/entry-codec.ts";
import { ZERO_ID } from "../streams/stream-id.ts";

export interface AlertTailOptions {
  /** Time between polls. @defaultValue 250 */
  intervalMs?: number;
  /** Entries read per poll; a poll that fills it reads on at once. @defaultValue 256 */
  batch?: number;
}

export const ALERT_TAIL_DEFAULTS = { intervalMs: 250, batch: 256 } satisfies Required<AlertTailOptions>;

export class AlertTail {
  readonly #backend: StreamBackend;
  readonly #stream: string;
  readonly #onAlert: (alert: Alert) => void;
  readonly #options: Required<AlertTailOptions>;
  #after = ZERO_ID;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #polling: Promise<void> | null = null;
  #stopped = false;

  constructor(
    backend: StreamBackend,
    stream: string,
    onAlert: (alert: Alert) => void,
    options: AlertTailOptions = {},
  ) {
    this.#backend = backend;
    this.#stream = stream;
    this.#onAlert = onAlert;
    this.#options = { ...ALERT_TAIL_DEFAULTS, ...options };
  }

  /** Starts after the stream's last entry: alerts written before this process started are history. */
  async start(): Promise<void> {
    const [last] = await this.#backend.range(this.#stream, { start: "+", end: "-", count: 1, reverse: true });
    this.#after = last?.id ?? ZERO_ID;
    this.#schedule();
  }

  /** Shows everything written so far (before an exit, so the last alerts are not left unshown). */
  async catchUp(): Promise<void> {
    await this.#polling;
    await this.#poll();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#polling = this.#poll()
        // A failed read (Redis away) is retried at the next poll: the display just waits.
        .catch(() => {})
        .finally(() => {
          this.#polling = null;
          this.#schedule();
        });
    }, this.#options.intervalMs);
  }

  async #poll(): Promise<void> {
    const { batch } = this.#options;
    for (;;) {
      const entries = await this.#backend.range(this.#stream, { start: `(${this.#after}`, count: batch });
      for (const entry of entries) {
        this.#after = entry.id;
        // A dead letter's replay for one sink's group repeats an alert already shown.
        if (entry.fields && replayedFor(entry.fields) === undefined)
          this.#onAlert(defaultCodec.decode(entry.fields) as Alert);
      }
      if (entries.length < batch) return;
    }
  }
}

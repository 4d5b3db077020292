/**
 * Alerts to a webhook (ALERT_WEBHOOK_URL): POST JSON, retried with exponential backoff. It is a pump
 * target on the alerts stream (its own consumer group), so an alert is acked only once delivered; one that
 * cannot be delivered after `attempts` is handed back as ERR_MAX_DELIVERIES and the pump writes it to the
 * alerts dead-letter stream. Never dropped silently. `Idempotency-Key` carries the alert id, since a retry
 * after a lost response reaches the receiver twice. A redirect is not a delivery: fetch would follow a
 * 301/302/303 as a GET without the alert, so any 3xx is a failed attempt naming where it points (the URL
 * to configure). `close()` (the process stopping) ends the posts under way at once: their alerts stay
 * pending and go again, under the same key, at the next start.
 */
import type { Alert } from "../detection/alert.ts";
import { InvalidOptionError, TroupeError } from "../errors.ts";
import type { PumpTarget } from "../streams/pump-target.ts";
import { BACKOFF_DEFAULTS, type BackoffOptions, backoffDelay } from "../time/backoff.ts";
import { systemClock } from "../time/clock.ts";
import { sleep } from "../time/timers.ts";

export interface WebhookSinkOptions {
  /** Alerts posted at once. @defaultValue 8 */
  concurrency?: number;
  /** POST attempts per alert before it is dead-lettered. @defaultValue 6 */
  attempts?: number;
  /** First retry delay; doubles per attempt, without jitter. @defaultValue 200 */
  backoffMinMs?: number;
  /** @defaultValue 5000 */
  backoffMaxMs?: number;
  /** Per request. @defaultValue 5000 */
  timeoutMs?: number;
}

export const WEBHOOK_SINK_DEFAULTS = {
  concurrency: 8,
  attempts: 6,
  backoffMinMs: 200,
  backoffMaxMs: 5000,
  timeoutMs: 5000,
} satisfies Required<WebhookSinkOptions>;

export class WebhookSink implements PumpTarget<Alert, void> {
  readonly name = "webhook";
  readonly #url: string;
  readonly #options: Required<WebhookSinkOptions>;
  readonly #retry: Required<BackoffOptions>;
  readonly #listeners = new Set<() => void>();
  readonly #closing = new AbortController();
  #inFlight = 0;

  constructor(url: string, options: WebhookSinkOptions = {}) {
    if (!/^https?:\/\//.test(url))
      throw new InvalidOptionError("ALERT_WEBHOOK_URL", `must be an http(s) URL, got ${url}`);
    this.#url = url;
    this.#options = { ...WEBHOOK_SINK_DEFAULTS, ...options };
    for (const [key, value] of Object.entries(this.#options)) {
      if (!Number.isInteger(value) || value <= 0)
        throw new InvalidOptionError(key, `must be a positive integer, got ${value}`);
    }
    const { backoffMinMs: minMs, backoffMaxMs: maxMs } = this.#options;
    this.#retry = { ...BACKOFF_DEFAULTS, minMs, maxMs, jitter: 0 };
  }

  freeCredits(): number {
    return this.#options.concurrency - this.#inFlight;
  }

  deliver(alert: Alert, done: (error: TroupeError | null) => void): boolean {
    if (this.#inFlight >= this.#options.concurrency) return false;
    this.#inFlight++;
    this.#post(alert).then(
      () => this.#settle(done, null),
      (error: TroupeError) => this.#settle(done, error),
    );
    return true;
  }

  onCredit(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ends the posts under way and starts none: their alerts fail with ERR_CANCELLED (a pump keeps them pending). */
  close(): void {
    this.#closing.abort();
  }

  #settle(done: (error: TroupeError | null) => void, error: TroupeError | null): void {
    this.#inFlight--;
    done(error);
    for (const listener of this.#listeners) listener();
  }

  async #post(alert: Alert): Promise<void> {
    const { attempts, timeoutMs } = this.#options;
    const closing = this.#closing.signal;
    let last = "";
    for (let attempt = 0; attempt < attempts && !closing.aborted; attempt++) {
      try {
        if (attempt > 0) await sleep(systemClock, backoffDelay(attempt - 1, this.#retry), closing);
        const response = await fetch(this.#url, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": alert.alertId },
          body: JSON.stringify(alert),
          redirect: "manual",
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), closing]),
        });
        if (response.ok) return;
        const location = response.headers.get("location");
        last =
          location === null
            ? `HTTP ${response.status}`
            : `HTTP ${response.status}, redirected to ${location}`;
      } catch (error) {
        last = (error as Error).message;
      }
    }
    if (closing.aborted)
      throw new TroupeError(
        "ERR_CANCELLED",
        "webhook sink closed: the alert stays pending for the next start",
        {
          entryId: alert.alertId,
        },
      );
    throw new TroupeError("ERR_MAX_DELIVERIES", `webhook failed ${attempts} times, last: ${last}`, {
      entryId: alert.alertId,
    });
  }
}

/**
 * Alerts to a webhook (ALERT_WEBHOOK_URL): POST JSON, retried with exponential backoff. It is a pump
 * target on the alerts stream (its own consumer group), so an alert is acked only once delivered; one that
 * cannot be delivered after `attempts` is handed back as ERR_MAX_DELIVERIES and the pump writes it to the
 * alerts dead-letter stream. Never dropped silently. `Idempotency-Key` carries the alert id, since a retry
 * after a lost response reaches the receiver twice.
 */
import type { Alert } from "../detection/alert.ts";
import { InvalidOptionError, TroupeError } from "../errors.ts";
import type { PumpTarget } from "../streams/pump-target.ts";
import { BACKOFF_DEFAULTS, type BackoffOptions, backoffDelay } from "../time/backoff.ts";

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

  #settle(done: (error: TroupeError | null) => void, error: TroupeError | null): void {
    this.#inFlight--;
    done(error);
    for (const listener of this.#listeners) listener();
  }

  async #post(alert: Alert): Promise<void> {
    const { attempts, timeoutMs } = this.#options;
    let last = "";
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await Bun.sleep(backoffDelay(attempt - 1, this.#retry));
      try {
        const response = await fetch(this.#url, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": alert.alertId },
          body: JSON.stringify(alert),
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (response.ok) return;
        last = `HTTP ${response.status}`;
      } catch (error) {
        last = (error as Error).message;
      }
    }
    throw new TroupeError("ERR_MAX_DELIVERIES", `webhook failed ${attempts} times, last: ${last}`, {
      entryId: alert.alertId,
    });
  }
}

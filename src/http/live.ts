/**
 * `/events`: a server-sent event stream per client, fed by one set of timers and subscriptions shared
 * by all clients (which run only while someone listens).
 *
 * Events: `hello` (recent alerts, on connect), `stats` (a snapshot every `liveIntervalMs`: header
 * counters, actors, streams, readiness), `lifecycle` (runtime events but `backpressure`, which shows as
 * `waiting` in stats), `alert` (stream alerts and
 * readiness changes), `detection` (each detection written to the detections stream, as `GET /alerts`
 * shows it), `heartbeat` (every `heartbeatMs`: Bun.serve closes a stream idle for its `idleTimeout`, 10 s by
 * default) and `shutdown` (the last one).
 *
 * Bounds: at most `maxEventStreams` clients (429 beyond); at most `maxEventsPerInterval` forwarded
 * events per interval (the rest are counted in the next `stats` as `suppressedEvents`: a crash loop or a
 * poison burst must not flood every dashboard); a client that stops reading is dropped once
 * `MAX_QUEUED` events wait for it.
 */
import type { ActorEventName } from "../runtime/events.ts";
import type { ActorSystem } from "../runtime/system.ts";
import { healthAlert, LIFECYCLE_EVENTS, type LiveAlert, lifecycleAlert, streamAlert } from "./alerts.ts";
import type { DetectionView } from "./detections/source.ts";
import { ControlApiError } from "./errors.ts";
import type { Readiness } from "./health.ts";
import type { ResolvedControlApiOptions } from "./options.ts";
import type { StreamAlert } from "./streams/source.ts";

/** Events queued for a client that does not read; past it the client is dropped. */
const MAX_QUEUED = 512;
/** Browsers reconnect after this long when the stream ends. */
const RETRY_MS = 3_000;

export interface LiveSnapshot {
  readonly readiness: Readiness;
  readonly [key: string]: unknown;
}

export interface LiveFeedInputs {
  system: ActorSystem;
  snapshot(): Promise<LiveSnapshot>;
  subscribeStreams(listener: (alert: StreamAlert) => void): () => void;
  subscribeDetections(listener: (detection: DetectionView) => void): () => void;
  options: Pick<
    ResolvedControlApiOptions,
    "maxEventStreams" | "heartbeatMs" | "liveIntervalMs" | "maxEventsPerInterval" | "recentAlerts"
  >;
}

type Client = ReadableStreamDefaultController<Uint8Array>;

export class LiveFeed {
  readonly #in: LiveFeedInputs;
  readonly #clients = new Set<Client>();
  readonly #recent: LiveAlert[] = [];
  readonly #encoder = new TextEncoder();
  readonly #off: Array<() => void> = [];
  #heartbeat: ReturnType<typeof setInterval> | null = null;
  #tick: ReturnType<typeof setTimeout> | null = null;
  #budget: number;
  #suppressed = 0;
  #readiness: Readiness["status"] | null = null;
  /** When the assessment behind `#readiness` began: an older one finishing later is not news. */
  #readinessSince = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(inputs: LiveFeedInputs) {
    this.#in = inputs;
    this.#budget = inputs.options.maxEventsPerInterval;
    // `backpressure` fires per waiting episode, thousands a second under load: it shows as `waiting` in stats.
    for (const name of LIFECYCLE_EVENTS.filter((n) => n !== "backpressure")) {
      this.#off.push(
        inputs.system.events.on(name, ((event: never) =>
          this.#publish("lifecycle", lifecycleAlert(name as ActorEventName, event))) as never),
      );
    }
    this.#off.push(inputs.subscribeStreams((alert) => this.#publish("alert", streamAlert(alert))));
    this.#off.push(inputs.subscribeDetections((detection) => this.#forward("detection", detection)));
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Recent alerts, oldest first. */
  get recent(): readonly LiveAlert[] {
    return this.#recent;
  }

  /**
   * Every readiness assessment of the API (`/health`, the metrics, the history samples, the stats sent
   * here), begun at `since` (performance.now()): a change from the last one is an alert, remembered whether
   * or not a client listens. Compared only within the stats this feed sends, a dashboard that connected just
   * before Redis went down got its first stats already unhealthy, and no alert (a spec test).
   */
  observeReadiness(readiness: Readiness, since: number): void {
    if (since < this.#readinessSince) return;
    this.#readinessSince = since;
    const previous = this.#readiness;
    this.#readiness = readiness.status;
    if (previous !== null && readiness.status !== previous)
      this.#publish("alert", healthAlert(readiness, previous));
  }

  /** A new event stream; throws 429 past the cap and 503 once shutting down. */
  open(): Response {
    if (this.#closed) throw new ControlApiError("ERR_SHUTTING_DOWN", "shutting down: no new event streams");
    const max = this.#in.options.maxEventStreams;
    if (this.#clients.size >= max) {
      throw new ControlApiError("ERR_TOO_MANY_CLIENTS", `too many event streams open (limit ${max})`);
    }
    let client: Client | null = null;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        client = controller;
        this.#clients.add(controller);
        controller.enqueue(this.#encoder.encode(`retry: ${RETRY_MS}\n\n`));
        this.#send(controller, "hello", {
          recent: this.#recent,
          intervalMs: this.#in.options.liveIntervalMs,
          heartbeatMs: this.#in.options.heartbeatMs,
        });
        this.#startTimers();
      },
      cancel: () => {
        if (client) this.#drop(client);
      },
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        // Proxies such as nginx would otherwise buffer the stream.
        "x-accel-buffering": "no",
      },
    });
  }

  /** Sends `shutdown` and ends every stream; new ones are refused. */
  close(): void {
    this.#closed = true;
    for (const off of this.#off) off();
    this.#off.length = 0;
    for (const client of this.#clients) {
      this.#send(client, "shutdown", { at: Date.now() });
      try {
        client.close();
      } catch {
        // Already closed by the client.
      }
    }
    this.#clients.clear();
    this.#stopTimers();
  }

  #publish(event: "lifecycle" | "alert", alert: LiveAlert): void {
    this.#remember(alert);
    this.#forward(event, alert);
  }

  /** Sends within the interval's budget; past it the event is only counted. */
  #forward(event: "lifecycle" | "alert" | "detection", data: unknown): void {
    if (this.#clients.size === 0) return;
    if (this.#budget <= 0) {
      this.#suppressed++;
      return;
    }
    this.#budget--;
    this.#broadcast(event, data);
  }

  #remember(alert: LiveAlert): void {
    const keep = this.#in.options.recentAlerts;
    if (keep === 0) return;
    this.#recent.push(alert);
    if (this.#recent.length > keep) this.#recent.shift();
  }

  #broadcast(event: string, data: unknown): void {
    for (const client of this.#clients) this.#send(client, event, data);
  }

  #send(client: Client, event: string, data: unknown): void {
    if ((client.desiredSize ?? 0) < -MAX_QUEUED) {
      this.#drop(client);
      try {
        client.close();
      } catch {}
      return;
    }
    try {
      client.enqueue(this.#encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
    } catch {
      this.#drop(client);
    }
  }

  #drop(client: Client): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0) this.#stopTimers();
  }

  #startTimers(): void {
    if (this.#heartbeat) return;
    const { heartbeatMs } = this.#in.options;
    this.#heartbeat = setInterval(() => this.#broadcast("heartbeat", { at: Date.now() }), heartbeatMs);
    // The first snapshot goes out at once, so a new dashboard never waits a full interval.
    this.#tick = setTimeout(() => this.#emitStats(), 0);
  }

  #stopTimers(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#tick) clearTimeout(this.#tick);
    this.#heartbeat = null;
    this.#tick = null;
  }

  /** One snapshot per interval; the next is scheduled after this one is sent, so slow reads never pile up. */
  async #emitStats(): Promise<void> {
    const snapshot = await this.#in.snapshot().catch(() => null);
    if (!this.#heartbeat) return; // every client left (or the feed closed) during the read
    if (snapshot) this.#broadcast("stats", { ...snapshot, suppressedEvents: this.#suppressed });
    this.#suppressed = 0;
    this.#budget = this.#in.options.maxEventsPerInterval;
    this.#tick = setTimeout(() => this.#emitStats(), this.#in.options.liveIntervalMs);
  }
}

/**
 * Reads one frame of figures from a running instance's control API: readiness, actors, streams and the
 * latest alerts, each with a deadline, each allowed to fail on its own (a frame with Redis down still
 * shows actors).
 */
import type { Alert } from "../detection/alert.ts";
import type { Readiness } from "../http/health.ts";
import type { BackendHealth } from "../http/streams/source.ts";
import type { ActorView } from "../http/views.ts";
import type { GroupFigures } from "./group-boxes.ts";

export interface MonitorFrame {
  readonly url: string;
  readonly at: number;
  readonly readiness: Readiness | null;
  readonly actors: ActorView[] | null;
  readonly streams: { backend: BackendHealth | null; groups: GroupFigures[] } | null;
  /**
   * The newest alerts first (`GET /alerts`); `null` when they could not be read, `"not-served"` when the
   * instance has no alerts route (an embedding app, or an older scanner).
   */
  readonly alerts: Alert[] | "not-served" | null;
  /** What failed, one line each (`actors: HTTP 401 missing bearer token`). */
  readonly errors: string[];
}

export interface ClientOptions {
  url: string;
  token: string | null;
  timeoutMs: number;
  /** How many of the latest alerts to read. @defaultValue 8 */
  alerts?: number;
}

export async function readFrame(options: ClientOptions): Promise<MonitorFrame> {
  const errors: string[] = [];
  const get = async <T>(
    path: string,
    accept: (status: number) => boolean = (s) => s === 200,
  ): Promise<T | null> => {
    try {
      const response = await fetch(new URL(path, options.url), {
        headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const body = (await response.json().catch(() => null)) as (T & { error?: { message: string } }) | null;
      if (!accept(response.status) || body === null) {
        errors.push(`${path}: HTTP ${response.status}${body?.error ? ` ${body.error.message}` : ""}`);
        return null;
      }
      return body;
    } catch (error) {
      errors.push(`${path}: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  };
  let alertsServed = true;
  const [readiness, actors, streams, alerts] = await Promise.all([
    // 503 is an answer here: the body says why the instance is unhealthy.
    get<Readiness>("health", (s) => s === 200 || s === 503),
    get<{ actors: ActorView[] }>("actors"),
    get<{ backend: BackendHealth | null; groups: GroupFigures[] }>("streams"),
    // 404: no alerts route here, which is not a failure of this frame.
    get<{ alerts: Alert[] }>(`alerts?count=${options.alerts ?? 8}`, (s) => {
      alertsServed = s !== 404;
      return s === 200 || s === 404;
    }),
  ]);
  return {
    url: options.url,
    at: Date.now(),
    readiness,
    actors: actors?.actors ?? null,
    streams,
    alerts: alertsServed ? (alerts?.alerts ?? null) : "not-served",
    errors,
  };
}

/**
 * The control API as a Hono app: actors, streams, dead letters, detections, health, metrics, live events,
 * the charts' history and the dashboard, behind the guards of security.ts, with one error handler for every route.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { createControlApi, createStreamsSource } from "troupe/http";
 *
 * const api = createControlApi({ system, streams: createStreamsSource({ backend, pumps }), token });
 * const app = new Hono().route("/ops", api.app); // or Bun.serve({ fetch: api.fetch })
 * ```
 */
import { Hono } from "hono";
import { routePath } from "hono/route";
import type { Registry } from "prom-client";
import { systemClock } from "../time/clock.ts";
import { actorRoutes } from "./actor-routes.ts";
import type { ApiContext } from "./context.ts";
import { dashboardRoutes } from "./dashboard.ts";
import { detectionRoutes } from "./detections/routes.ts";
import { ControlApiError, toErrorResponse } from "./errors.ts";
import { type Assessment, assess } from "./health.ts";
import { History, type HistoryPoint } from "./history.ts";
import { LiveFeed } from "./live.ts";
import { ControlMetrics } from "./metrics.ts";
import { opsRoutes } from "./ops-routes.ts";
import { type ControlApiOptions, resolveControlApiOptions } from "./options.ts";
import { bodyGuard, hostGuard, originGuard, tokenGuard } from "./security.ts";
import { deadLetterRoutes } from "./streams/dead-letter-routes.ts";
import { StreamsReader } from "./streams/reading.ts";
import { streamRoutes } from "./streams/routes.ts";
import type { StreamGroupInfo } from "./streams/source.ts";
import { actorViews, counters } from "./views.ts";

export interface ControlApi {
  /** Mount it under a prefix: `parent.route("/ops", api.app)`. */
  readonly app: Hono;
  /** The app's fetch handler, for `Bun.serve({ fetch: api.fetch })`. */
  readonly fetch: (request: Request) => Response | Promise<Response>;
  /** The API's own prom-client registry (merge it into yours with `Registry.merge` if you serve metrics elsewhere). */
  readonly registry: Registry;
  /** Open `/events` streams. */
  readonly eventStreams: number;
  /** From now on readiness answers 503 ("shutting down") and new event streams are refused. */
  beginShutdown(): void;
  /** Ends every event stream (with a `shutdown` event) and detaches from the system and the pumps. */
  close(): void;
}

/**
 * Paths served without a token even when reads need one: the dashboard page and its static files carry no
 * data, and the liveness probe says only that the process answers (an orchestrator's probe sends no token).
 */
const PUBLIC = /^(\/|\/assets\/[^/]+|\/health\/live)$/;

export function createControlApi(options: ControlApiOptions): ControlApi {
  const o = resolveControlApiOptions(options);
  const reader = new StreamsReader(o.streams, o.sourceTimeoutMs);
  const state = { shuttingDown: false };
  const startedAt = Date.now();
  // Every assessment tells the live feed, which alerts on a change of readiness.
  const check = async () => {
    const since = performance.now();
    const assessed = await assess({
      system: o.system,
      reader,
      slowPingMs: o.slowPingMs,
      shuttingDown: state.shuttingDown,
    });
    feed.observeReadiness(assessed.readiness, since);
    return assessed;
  };
  const metrics = new ControlMetrics({
    system: o.system,
    assess: check,
    eventStreams: () => feed.clients,
    defaultMetrics: o.defaultMetrics,
  });
  const feed = new LiveFeed({
    system: o.system,
    options: o,
    subscribeStreams: (listener) => o.streams?.subscribe(listener) ?? (() => {}),
    subscribeDetections: (listener) => o.detections?.subscribe(listener) ?? (() => {}),
    snapshot: async () => {
      const { streams, readiness } = await check();
      const actors = actorViews(o.system);
      const detections = o.detections?.counts() ?? null;
      return {
        at: Date.now(),
        readiness,
        counters: counters(actors, startedAt),
        actors,
        streams,
        detections,
      };
    },
  });
  const offStreams = o.streams?.subscribe((alert) => metrics.streamAlert(alert)) ?? (() => {});
  // Following the detections from the start keeps their counts (history, stats) whether or not anyone listens.
  const offDetections = o.detections?.subscribe(() => {}) ?? (() => {});
  const history = new History({
    intervalMs: o.historyIntervalMs,
    points: o.historyPoints,
    clock: systemClock,
    sample: async () =>
      historyPoint(
        await check(),
        counters(actorViews(o.system), startedAt).throughput,
        o.detections?.counts().byDetector ?? null,
      ),
  });
  const ctx: ApiContext = {
    options: o,
    system: o.system,
    reader,
    feed,
    metrics,
    history,
    assess: check,
    get shuttingDown() {
      return state.shuttingDown;
    },
  };

  const app = new Hono();
  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.res.status === 404 && routePath(c, -1).endsWith("*") ? "unmatched" : routePath(c, -1);
    metrics.observeRequest(c.req.method, route, c.res.status, (performance.now() - started) / 1000);
  });
  app.use("*", hostGuard(o));
  app.use("*", originGuard(o));
  const guardToken = tokenGuard(o);
  app.use("*", (c, next) =>
    c.req.method === "GET" && PUBLIC.test(relativePath(c.req.path, c.req.routePath))
      ? next()
      : guardToken(c, next),
  );
  app.use("*", bodyGuard(o));
  for (const routes of [
    opsRoutes(ctx),
    actorRoutes(ctx),
    streamRoutes(ctx),
    deadLetterRoutes(ctx),
    detectionRoutes(ctx),
    dashboardRoutes(o.title),
  ]) {
    app.route("/", routes);
  }
  app.notFound(() => {
    throw new ControlApiError("ERR_NOT_FOUND", "no such route");
  });
  app.onError((error, c) => {
    const { status, body } = toErrorResponse(error);
    if (status === 500) o.onInternalError(error);
    return c.json(body, status);
  });

  return {
    app,
    fetch: (request) => app.fetch(request),
    registry: metrics.registry,
    get eventStreams() {
      return feed.clients;
    },
    beginShutdown() {
      state.shuttingDown = true;
    },
    close() {
      state.shuttingDown = true;
      feed.close();
      metrics.close();
      history.close();
      offStreams();
      offDetections();
    },
  };
}

function historyPoint(
  { streams }: Assessment,
  throughput: number,
  detections: HistoryPoint["detections"],
): HistoryPoint {
  const groups = streams.groups;
  const sum = (pick: (g: StreamGroupInfo) => number | null) =>
    groups === null ? null : groups.reduce((total, g) => total + (pick(g) ?? 0), 0);
  return {
    at: Date.now(),
    throughput,
    lag: sum((g) => g.lag),
    pending: sum((g) => g.pending),
    lagSeconds: groups === null ? null : Math.max(0, ...groups.map((g) => g.lagSeconds ?? 0)),
    detections,
  };
}

/** The request path below the mount prefix (`/ops/assets/x` under `/ops` → `/assets/x`). */
function relativePath(path: string, pattern: string): string {
  const prefix = pattern.endsWith("/*") ? pattern.slice(0, -2) : "";
  const rest = path.startsWith(prefix) ? path.slice(prefix.length) : path;
  return rest === "" ? "/" : rest;
}

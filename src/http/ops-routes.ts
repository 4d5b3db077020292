/**
 * Operations routes: readiness (`/health`: 200 ok or degraded, 503 unhealthy), liveness
 * (`/health/live`: the process answers; never touches Redis), Prometheus metrics, and the live event
 * stream, and the recent history of the charted figures.
 */
import { Hono } from "hono";
import type { ApiContext } from "./context.ts";
import { ControlApiError } from "./errors.ts";

export function opsRoutes(ctx: ApiContext): Hono {
  return new Hono()
    .get("/health/live", (c) =>
      c.json({ status: "alive", pid: process.pid, uptimeSeconds: Math.floor(process.uptime()) }),
    )
    .get("/health", async (c) => {
      const { readiness } = await ctx.assess();
      return c.json(readiness, readiness.status === "unhealthy" ? 503 : 200);
    })
    .get("/metrics", async (c) => {
      const body = await ctx.metrics.render();
      return c.body(body, 200, { "content-type": ctx.metrics.contentType });
    })
    .get("/history", (c) =>
      c.json({
        intervalMs: ctx.options.historyIntervalMs,
        detectors: ctx.options.detections?.detectors ?? [],
        severities: ctx.options.detections?.severities ?? [],
        points: ctx.history.points,
      }),
    )
    .get("/events", () => {
      if (ctx.shuttingDown)
        throw new ControlApiError("ERR_SHUTTING_DOWN", "shutting down: no new event streams");
      return ctx.feed.open();
    });
}

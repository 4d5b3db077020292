/**
 * The dashboard: one HTML page, its script and style, and uPlot for the charts, served straight from
 * the repository and node_modules (no build step, no network at run time). Files are resolved against
 * this module, not the working directory (`serveStatic` of hono/bun would 404 when started elsewhere).
 * The page carries no data: everything comes from the API with the operator's token, so it is served
 * without one even where reads need it.
 */
import { Hono } from "hono";
import { ControlApiError } from "./errors.ts";

const here = import.meta.dir;
const ASSETS: Record<string, { path: string; type: string; cache: string }> = {
  "dashboard.js": { path: `${here}/dashboard/dashboard.js`, type: "text/javascript", cache: "no-cache" },
  "detections.js": { path: `${here}/dashboard/detections.js`, type: "text/javascript", cache: "no-cache" },
  "dom.js": { path: `${here}/dashboard/dom.js`, type: "text/javascript", cache: "no-cache" },
  "views.js": { path: `${here}/dashboard/views.js`, type: "text/javascript", cache: "no-cache" },
  "dashboard.css": { path: `${here}/dashboard/dashboard.css`, type: "text/css", cache: "no-cache" },
  "uplot.js": {
    path: Bun.resolveSync("uplot/dist/uPlot.iife.min.js", here),
    type: "text/javascript",
    cache: "public, max-age=86400",
  },
  "uplot.css": {
    path: Bun.resolveSync("uplot/dist/uPlot.min.css", here),
    type: "text/css",
    cache: "public, max-age=86400",
  },
};
const PAGE = `${here}/dashboard/index.html`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function dashboardRoutes(title: string): Hono {
  let template: Promise<string> | null = null;
  return new Hono()
    .get("/", async (c) => {
      template ??= Bun.file(PAGE).text();
      // Mounted under a prefix the page is served at `/prefix` (no slash): a <base> makes its relative
      // URLs (assets/…, actors/…, events) resolve under the prefix either way.
      const base = c.req.path.endsWith("/") ? c.req.path : `${c.req.path}/`;
      const html = (await template)
        .replaceAll("{{base}}", escapeHtml(base))
        .replaceAll("{{title}}", escapeHtml(title));
      return c.html(html, 200, { "cache-control": "no-cache", "content-security-policy": CSP });
    })
    .get("/assets/:file", (c) => {
      const asset = ASSETS[c.req.param("file")];
      if (!asset) throw new ControlApiError("ERR_NOT_FOUND", `no asset ${c.req.param("file")}`);
      return new Response(Bun.file(asset.path), {
        headers: { "content-type": `${asset.type}; charset=utf-8`, "cache-control": asset.cache },
      });
    });
}

/** Same-origin only: the page loads nothing from elsewhere and talks to nothing else. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

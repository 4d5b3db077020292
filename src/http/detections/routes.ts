/**
 * Detection routes: `GET /alerts` lists the detections newest first, filtered by detector, severity, mint,
 * wallet and write time, a page at a time (`next` is the cursor of the following, older page);
 * `GET /alerts/:id` shows one, by alert id or entry id, with everything its detector recorded. A bad
 * parameter is a 400 naming it (`query.severity: unknown severity "urgent" (low, med, high)`).
 */
import { Hono } from "hono";
import { z } from "zod";
import { withDeadline } from "../../time/deadline.ts";
import type { ApiContext } from "../context.ts";
import { ControlApiError } from "../errors.ts";
import { intString, streamId, validate } from "../validate.ts";
import type { DetectionFilter } from "./source.ts";

/** A comma-separated list of names; when `known` is not empty, each must be one of them. */
function nameList(what: string, known: readonly string[]) {
  return z
    .string()
    .transform((raw) => raw.split(",").map((name) => name.trim()))
    .superRefine((list, ctx) => {
      for (const name of list) {
        if (name === "")
          ctx.addIssue({ code: "custom", message: `must be ${what} names separated by commas` });
        else if (known.length > 0 && !known.includes(name))
          ctx.addIssue({ code: "custom", message: `unknown ${what} "${name}" (${known.join(", ")})` });
      }
    });
}

const TIME_MESSAGE = "must be a time: ms since the epoch or an ISO 8601 date like 2026-12-02T10:00:00Z";

/** Whether `raw` starts with a calendar date that exists (Date.parse takes 2024-02-30 as 1 March). */
function realDate(raw: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(raw);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** Milliseconds since the epoch, or an ISO 8601 date. */
const time = z.string().transform((raw, ctx) => {
  const ms = /^\d{1,15}$/.test(raw) ? Number(raw) : realDate(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: "custom", message: TIME_MESSAGE });
    return z.NEVER;
  }
  return ms;
});

const text = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(256, { error: "must be at most 256 characters" });

export function detectionRoutes(ctx: ApiContext): Hono {
  const { options } = ctx;
  const source = options.detections;
  const query = z
    .object({
      detector: nameList("detector", source?.detectors ?? []).optional(),
      severity: nameList("severity", source?.severities ?? []).optional(),
      mint: text.optional(),
      wallet: text.optional(),
      since: time.optional(),
      cursor: streamId.optional(),
      count: intString(1, options.maxPageSize).default(50),
    })
    .strict();

  return new Hono()
    .get("/alerts", validate("query", query), async (c) => {
      const q = c.req.valid("query");
      if (!source) return c.json({ alerts: [], next: null, scanned: 0 });
      const filter: DetectionFilter = {
        ...(q.detector && { detectors: q.detector }),
        ...(q.severity && { severities: q.severity }),
        ...(q.mint !== undefined && { mint: q.mint }),
        ...(q.wallet !== undefined && { wallet: q.wallet }),
        ...(q.since !== undefined && { since: q.since }),
      };
      const page = await withDeadline(
        source.list(filter, { cursor: q.cursor, count: q.count }),
        options.sourceTimeoutMs,
        "alerts stream",
      );
      return c.json(page);
    })
    .get("/alerts/:id", validate("param", z.object({ id: text })), async (c) => {
      const { id } = c.req.valid("param");
      const found = source
        ? await withDeadline(source.get(id), options.sourceTimeoutMs, "alerts stream")
        : null;
      if (!found) throw new ControlApiError("ERR_NOT_FOUND", `no alert ${id} in the alerts stream`);
      return c.json(found);
    });
}

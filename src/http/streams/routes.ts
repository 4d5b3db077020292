/**
 * Stream routes: every group's figures (length, lag, pending, oldest pending idle time, consumers,
 * dead letters, watermark) and, page by page, why each pending entry is pending: the consumer that
 * holds it, for how long, how often it was delivered.
 */
import { Hono } from "hono";
import { z } from "zod";
import { TroupeError } from "../../errors.ts";
import { withDeadline } from "../../time/deadline.ts";
import type { ApiContext } from "../context.ts";
import { intString, name, streamId, validate } from "../validate.ts";

const groupParam = z.object({ stream: name, group: name });

export function streamRoutes(ctx: ApiContext): Hono {
  const { reader, options } = ctx;
  const page = z
    .object({ cursor: streamId.optional(), count: intString(1, options.maxPageSize).default(50) })
    .strict();

  return new Hono()
    .get("/streams", async (c) => {
      const reading = await reader.read();
      if (reading.error !== null) throw new TroupeError("ERR_STREAM_BACKEND", reading.error);
      return c.json({ backend: reading.backend, groups: reading.groups ?? [] });
    })
    .get(
      "/streams/:stream/groups/:group/pending",
      validate("param", groupParam),
      validate("query", page),
      async (c) => {
        const { stream, group } = c.req.valid("param");
        const { cursor, count } = c.req.valid("query");
        const source = reader.source;
        if (!source)
          throw new TroupeError("ERR_NOGROUP", `no group ${group} on ${stream}: no streams are configured`);
        const found = await withDeadline(
          source.pending(stream, group, { cursor, count }),
          options.sourceTimeoutMs,
          "pending entries",
        );
        return c.json({ stream, group, ...found });
      },
    );
}

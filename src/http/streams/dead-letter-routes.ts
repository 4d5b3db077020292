/**
 * Dead-letter routes: list (paged, filtered by stream / group / reason, with reason and a payload
 * preview), replay one, replay every match (in batches of `replayBatchSize`, so Redis is never blocked
 * for long; the count is returned), delete one.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { DEAD_LETTER_REASONS } from "../../streams/dead-letters.ts";
import { isEntryId } from "../../streams/stream-id.ts";
import { withDeadline } from "../../time/deadline.ts";
import type { ApiContext } from "../context.ts";
import { ControlApiError } from "../errors.ts";
import { intString, name, validate } from "../validate.ts";
import type { DeadLetterStore } from "./source.ts";

const deadLetterId = z
  .string()
  .refine((id) => /^.{1,256}:[^:]+$/.test(id) && isEntryId(id.slice(id.lastIndexOf(":") + 1)), {
    error: "must be <dead-letter stream>:<entry id>, e.g. tx:dlq:1719000000000-0",
  });
const reason = z.enum(DEAD_LETTER_REASONS, { error: `must be one of ${DEAD_LETTER_REASONS.join(", ")}` });
const filter = { stream: name.optional(), group: name.optional(), reason: reason.optional() };
const idParam = z.object({ id: deadLetterId });

/**
 * A mutating body must be JSON when there is one (a form post is not a way in): `application/json` or a
 * `+json` type, with parameters or none. `application/json-seq` passed a check for the prefix alone, and
 * the validator, which reads only JSON types, then saw no body: a filtered replay replayed everything.
 */
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

const jsonBodyOnly: MiddlewareHandler = async (c, next) => {
  if (c.req.raw.body !== null && !JSON_TYPE.test(c.req.header("content-type") ?? "")) {
    throw new ControlApiError("ERR_UNSUPPORTED_MEDIA_TYPE", "body: must be application/json");
  }
  await next();
};

export function deadLetterRoutes(ctx: ApiContext): Hono {
  const { options, reader } = ctx;
  const list = z
    .object({
      ...filter,
      cursor: deadLetterId.optional(),
      count: intString(1, options.maxPageSize).default(50),
    })
    .strict();
  const replayAll = z.object(filter).strict();
  const store = (): DeadLetterStore | null => reader.source?.deadLetters ?? null;
  const timed = <T>(work: Promise<T>, what: string) => withDeadline(work, options.sourceTimeoutMs, what);
  const notFound = (id: string) => new ControlApiError("ERR_NOT_FOUND", `no dead letter ${id}`);

  return new Hono()
    .get("/dead-letters", validate("query", list), async (c) => {
      const { cursor, count, ...where } = c.req.valid("query");
      const letters = store();
      if (!letters) return c.json({ entries: [], next: null });
      return c.json(await timed(letters.list(where, { cursor, count }), "dead letters"));
    })
    .post("/dead-letters/replay", jsonBodyOnly, validate("json", replayAll), async (c) => {
      const where = c.req.valid("json");
      const letters = store();
      // No deadline: a replay of many records runs in bounded batches until done.
      const replayed = letters ? await letters.replayAll(where, { batchSize: options.replayBatchSize }) : 0;
      return c.json({ replayed, filter: where });
    })
    .post("/dead-letters/:id/replay", validate("param", idParam), async (c) => {
      const { id } = c.req.valid("param");
      const letters = store();
      const outcome = letters ? await timed(letters.replay(id), "dead-letter replay") : "not-found";
      if (outcome === "not-found") throw notFound(id);
      if (outcome === "not-replayable") {
        throw new ControlApiError(
          "ERR_NOT_REPLAYABLE",
          `dead letter ${id} cannot be replayed (its entry was deleted while pending, or it is input rejected before it reached a stream): it is kept; delete it once dealt with`,
        );
      }
      return c.json({ id, replayed: true });
    })
    .delete("/dead-letters/:id", validate("param", idParam), async (c) => {
      const { id } = c.req.valid("param");
      const letters = store();
      if (!letters || !(await timed(letters.remove(id), "dead-letter delete"))) throw notFound(id);
      return c.json({ id, deleted: true });
    });
}

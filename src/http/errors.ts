/**
 * Errors of the control API itself (auth, validation, limits) and the one table that maps every error
 * code, the runtime's and these, to an HTTP status. `app.onError` is the only place that turns an
 * error into a response (STYLE 7), always as `{ error: { code, message } }`.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { TroupeError, type TroupeErrorCode } from "../errors.ts";

export type ControlApiErrorCode =
  /** A param, query or body failed validation; the message names each bad field. */
  | "ERR_VALIDATION"
  /** No bearer token, or not the configured one. */
  | "ERR_UNAUTHORIZED"
  /** A cross-site mutation (Origin / Sec-Fetch-Site), or a mutation while no token is configured. */
  | "ERR_FORBIDDEN"
  | "ERR_NOT_FOUND"
  | "ERR_BODY_TOO_LARGE"
  | "ERR_UNSUPPORTED_MEDIA_TYPE"
  /** Too many concurrent `/events` streams. */
  | "ERR_TOO_MANY_CLIENTS"
  /** A dead letter that cannot be replayed (its entry was deleted before it was dead-lettered). */
  | "ERR_NOT_REPLAYABLE"
  | "ERR_SHUTTING_DOWN";

export class ControlApiError extends Error {
  override readonly name = "ControlApiError";
  readonly code: ControlApiErrorCode;
  constructor(code: ControlApiErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const STATUS: Record<ControlApiErrorCode | TroupeErrorCode, ContentfulStatusCode> = {
  ERR_VALIDATION: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_NOT_FOUND: 404,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_TOO_MANY_CLIENTS: 429,
  ERR_NOT_REPLAYABLE: 409,
  ERR_SHUTTING_DOWN: 503,
  ERR_INVALID_OPTION: 400,
  ERR_ACTOR_NOT_FOUND: 404,
  ERR_QUERY_NOT_FOUND: 404,
  ERR_NOGROUP: 404,
  ERR_ACTOR_FAILED: 409,
  ERR_ACTOR_STOPPED: 409,
  ERR_DUPLICATE_ACTOR: 409,
  ERR_CONTROL_TIMEOUT: 504,
  ERR_ASK_TIMEOUT: 504,
  ERR_SYSTEM_STOPPED: 503,
  ERR_STREAM_BACKEND: 503,
  ERR_READ_STALLED: 503,
  ERR_TOO_MANY_WAITING: 503,
  ERR_ACTOR_MODULE_NOT_FOUND: 500,
  ERR_ACTOR_MODULE_LOAD: 500,
  ERR_ACTOR_INIT: 500,
  ERR_ACTOR_NO_HANDLER: 500,
  ERR_MESSAGE_ENCODE: 500,
  ERR_HANDLER_THREW: 500,
  ERR_WORKER_CRASHED: 500,
  ERR_WORKER_EXITED: 500,
  ERR_DEADLINE_EXCEEDED: 500,
  ERR_HANDLER_TIMEOUT: 504,
  ERR_CANCELLED: 504,
  ERR_UNHANDLED_REJECTION: 500,
  ERR_MAX_DELIVERIES: 500,
  ERR_MESSAGE_REJECTED: 422,
  ERR_FENCED: 409,
  ERR_STATE_LOST: 503,
  ERR_STATE_RESTORE: 503,
  ERR_STATE_COMPACTION: 500,
  ERR_DECODE: 500,
  ERR_ENCODE: 500,
  ERR_OUTPUT_WRITE: 503,
  ERR_INVALID_OUTPUT: 500,
  ERR_PARTITION_MISMATCH: 409,
  ERR_MEMBER_IN_USE: 409,
  ERR_INVALID_KEY: 400,
};

export interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * The status and JSON body for any error. Hono's own HTTPExceptions (malformed JSON from the validator)
 * keep their status; anything without a known code is a 500 whose message is not echoed.
 */
export function toErrorResponse(error: unknown): { status: ContentfulStatusCode; body: ErrorBody } {
  if (error instanceof ControlApiError || error instanceof TroupeError) {
    return {
      status: STATUS[error.code] ?? 500,
      body: { error: { code: error.code, message: error.message } },
    };
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const code: ControlApiErrorCode = status === 413 ? "ERR_BODY_TOO_LARGE" : "ERR_VALIDATION";
    const message = status === 400 ? "body: malformed JSON" : error.message || `HTTP ${status}`;
    return { status, body: { error: { code, message } } };
  }
  return { status: 500, body: { error: { code: "ERR_INTERNAL", message: "internal error" } } };
}

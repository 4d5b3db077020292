/**
 * The control API's guards, in the order they run: a host it does not answer to is refused (403), then
 * cross-site mutations (403), then the bearer token is checked where needed (401), then mutating bodies
 * are capped (413).
 *
 * There is no cookie auth, so classic CSRF cannot ride on a session; the Origin check still refuses any
 * cross-site mutation (Hono's `csrf` middleware only looks at form posts and would pass a JSON POST).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ControlApiError } from "./errors.ts";
import type { ResolvedControlApiOptions } from "./options.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function isMutation(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

/**
 * Constant-time comparison. Both sides are hashed first: `timingSafeEqual` needs equal lengths (Bun
 * throws otherwise) and comparing digests leaks nothing about the token's length either.
 */
export function tokenMatches(expected: string, given: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(expected), digest(given));
}

/** Refuses a request for a host the API does not answer to (`allowedHosts`): DNS rebinding. */
export function hostGuard(options: ResolvedControlApiOptions): MiddlewareHandler {
  const allowed = options.allowedHosts === null ? null : new Set(options.allowedHosts);
  return async (c, next) => {
    if (allowed !== null) {
      const host = new URL(c.req.url).hostname;
      if (!allowed.has(host))
        throw new ControlApiError(
          "ERR_FORBIDDEN",
          `host ${host} refused: this API answers to ${[...allowed].join(", ")} (a name pointed at it from elsewhere is DNS rebinding)`,
        );
    }
    await next();
  };
}

/** Refuses a mutation whose Origin is neither the API's own nor allowed, or that the browser marks cross-site. */
export function originGuard(options: ResolvedControlApiOptions): MiddlewareHandler {
  const allowed = new Set(options.allowedOrigins);
  return async (c, next) => {
    if (isMutation(c.req.method)) {
      const origin = c.req.header("origin");
      const own = new URL(c.req.url).origin;
      if (origin !== undefined && origin !== own && !allowed.has(origin)) {
        throw new ControlApiError(
          "ERR_FORBIDDEN",
          `cross-origin request refused: origin ${origin} is not allowed`,
        );
      }
      if (origin === undefined && c.req.header("sec-fetch-site") === "cross-site") {
        throw new ControlApiError("ERR_FORBIDDEN", "cross-site request refused");
      }
    }
    await next();
  };
}

/** The bearer token on mutations (and on reads when `requireTokenForReads`). */
export function tokenGuard(options: ResolvedControlApiOptions): MiddlewareHandler {
  const token = options.token;
  return async (c, next) => {
    const mutation = isMutation(c.req.method);
    if (mutation || options.requireTokenForReads) {
      if (token === null) {
        throw new ControlApiError(
          "ERR_FORBIDDEN",
          "mutating routes are disabled: no API token is configured (TROUPE_API_TOKEN)",
        );
      }
      const header = c.req.header("authorization");
      const given = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
      if (given === undefined || !tokenMatches(token, given)) {
        c.header("WWW-Authenticate", 'Bearer realm="troupe"');
        throw new ControlApiError(
          "ERR_UNAUTHORIZED",
          given === undefined
            ? "missing bearer token (Authorization: Bearer <token>)"
            : "invalid bearer token",
        );
      }
    }
    await next();
  };
}

/** Caps request bodies (declared or streamed) at `bodyLimitBytes`. */
export function bodyGuard(options: ResolvedControlApiOptions): MiddlewareHandler {
  return bodyLimit({
    maxSize: options.bodyLimitBytes,
    onError: () => {
      throw new ControlApiError("ERR_BODY_TOO_LARGE", `request body exceeds ${options.bodyLimitBytes} bytes`);
    },
  });
}

/**
 * Serves the control API with Bun.serve, on 127.0.0.1 by default. Bound anywhere else it requires a
 * token, on every route, and refuses to start without one.
 *
 * Shutdown order (ECOSYSTEM.md): readiness → 503, stop accepting, drain (the caller's: pumps and
 * actors), end the SSE streams, then wait for open requests up to a deadline and cut the rest
 * (`server.stop()` alone waits forever on a client that never reads its event stream).
 *
 * @example
 * ```ts
 * const served = serveControlApi({ system, streams, token: process.env.TROUPE_API_TOKEN, port: 7070 });
 * for (const signal of ["SIGINT", "SIGTERM"] as const) {
 *   process.once(signal, async () => {
 *     await served.shutdown({ drain: () => system.stop() });
 *     await backend.close();
 *     process.exit(0);
 *   });
 * }
 * ```
 */
import type { Server } from "bun";
import { z } from "zod";
import { InvalidOptionError } from "../errors.ts";
import { type ControlApi, createControlApi } from "./app.ts";
import type { ControlApiOptions } from "./options.ts";
import { parseOptions } from "./validate.ts";

export interface ServeOptions {
  /** Interface to bind. Anything but loopback needs `token`. @defaultValue "127.0.0.1" */
  hostname?: string;
  /** TCP port; 0 picks a free one. @defaultValue 7070 */
  port?: number;
  /** How long `shutdown()` waits for open requests before cutting them. @defaultValue 5000 */
  shutdownDeadlineMs?: number;
}

export const SERVE_DEFAULTS = {
  hostname: "127.0.0.1",
  port: 7070,
  shutdownDeadlineMs: 5_000,
} satisfies Required<ServeOptions>;

/** Bun.serve closes a connection idle this long; event-stream heartbeats (≤ 9 s) keep streams under it. */
const IDLE_TIMEOUT_S = 30;

const SCHEMA = z
  .object({
    hostname: z.string().min(1, { error: "must not be empty" }),
    port: z.number().int().min(0).max(65_535, { error: "must be an integer from 0 to 65535" }),
    shutdownDeadlineMs: z
      .number()
      .int()
      .min(0)
      .max(600_000, { error: "must be an integer from 0 to 600000" }),
  })
  .strict();

/** The names a loopback-bound API answers to: its own, localhost and the loopback addresses. */
function loopbackHosts(hostname: string): string[] {
  const own = hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
  return [...new Set([own, "localhost", "127.0.0.1", "[::1]"])];
}

export function isLoopback(hostname: string): boolean {
  return (
    hostname === "localhost" ||
    hostname === "::1" ||
    hostname === "[::1]" ||
    /^127(\.\d{1,3}){3}$/.test(hostname)
  );
}

export interface ServedControlApi {
  readonly api: ControlApi;
  readonly server: Server<undefined>;
  /** `http://host:port/` of the API. */
  readonly url: string;
  /**
   * Readiness 503 and new event streams refused; stop accepting; run `drain`; end the event streams;
   * wait for open requests up to `deadlineMs`, then close what is left.
   */
  shutdown(options?: { drain?: () => Promise<unknown>; deadlineMs?: number }): Promise<void>;
}

export function serveControlApi(options: ControlApiOptions & ServeOptions): ServedControlApi {
  const { hostname, port, shutdownDeadlineMs, ...apiOptions } = options;
  const serve = parseOptions(SCHEMA, {
    ...SERVE_DEFAULTS,
    ...defined({ hostname, port, shutdownDeadlineMs }),
  });
  const loopback = isLoopback(serve.hostname);
  if (!loopback && !apiOptions.token) {
    throw new InvalidOptionError(
      "token",
      `required to bind ${serve.hostname} (not a loopback address): every route then needs it`,
    );
  }
  // Off loopback every route needs the token; createControlApi refuses `requireTokenForReads` without one.
  const api = createControlApi({
    ...apiOptions,
    requireTokenForReads: apiOptions.requireTokenForReads || !loopback,
    // On loopback reads need no token: only the loopback names (DNS rebinding otherwise reads them).
    allowedHosts:
      apiOptions.allowedHosts !== undefined
        ? apiOptions.allowedHosts
        : loopback
          ? loopbackHosts(serve.hostname)
          : null,
  });
  const server = Bun.serve({
    hostname: serve.hostname,
    port: serve.port,
    idleTimeout: IDLE_TIMEOUT_S,
    fetch: api.fetch,
  });
  let stopping: Promise<void> | null = null;

  return {
    api,
    server,
    url: `http://${bracketed(server.hostname ?? "")}:${server.port}/`,
    shutdown(shutdownOptions = {}) {
      stopping ??= (async () => {
        api.beginShutdown();
        const closed = server.stop();
        await shutdownOptions.drain?.();
        api.close();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, shutdownOptions.deadlineMs ?? serve.shutdownDeadlineMs);
        });
        await Promise.race([closed, deadline]);
        clearTimeout(timer);
        await server.stop(true);
      })();
      return stopping;
    },
  };
}

function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** An IPv6 address in brackets for a URL; one given already in them (`[::1]`) is left as it is. */
function bracketed(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

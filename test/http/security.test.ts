import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { type ControlApi, createControlApi, isLoopback, serveControlApi } from "../../src/http/index.ts";
import { resolveControlApiOptions } from "../../src/http/options.ts";
import { tokenMatches } from "../../src/http/security.ts";
import { type ActorSystem, createSystem, InvalidOptionError } from "../../src/index.ts";
import { ECHO } from "../support/runtime.ts";
import { AUTH, call, failure, TOKEN } from "./support.ts";

let system: ActorSystem;
let api: ControlApi;

beforeAll(async () => {
  system = createSystem();
  await system.spawn(ECHO, { name: "echo" });
  api = createControlApi({ system, token: TOKEN, defaultMetrics: false, bodyLimitBytes: 1024 });
});
afterAll(async () => {
  api.close();
  await system.stop({ deadlineMs: 1000 });
});

const optionError = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return { option: (error as InvalidOptionError).option, message: (error as Error).message };
  }
  throw new Error("expected an InvalidOptionError");
};

describe("bearer token", () => {
  test("a mutation without a token is 401 with a WWW-Authenticate challenge", async () => {
    const answer = await call(api, "POST", "/actors/echo/pause");
    expect(answer).toMatchObject({
      status: 401,
      body: failure("ERR_UNAUTHORIZED", "missing bearer token (Authorization: Bearer <token>)"),
    });
    expect(answer.headers.get("www-authenticate")).toBe('Bearer realm="troupe"');
  });

  test("a wrong token is 401, whatever its length (the comparison hashes both sides)", async () => {
    for (const wrong of ["x", `${TOKEN}x`, TOKEN.replace("t", "T"), "a".repeat(4096)]) {
      expect(
        await call(api, "POST", "/actors/echo/pause", { headers: { authorization: `Bearer ${wrong}` } }),
      ).toMatchObject({ status: 401, body: failure("ERR_UNAUTHORIZED", "invalid bearer token") });
    }
    expect(
      await call(api, "POST", "/actors/echo/pause", { headers: { authorization: `Basic ${TOKEN}` } }),
    ).toMatchObject({
      status: 401,
    });
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(TOKEN, "short")).toBe(false);
  });

  test("reads need no token on loopback; the right token is accepted on mutations", async () => {
    expect((await call(api, "GET", "/actors")).status).toBe(200);
    expect((await call(api, "POST", "/actors/echo/resume", { token: true })).status).toBe(200);
  });

  test("without a configured token every mutation is refused (403), reads still work", async () => {
    const open = createControlApi({ system, defaultMetrics: false });
    try {
      expect(await call(open, "POST", "/actors/echo/restart", { token: true })).toMatchObject({
        status: 403,
        body: failure(
          "ERR_FORBIDDEN",
          "mutating routes are disabled: no API token is configured (TROUPE_API_TOKEN)",
        ),
      });
      expect((await call(open, "GET", "/health")).status).toBe(200);
    } finally {
      open.close();
    }
  });

  test("requireTokenForReads: every data route needs the token; the dashboard page, its assets and liveness do not", async () => {
    const closed = createControlApi({
      system,
      token: TOKEN,
      requireTokenForReads: true,
      defaultMetrics: false,
    });
    try {
      for (const path of ["/actors", "/health", "/metrics", "/streams", "/dead-letters", "/events"]) {
        expect({ path, status: (await call(closed, "GET", path)).status }).toEqual({ path, status: 401 });
      }
      expect((await call(closed, "GET", "/actors", { token: true })).status).toBe(200);
      expect((await call(closed, "GET", "/")).status).toBe(200);
      expect((await call(closed, "GET", "/assets/uplot.js")).status).toBe(200);
      // An orchestrator's liveness probe carries no token.
      expect((await call(closed, "GET", "/health/live")).status).toBe(200);
    } finally {
      closed.close();
    }
  });
});

describe("mounted under a prefix", () => {
  test("every route answers below the prefix; the page's <base> points at it", async () => {
    const mounted = createControlApi({
      system,
      token: TOKEN,
      requireTokenForReads: true,
      defaultMetrics: false,
    });
    try {
      const parent = new Hono().route("/ops", mounted.app);
      const page = await parent.request("/ops");
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<base href="/ops/">');
      expect((await parent.request("/ops/assets/dashboard.js")).status).toBe(200);
      expect((await parent.request("/ops/actors")).status).toBe(401);
      expect((await parent.request("/ops/actors", { headers: AUTH })).status).toBe(200);
      expect(await (await parent.request("/ops/actors/nope", { headers: AUTH })).json()).toEqual(
        failure("ERR_ACTOR_NOT_FOUND", "no actor named nope"),
      );
    } finally {
      mounted.close();
    }
  });
});

describe("cross-site mutations", () => {
  test("a foreign Origin is refused with 403 even with the right token", async () => {
    expect(
      await call(api, "POST", "/actors/echo/pause", {
        token: true,
        headers: { origin: "https://evil.example" },
      }),
    ).toMatchObject({
      status: 403,
      body: failure(
        "ERR_FORBIDDEN",
        "cross-origin request refused: origin https://evil.example is not allowed",
      ),
    });
    expect(
      await call(api, "DELETE", "/dead-letters/tx:dlq:1-0", { token: true, headers: { origin: "null" } }),
    ).toMatchObject({ status: 403 });
  });

  test("a browser's cross-site marker without Origin is refused; same origin and allowed origins pass", async () => {
    expect(
      await call(api, "POST", "/actors/echo/resume", {
        token: true,
        headers: { "sec-fetch-site": "cross-site" },
      }),
    ).toMatchObject({ status: 403, body: failure("ERR_FORBIDDEN", "cross-site request refused") });
    expect(
      (
        await call(api, "POST", "/actors/echo/resume", {
          token: true,
          headers: { origin: "http://localhost" },
        })
      ).status,
    ).toBe(200);
    const allowing = createControlApi({
      system,
      token: TOKEN,
      allowedOrigins: ["https://ops.example.com"],
      defaultMetrics: false,
    });
    try {
      const answer = await call(allowing, "POST", "/actors/echo/resume", {
        token: true,
        headers: { origin: "https://ops.example.com" },
      });
      expect(answer.status).toBe(200);
    } finally {
      allowing.close();
    }
  });

  test("reads from another origin are not refused (no cookies: nothing rides on them)", async () => {
    expect(
      (await call(api, "GET", "/actors", { headers: { origin: "https://elsewhere.example" } })).status,
    ).toBe(200);
  });
});

describe("request bodies", () => {
  const replayAll = (body: RequestInit["body"], headers: Record<string, string> = {}) =>
    call(api, "POST", "/dead-letters/replay", {
      token: true,
      body,
      headers: { "content-type": "application/json", ...headers },
    });

  test("a body over the limit is 413, declared or streamed", async () => {
    expect(await replayAll(JSON.stringify({ stream: "x".repeat(2000) }))).toMatchObject({
      status: 413,
      body: failure("ERR_BODY_TOO_LARGE", "request body exceeds 1024 bytes"),
    });
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(512).fill(32));
        controller.close();
      },
    });
    expect((await replayAll(chunks)).status).toBe(413);
  });

  test("malformed JSON, unknown fields and bad values are 400 naming what is wrong; a form body is 415", async () => {
    expect(await replayAll("{nope")).toMatchObject({
      status: 400,
      body: failure("ERR_VALIDATION", "body: malformed JSON"),
    });
    expect(await replayAll(JSON.stringify({ stream: "tx", everything: true }))).toMatchObject({
      status: 400,
      body: failure("ERR_VALIDATION", "body.everything: unknown field"),
    });
    expect(await replayAll(JSON.stringify({ reason: "boredom", group: "" }))).toMatchObject({
      status: 400,
      body: failure(
        "ERR_VALIDATION",
        "body.group: must not be empty; body.reason: must be one of malformed, max-deliveries, handler-failed, rejected, deleted-while-pending, invalid-outputs, output-failed",
      ),
    });
    expect(
      await replayAll("stream=tx", { "content-type": "application/x-www-form-urlencoded" }),
    ).toMatchObject({
      status: 415,
      body: failure("ERR_UNSUPPORTED_MEDIA_TYPE", "body: must be application/json"),
    });
    // Types that only start like JSON: the validator read no body from them, and the filter was dropped
    // (a replay of one group's letters replayed all of them).
    for (const type of ["application/json-seq", "application/json.x", "application/json,text/plain"])
      expect(await replayAll(JSON.stringify({ group: "nope" }), { "content-type": type })).toMatchObject({
        status: 415,
      });
    for (const type of ["application/json; charset=utf-8", "application/merge-patch+json"])
      expect(await replayAll(JSON.stringify({ group: "nope" }), { "content-type": type })).toMatchObject({
        status: 200,
        body: { replayed: 0, filter: { group: "nope" } },
      });
  });

  test("unknown routes are 404 JSON", async () => {
    expect(await call(api, "GET", "/nope")).toMatchObject({
      status: 404,
      body: failure("ERR_NOT_FOUND", "no such route"),
    });
  });
});

describe("options", () => {
  test("every bad option is named, the first as the option", () => {
    expect(optionError(() => resolveControlApiOptions({ system, token: "short" }))).toEqual({
      option: "token",
      message: "token: must be at least 16 characters",
    });
    expect(
      optionError(() => resolveControlApiOptions({ system, heartbeatMs: 20_000, maxEventStreams: 0 })),
    ).toEqual({
      option: "maxEventStreams",
      message:
        "maxEventStreams: must be an integer from 1 to 100000; also heartbeatMs: must be an integer from 100 to 9000",
    });
    expect(optionError(() => resolveControlApiOptions({ system, requireTokenForReads: true }))).toEqual({
      option: "token",
      message: "token: requireTokenForReads needs a token",
    });
    expect(optionError(() => resolveControlApiOptions({ system: {} as ActorSystem }))).toEqual({
      option: "system",
      message: "system: must be an ActorSystem (createSystem())",
    });
    expect(
      optionError(() => resolveControlApiOptions({ system, allowedOrigins: ["https://x.example/path"] })),
    ).toEqual({
      option: "allowedOrigins.0",
      message: "allowedOrigins.0: must be an origin like https://ops.example.com",
    });
    expect(
      optionError(() =>
        resolveControlApiOptions({ system, tokne: TOKEN } as Parameters<typeof resolveControlApiOptions>[0]),
      ),
    ).toEqual({ option: "tokne", message: "tokne: unknown field" });
  });

  test("defaults fill what is not given", () => {
    const o = resolveControlApiOptions({ system });
    expect(o).toMatchObject({ token: null, bodyLimitBytes: 16_384, maxEventStreams: 64, heartbeatMs: 5_000 });
  });

  test("serving off loopback without a token refuses to start", () => {
    expect(optionError(() => serveControlApi({ system, hostname: "0.0.0.0", port: 0 }))).toEqual({
      option: "token",
      message: "token: required to bind 0.0.0.0 (not a loopback address): every route then needs it",
    });
    expect(optionError(() => serveControlApi({ system, port: 70_000 }))).toEqual({
      option: "port",
      message: "port: must be an integer from 0 to 65535",
    });
    expect([
      isLoopback("127.0.0.1"),
      isLoopback("127.4.5.6"),
      isLoopback("::1"),
      isLoopback("localhost"),
    ]).toEqual([true, true, true, true]);
    expect([isLoopback("0.0.0.0"), isLoopback("::"), isLoopback("10.0.0.1")]).toEqual([false, false, false]);
  });

  test("off loopback with a token, reads need it too", async () => {
    const served = serveControlApi({
      system,
      hostname: "0.0.0.0",
      port: 0,
      token: TOKEN,
      defaultMetrics: false,
    });
    try {
      const url = `http://127.0.0.1:${served.server.port}/`;
      expect((await fetch(`${url}actors`)).status).toBe(401);
      expect((await fetch(`${url}actors`, { headers: AUTH })).status).toBe(200);
    } finally {
      await served.shutdown();
    }
  });
});

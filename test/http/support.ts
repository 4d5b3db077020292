/** Helpers for control API tests: a token, requests through `app.request()`, and JSON bodies. */
import type { ControlApi } from "../../src/http/index.ts";

export const TOKEN = "test-token-0123456789abcdef";
export const AUTH = { authorization: `Bearer ${TOKEN}` };

export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** One request through Hono's `app.request()`; the body is parsed as JSON when it is JSON. */
export async function call<T = Record<string, unknown>>(
  api: ControlApi,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: RequestInit["body"]; token?: boolean } = {},
): Promise<Answer<T>> {
  const headers = { ...(init.token ? AUTH : {}), ...init.headers };
  const response = await api.app.request(path, {
    method,
    headers,
    ...(init.body !== undefined && { body: init.body }),
  });
  const text = await response.text();
  const json = response.headers.get("content-type")?.includes("json");
  return { status: response.status, headers: response.headers, body: (json ? JSON.parse(text) : text) as T };
}

/** The `{ error: { code, message } }` every failure answers with. */
export function failure(code: string, message: string) {
  return { error: { code, message } };
}

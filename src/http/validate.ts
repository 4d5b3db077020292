/**
 * Zod at the two edges of the control API: options (a bad one fails at construction with an
 * `InvalidOptionError` naming every bad setting) and requests (a bad param, query or body is a 400
 * `ERR_VALIDATION` whose message names every bad field, e.g. `query.count: must be an integer from 1 to 500`).
 */
import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import { z } from "zod";
import { InvalidOptionError } from "../errors.ts";
import { isEntryId } from "../streams/stream-id.ts";
import { ControlApiError } from "./errors.ts";

/** One line per issue, `path: message`; unknown keys are named. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix?: string): string[] {
  return issues.flatMap((issue) => {
    const at = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => `${at ? `${at}.` : ""}${key}: unknown field`);
    }
    return [`${at || "value"}: ${issue.message}`];
  });
}

/** Parses options; on failure throws one InvalidOptionError naming the first bad option and listing all. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const lines = describeIssues(result.error.issues);
  const [option, message] = splitLine(lines[0] ?? "options: invalid");
  const also = lines.length > 1 ? `; also ${lines.slice(1).join("; ")}` : "";
  throw new InvalidOptionError(option, `${message}${also}`);
}

function splitLine(line: string): [string, string] {
  const colon = line.indexOf(": ");
  return [line.slice(0, colon), line.slice(colon + 2)];
}

const TARGET_NAMES: Partial<Record<keyof ValidationTargets, string>> = {
  param: "param",
  query: "query",
  json: "body",
};

/** `zValidator` whose failures throw `ERR_VALIDATION` (so `app.onError` answers them like any error). */
export function validate<T extends keyof ValidationTargets, S extends z.ZodType>(target: T, schema: S) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      throw new ControlApiError(
        "ERR_VALIDATION",
        describeIssues(result.error.issues, TARGET_NAMES[target]).join("; "),
      );
    }
  });
}

/** A decimal integer in a string (path or query), within bounds. */
export function intString(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z
    .string()
    .regex(/^\d{1,15}$/, { error: message })
    .transform(Number)
    .pipe(z.number().min(min, { error: message }).max(max, { error: message }));
}

/** A Redis stream entry id (`<ms>-<seq>`, each part below 2^64). */
export const streamId = z
  .string()
  .refine(isEntryId, { error: "must be a stream entry id like 1719000000000-0 (each part below 2^64)" });

/** A stream, group or actor name as it appears in a path: non-empty, bounded. */
export const name = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(256, { error: "must be at most 256 characters" });

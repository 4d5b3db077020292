/**
 * Field checks shared by the Solana transaction readers (solana-tx.ts, solana-instructions.ts): each names
 * the field it rejects, by its path in the `getTransaction` response.
 */
import type { InvalidEventCode } from "../detection/schema.ts";

export type Obj = Record<string, unknown>;

/** Thrown by the readers to unwind a bad field; `mapSolanaTx` turns it into a reason, it never escapes. */
export class Reject {
  constructor(
    readonly code: InvalidEventCode,
    readonly field: string,
    readonly message: string,
  ) {}
}

export function object(value: unknown, field: string): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Reject(
      value === undefined ? "missing_field" : "wrong_type",
      field,
      `"${field}" must be an object`,
    );
  }
  return value as Obj;
}

export function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new Reject(
      value === undefined ? "missing_field" : "wrong_type",
      field,
      `"${field}" must be an array`,
    );
  }
  return value;
}

export function count(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new Reject(
      value === undefined ? "missing_field" : "wrong_type",
      field,
      `"${field}" must be an integer >= 0`,
    );
  }
  return value;
}

/**
 * Typed errors. Every error Troupe raises is a {@link TroupeError} with a stable `code`, so callers
 * (and the HTTP layer) branch on the code, never on the message. Across threads only
 * `{ name, code, message, stack }` survive (comlink and structured clone drop custom fields), which is
 * what {@link serializeError} / {@link deserializeError} carry.
 */
export type TroupeErrorCode =
  | "ERR_INVALID_OPTION"
  | "ERR_ACTOR_MODULE_NOT_FOUND"
  | "ERR_ACTOR_MODULE_LOAD"
  | "ERR_ACTOR_INIT"
  | "ERR_ACTOR_NO_HANDLER"
  | "ERR_ACTOR_NOT_FOUND"
  | "ERR_ACTOR_FAILED"
  | "ERR_ACTOR_STOPPED"
  | "ERR_DUPLICATE_ACTOR"
  | "ERR_MESSAGE_ENCODE"
  | "ERR_HANDLER_THREW"
  | "ERR_WORKER_CRASHED"
  | "ERR_WORKER_EXITED"
  | "ERR_DEADLINE_EXCEEDED"
  | "ERR_HANDLER_TIMEOUT"
  | "ERR_CANCELLED"
  | "ERR_UNHANDLED_REJECTION"
  | "ERR_ASK_TIMEOUT"
  | "ERR_CONTROL_TIMEOUT"
  | "ERR_QUERY_NOT_FOUND"
  | "ERR_SYSTEM_STOPPED"
  | "ERR_TOO_MANY_WAITING"
  | "ERR_MAX_DELIVERIES"
  | "ERR_MESSAGE_REJECTED"
  | "ERR_FENCED"
  | "ERR_STATE_LOST"
  | "ERR_STATE_RESTORE"
  | "ERR_STATE_COMPACTION"
  | "ERR_STREAM_BACKEND"
  | "ERR_NOGROUP"
  | "ERR_READ_STALLED"
  | "ERR_DECODE"
  | "ERR_ENCODE"
  | "ERR_OUTPUT_WRITE"
  | "ERR_INVALID_OUTPUT"
  | "ERR_PARTITION_MISMATCH"
  | "ERR_MEMBER_IN_USE"
  | "ERR_INVALID_KEY";

export interface TroupeErrorOptions {
  cause?: unknown;
  actor?: string;
  instance?: number;
  entryId?: string;
}

export class TroupeError extends Error {
  override readonly name: string = "TroupeError";
  readonly code: TroupeErrorCode;
  readonly actor: string | undefined;
  readonly instance: number | undefined;
  readonly entryId: string | undefined;

  constructor(code: TroupeErrorCode, message: string, options: TroupeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.actor = options.actor;
    this.instance = options.instance;
    this.entryId = options.entryId;
  }
}

/** Thrown by option resolvers; names the bad setting so configuration fails at start, clearly. */
export class InvalidOptionError extends TroupeError {
  override readonly name = "InvalidOptionError";
  readonly option: string;
  constructor(option: string, message: string) {
    super("ERR_INVALID_OPTION", `${option}: ${message}`);
    this.option = option;
  }
}

/**
 * Refuses a key of `options` that is not among `names`: a misspelt option (`capcity`) would otherwise leave
 * its default in place without a word. `prefix` names where the options sit (`state.`), "" at the top.
 * Options that are no object at all are refused too, rather than failing as a TypeError on their keys.
 */
export function refuseUnknownOptions(
  options: object,
  names: ReadonlySet<string>,
  prefix: string,
  what: string,
): void {
  if (typeof options !== "object" || options === null || Array.isArray(options))
    throw new InvalidOptionError(prefix === "" ? "options" : prefix.slice(0, -1), "must be an object");
  for (const key of Object.keys(options))
    if (!names.has(key)) throw new InvalidOptionError(`${prefix}${key}`, `is not ${what}`);
}

/** The names of an options interface, checked against it both ways by the compiler (`satisfies`). */
export function optionNames<T>(names: Record<keyof T, true>): ReadonlySet<string> {
  return new Set(Object.keys(names));
}

/**
 * Thrown by a handler for a message that can never succeed (an invalid event): the runtime does not
 * redeliver it but dead-letters it at once with this reason, and a stream pump writes it to the
 * dead-letter stream as "rejected".
 */
export class MessageRejectedError extends TroupeError {
  override readonly name = "MessageRejectedError";
  constructor(reason: string) {
    super("ERR_MESSAGE_REJECTED", reason);
  }
}

/** The plain shape an error has on the wire between threads and in dead letters. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === "string" ? { code } : {}),
      ...(error.stack ? { stack: error.stack } : {}),
    };
  }
  return { name: "NonError", message: String(error) };
}

/** Rebuilds an error from the wire; Troupe codes come back as TroupeError, anything else as Error. */
export function deserializeError(
  wire: SerializedError,
  fallback: TroupeErrorCode = "ERR_HANDLER_THREW",
): Error {
  const error = new TroupeError((wire.code as TroupeErrorCode | undefined) ?? fallback, wire.message);
  Object.defineProperty(error, "name", { value: wire.name });
  if (wire.stack) error.stack = wire.stack;
  return error;
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** An error's message, or the thrown value as text when it is not an Error. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

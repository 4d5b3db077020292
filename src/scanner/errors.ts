/**
 * Errors only the scanner raises. The core's `TroupeErrorCode` names what the runtime, the streams and
 * the control API know; a configuration or a chain event is the application's business, so these codes
 * live here, with a class of their own, and the core union stays free of any domain.
 */
export type ScannerErrorCode =
  /** A bad environment variable, or a role that needs Redis without `REDIS_URL`. */
  | "ERR_CONFIG"
  /** A chain event that fails the event schema; the message starts with the schema's reason code. */
  | "ERR_INVALID_EVENT"
  /** REDIS_URL does not answer at start: the message names its host and port and why. */
  | "ERR_REDIS_UNREACHABLE";

export class ScannerError extends Error {
  override readonly name = "ScannerError";
  readonly code: ScannerErrorCode;

  constructor(code: ScannerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * JSONL replay: each line is a canonical event (has `kind`), a PumpPortal message (has `txType`) or a
 * Solana `getTransaction` response (solana-tx.ts); a source may also be one JSON array of such records.
 * A bad line never stops the replay: it comes out as a result with its line number and reason, for
 * the dead-letter stream. Two modes: full speed, or the recorded pace (sleeping the event-time gap
 * between consecutive events, divided by `speed`).
 *
 * @example
 * for await (const r of replayJsonl(Bun.file("capture.jsonl").stream(), { pace: "recorded" })) {
 *   if (r.ok) for (const event of r.events) await produce(event);
 *   else await deadLetter(r.raw, r.reason);
 * }
 */

import { type ChainEvent, type InvalidEventReason, validateEvent } from "../detection/schema.ts";
import { InvalidOptionError } from "../errors.ts";
import { mapPumpPortal } from "./pumpportal.ts";
import { isSolanaTx, mapSolanaTx } from "./solana-tx.ts";

/** One record of a source: `line` is its line, or its element's number (1-based) in a JSON array (`element`). */
export type LineResult = (
  | { ok: true; line: number; events: ChainEvent[] }
  | { ok: false; line: number; raw: string; reason: InvalidEventReason }
) & { element?: true };

export interface ReplayOptions {
  /** "full": as fast as the consumer pulls; "recorded": keep the recorded gaps. @defaultValue "full" */
  pace?: "full" | "recorded";
  /** Speed-up factor for the recorded pace. @defaultValue 1 */
  speed?: number;
  /** Receive time for PumpPortal lines without `recvTs`. @defaultValue Date.now */
  now?: () => number;
  /** Injected for tests. @defaultValue Bun.sleep */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Lines (or elements) up to this one are skipped, unpaced: where a stopped replay wrote up to (its
   * summary says "resume after line N"). @defaultValue 0
   */
  after?: number;
}

export const REPLAY_DEFAULTS = {
  pace: "full",
  speed: 1,
  now: Date.now,
  sleep: (ms: number) => Bun.sleep(ms),
  after: 0,
} satisfies Required<ReplayOptions>;

export function resolveReplayOptions(options: ReplayOptions = {}): Required<ReplayOptions> {
  const o = { ...REPLAY_DEFAULTS, ...options };
  if (o.pace !== "full" && o.pace !== "recorded")
    throw new InvalidOptionError("pace", 'must be "full" or "recorded"');
  if (!(Number.isFinite(o.speed) && o.speed > 0))
    throw new InvalidOptionError("speed", "must be a number > 0");
  if (!(Number.isInteger(o.after) && o.after >= 0))
    throw new InvalidOptionError("after", "must be an integer >= 0");
  return o;
}

/** Canonical events only: a mapped source's events pass the schema's checks too, as canonical lines do. */
function checked(events: ChainEvent[], line: number, raw: string): LineResult {
  // The analyzers trust what Ingest writes (tx-entry.ts).
  const valid: ChainEvent[] = [];
  for (const event of events) {
    const validation = validateEvent(event);
    if (!validation.ok) return { ok: false, line, raw, reason: validation.reason };
    valid.push(validation.event);
  }
  return { ok: true, line, events: valid };
}

/** Maps one parsed record: a canonical event, a PumpPortal message or a Solana transaction. */
export function parseRecord(
  value: unknown,
  raw: string,
  line: number,
  now: () => number = Date.now,
): LineResult {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    if ("kind" in value) {
      const result = validateEvent(value);
      return result.ok
        ? { ok: true, line, events: [result.event] }
        : { ok: false, line, raw, reason: result.reason };
    }
    const mapped =
      "txType" in value ? mapPumpPortal(value, now()) : isSolanaTx(value) ? mapSolanaTx(value) : null;
    if (mapped !== null) {
      return mapped.ok ? checked(mapped.events, line, raw) : { ok: false, line, raw, reason: mapped.reason };
    }
  }
  const reason: InvalidEventReason = {
    code: "unknown_kind",
    message:
      "neither a canonical event (kind), a PumpPortal message (txType) nor a getTransaction response (jsonrpc, or transaction and meta)",
  };
  return { ok: false, line, raw, reason };
}

/** Parses one line (1-based `line` for reports). */
export function parseLine(raw: string, line: number, now: () => number = Date.now): LineResult {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return { ok: false, line, raw, reason: { code: "bad_json", message: (error as Error).message } };
  }
  return parseRecord(value, raw, line, now);
}

/** A line's text, and whether its bytes were valid UTF-8 (else the text has U+FFFD where they were not). */
interface SourceLine {
  readonly text: string;
  readonly utf8: boolean;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder();

function decodeLine(bytes: Uint8Array): SourceLine {
  try {
    return { text: strictUtf8.decode(bytes), utf8: true };
  } catch {
    return { text: lenientUtf8.decode(bytes), utf8: false };
  }
}

/**
 * Splits a byte stream into lines without holding more than one partial line, each decoded on its own: a
 * newline byte is never inside a UTF-8 sequence, and a line with bytes that are not UTF-8 is told apart
 * (decoded as one stream, they became U+FFFD silently: an address altered, not refused).
 */
async function* lines(source: ReadableStream<Uint8Array>): AsyncGenerator<SourceLine> {
  let partial: Uint8Array[] = [];
  for await (const chunk of source) {
    let start = 0;
    let at = chunk.indexOf(0x0a);
    while (at >= 0) {
      const piece = chunk.subarray(start, at);
      yield decodeLine(partial.length === 0 ? piece : Buffer.concat([...partial, piece]));
      partial = [];
      start = at + 1;
      at = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) partial.push(chunk.slice(start));
  }
  if (partial.length > 0) yield decodeLine(Buffer.concat(partial));
}

/** Why a record whose bytes are not UTF-8 is refused (its text shows U+FFFD where they were not). */
const BAD_ENCODING = {
  code: "bad_encoding",
  message: "not valid UTF-8 (shown with U+FFFD where it is not)",
} as const;

/**
 * A JSON array of records (what `getTransaction` recordings usually are): each element is numbered like a
 * line, 1-based. The array is parsed whole, so it is for captures that fit in memory; long ones belong in
 * JSON lines. `notUtf8`: some of its bytes were not UTF-8 and its text holds U+FFFD for them, so an element
 * holding one is refused (an address altered, not a record): an element whose text really holds U+FFFD is
 * then refused too, which a fixed file replays.
 */
export function* parseArray(
  text: string,
  now: () => number = Date.now,
  notUtf8 = false,
): Generator<LineResult> {
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    const raw = text.slice(0, 200);
    yield { ok: false, line: 1, raw, reason: { code: "bad_json", message: (error as Error).message } };
    return;
  }
  let line = 0;
  for (const value of values as unknown[]) {
    line++;
    const raw = JSON.stringify(value);
    if (notUtf8 && raw.includes("\uFFFD"))
      yield { ok: false, line, raw, reason: BAD_ENCODING, element: true };
    else yield { ...parseRecord(value, raw, line, now), element: true };
  }
}

/** Parses a whole JSONL text (or JSON array) at full speed (blank lines are skipped, not reported). */
export function* parseJsonl(text: string, now: () => number = Date.now): Generator<LineResult> {
  if (text.trimStart().startsWith("[")) {
    yield* parseArray(text, now);
    return;
  }
  let line = 0;
  for (const raw of text.split("\n")) {
    line++;
    if (raw.trim().length > 0) yield parseLine(raw, line, now);
  }
}

/** The records of a source in order: its lines, or the elements of a JSON array when it starts with one. */
async function* results(source: ReadableStream<Uint8Array>, now: () => number): AsyncGenerator<LineResult> {
  let line = 0;
  let array: string[] | null = null;
  let arrayUtf8 = true;
  let first = true;
  for await (const { text: raw, utf8 } of lines(source)) {
    line++;
    if (array !== null) {
      array.push(raw);
      arrayUtf8 &&= utf8;
      continue;
    }
    if (raw.trim().length === 0) continue;
    if (!utf8) {
      yield { ok: false, line, raw, reason: BAD_ENCODING };
      first = false;
      continue;
    }
    // Only the source's start decides: a record is an object, so a JSON-lines source never starts with "[".
    if (first && raw.trimStart().startsWith("[")) array = [raw];
    else yield parseLine(raw, line, now);
    first = false;
  }
  if (array !== null) yield* parseArray(array.join("\n"), now, !arrayUtf8);
}

/**
 * Streams a JSONL source (or a JSON array), at full speed or at the recorded pace. Returns the number of
 * the source's last line (or element), the skipped ones included: 0 for an empty source.
 */
export async function* replayJsonl(
  source: ReadableStream<Uint8Array>,
  options: ReplayOptions = {},
): AsyncGenerator<LineResult, number> {
  const o = resolveReplayOptions(options);
  let previousTs: number | undefined;
  let last = 0;
  for await (const result of results(source, o.now)) {
    last = result.line;
    if (result.line <= o.after) continue;
    const first = result.ok ? result.events[0] : undefined;
    if (o.pace === "recorded" && first !== undefined) {
      if (previousTs !== undefined && first.ts > previousTs) await o.sleep((first.ts - previousTs) / o.speed);
      previousTs = first.ts;
    }
    yield result;
  }
  return last;
}

/**
 * Retention: streams must not grow without bound, and no entry a group still needs may go. MAXLEN
 * trimming ignores consumer groups (Redis 7.0 has no ACKED option), so we trim with MINID up to the
 * oldest entry any group still needs: for each group the lower of its oldest pending id and the id
 * right after its last-delivered one. Everything below that was delivered to every group and acked
 * by all of them. An optional floor keeps acked entries for a while (`keepForMs`) or keeps the newest
 * `keepLast` (keep-last.ts). A stream without groups is never trimmed. The same rule runs on both
 * backends, so the in-memory default stays bounded too. An entry a durable actor handled stays pending
 * until the state checkpoint that covers it acks it, so no entry is trimmed before a durable checkpoint
 * covers it.
 */
import { createNanoEvents, type Unsubscribe } from "nanoevents";
import { InvalidOptionError, optionNames, refuseUnknownOptions } from "../errors.ts";
import { type Clock, checkClock, systemClock } from "../time/clock.ts";
import { every } from "../time/timers.ts";
import type { StreamBackend } from "./backend.ts";
import { KeepLastFloor } from "./keep-last.ts";
import { formatStreamId, minIdString, nextId, parseStreamId } from "./stream-id.ts";

export interface RetentionOptions {
  /** Keep acked entries younger than this (by entry id time). @defaultValue 0 */
  keepForMs?: number;
  /** Keep at least the newest N entries, acked or not. @defaultValue 0 */
  keepLast?: number;
  /** Period of `start()`'s task. @defaultValue 60000 */
  intervalMs?: number;
  /** Time for `keepForMs` and the period (tests inject one). @defaultValue systemClock */
  clock?: Clock;
}

export const RETENTION_DEFAULTS = {
  keepForMs: 0,
  keepLast: 0,
  intervalMs: 60_000,
  clock: systemClock,
} satisfies Required<RetentionOptions>;

const RETENTION_OPTION_NAMES = optionNames<RetentionOptions>({
  keepForMs: true,
  keepLast: true,
  intervalMs: true,
  clock: true,
});

export function resolveRetentionOptions(options: RetentionOptions = {}): Required<RetentionOptions> {
  // A misspelt `keepLast` kept nothing: what the caller meant to keep was trimmed (a spec test).
  refuseUnknownOptions(options, RETENTION_OPTION_NAMES, "", "a retention option");
  const resolved = { ...RETENTION_DEFAULTS, ...options };
  for (const key of ["keepForMs", "keepLast", "intervalMs"] as const) {
    const value = resolved[key];
    if (!Number.isInteger(value) || value < 0)
      throw new InvalidOptionError(key, `must be an integer >= 0, got ${value}`);
  }
  checkClock("clock", resolved.clock);
  return resolved;
}

export interface TrimResult {
  readonly stream: string;
  /** The MINID trimmed to; `null` when nothing may be trimmed. */
  readonly minId: string | null;
  readonly removed: number;
}

export interface RetentionEvents {
  trimmed(result: TrimResult): void;
  trimFailed(event: { stream: string; error: unknown }): void;
}

/**
 * The lowest id any group of `stream` still needs, floor applied; `null` = trim nothing. `keepLast` is
 * found from the groups' read counters once `floor` has seen them on earlier calls (a `Retention` keeps
 * one per stream); a fresh one reads the newest `keepLast` entries.
 */
export async function retentionPoint(
  backend: StreamBackend,
  stream: string,
  options: RetentionOptions = {},
  floor: KeepLastFloor = new KeepLastFloor(),
): Promise<string | null> {
  const { keepForMs, keepLast, clock } = resolveRetentionOptions(options);
  const groups = await backend.groups(stream);
  if (groups.length === 0) return null;
  let point: string | null = null;
  for (const g of groups) {
    const afterDelivered = formatStreamId(nextId(parseStreamId(g.lastDeliveredId)));
    const needed = g.firstPendingId === null ? afterDelivered : minIdString(g.firstPendingId, afterDelivered);
    point = point === null ? needed : minIdString(point, needed);
  }
  if (point === null) return null;
  if (keepForMs > 0) point = minIdString(point, `${Math.max(0, clock.now() - keepForMs)}-0`);
  if (keepLast > 0) {
    const kept = await floor.floor(backend, stream, groups, keepLast);
    if (kept === null) return null;
    point = minIdString(point, kept);
  }
  return point;
}

/** Trims `stream` to its retention point (XTRIM MINID). */
export async function trimAcked(
  backend: StreamBackend,
  stream: string,
  options: RetentionOptions = {},
  floor?: KeepLastFloor,
): Promise<TrimResult> {
  const minId = await retentionPoint(backend, stream, options, floor);
  const removed = minId === null ? 0 : await backend.trim(stream, minId);
  return { stream, minId, removed };
}

/** Trims a set of streams every `intervalMs`. */
export class Retention {
  readonly #backend: StreamBackend;
  readonly #streams: readonly string[];
  readonly #options: Required<RetentionOptions>;
  readonly #events = createNanoEvents<RetentionEvents>();
  readonly #floors = new Map<string, KeepLastFloor>();
  #stopTimer: (() => void) | undefined;

  constructor(backend: StreamBackend, streams: readonly string[], options: RetentionOptions = {}) {
    if (!Array.isArray(streams) || !streams.every((stream) => typeof stream === "string" && stream !== ""))
      throw new InvalidOptionError("streams", "must be an array of stream names");
    this.#backend = backend;
    this.#streams = streams;
    this.#options = resolveRetentionOptions(options);
  }

  on<E extends keyof RetentionEvents>(event: E, listener: RetentionEvents[E]): Unsubscribe {
    return this.#events.on(event, listener);
  }

  start(): void {
    const { clock, intervalMs } = this.#options;
    this.#stopTimer ??= every(clock, intervalMs, () => void this.runOnce());
  }

  stop(): void {
    this.#stopTimer?.();
    this.#stopTimer = undefined;
  }

  /** Trims every stream once; a failure on one stream is reported and does not stop the others. */
  async runOnce(): Promise<TrimResult[]> {
    const results: TrimResult[] = [];
    for (const stream of this.#streams) {
      try {
        const floor = this.#floors.get(stream) ?? new KeepLastFloor();
        this.#floors.set(stream, floor);
        const result = await trimAcked(this.#backend, stream, this.#options, floor);
        results.push(result);
        this.#events.emit("trimmed", result);
      } catch (error) {
        this.#events.emit("trimFailed", { stream, error });
      }
    }
    return results;
  }
}

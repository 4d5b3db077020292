/**
 * Pump options and their defaults, in one place. `resolvePumpOptions` merges, validates and names the
 * bad option in its `InvalidOptionError`, so a misconfigured pump fails at construction.
 */
import { hostname } from "node:os";
import { InvalidOptionError, optionNames, refuseUnknownOptions } from "../errors.ts";
import { BACKOFF_DEFAULTS, type BackoffOptions } from "../time/backoff.ts";
import { type Clock, checkClock, systemClock } from "../time/clock.ts";
import type { ReadLease } from "./backend.ts";
import { checkCodec, defaultCodec, type EntryCodec } from "./entry-codec.ts";
import { defaultOutputsOf, type OutputsOf } from "./outputs.ts";
import type { StreamStateStore } from "./stream-state-store.ts";

/** A decoded entry, as the pump sees it before handing it to the target. */
export interface PumpEntry {
  readonly stream: string;
  readonly id: string;
  readonly payload: unknown;
  /** Deliveries so far, this one included (the stream's count). */
  readonly deliveries: number;
}

export interface PumpOptions<M = unknown, R = unknown> {
  /** Stream to consume. Required. */
  stream: string;
  /** Consumer group (created at id 0 when missing). Required. */
  group: string;
  /** Stable per process, so a restarted process replays its own pending entries. @defaultValue `${hostname}-${pid}` */
  consumer?: string;
  /** @defaultValue msgpackr in field `d`, with JSON / field-map fallbacks */
  codec?: EntryCodec;
  /** Builds the message the target receives. @defaultValue the decoded payload */
  toMessage?: (entry: PumpEntry) => M;
  /** Reads the outputs to write from a handler result. @defaultValue {@link defaultOutputsOf} */
  outputsOf?: OutputsOf<R>;
  /** Most entries per read (also capped by the target's free credits). @defaultValue 512 */
  maxBatch?: number;
  /** BLOCK of a read for new entries, kept short so stop and stalls are noticed. @defaultValue 1000 */
  blockMs?: number;
  /** An entry delivered more often than this (stream count) is dead-lettered. @defaultValue 5 */
  maxDeliveries?: number;
  /** Entries pending longer than this in other consumers are claimed. @defaultValue 30000 */
  claimIdleMs?: number;
  /** Period of the claim / consumer-cleanup / stats sweep; 0 turns it off. @defaultValue 10000 */
  sweepIntervalMs?: number;
  /** Period of the backend health probe (one XLEN at a time); 0 turns it off. @defaultValue 250 */
  healthCheckMs?: number;
  /** A probe unanswered this long marks the backend stalled (stats and `backendStalled`). @defaultValue 1000 */
  stallAfterMs?: number;
  /** Other consumers idle this long with nothing pending are deleted. @defaultValue 600000 */
  deadConsumerIdleMs?: number;
  /** Dead-letter stream; `null` means `<stream>:dlq`. @defaultValue null */
  deadLetterStream?: string | null;
  /**
   * Lifetime of an output's dedup marker: within it a redelivered entry writes no output twice. It must
   * outlast the longest an entry can stay pending after its outputs were written (a crashed process
   * restarting, a frozen one resuming); each marker costs a small key until it expires. @defaultValue 3600000
   */
  dedupTtlMs?: number;
  /** Most entries per output-write + ack round. @defaultValue 512 */
  commitBatch?: number;
  /**
   * Attempts of an entry's output writes before it is dead-lettered as "output-failed"; an entry with an
   * output under its own id (`scope: "source"`) is retried for as long as the refusal may pass. @defaultValue 10
   */
  maxCommitAttempts?: number;
  /**
   * First retry delay (reads, commits, replays after a release); doubles up to `retryMaxMs`, each delay
   * shortened at random by up to a quarter ({@link retryBackoff}). @defaultValue 50
   */
  retryMinMs?: number;
  /** @defaultValue 5000 */
  retryMaxMs?: number;
  /**
   * How long `stop()` waits for in-flight entries to finish and be acked. Before that it lets the read under
   * way end (up to `blockMs`, and the blocking read's watchdog grace when Redis does not answer): a read
   * abandoned on its connection could still take entries after the stop. @defaultValue 10000
   */
  stopTimeoutMs?: number;
  /** Time for the waits, retries, sweeps and health probes (tests inject one). @defaultValue systemClock */
  clock?: Clock;
  /**
   * The store a durable target checkpoints its state to. Entries its instances settle (with an epoch) are
   * acked by those checkpoints, not by the pump; with the store given, their outputs are also fenced by
   * the epoch, so an incarnation that was taken over writes none. @defaultValue null
   */
  stateStore?: StreamStateStore | null;
  /**
   * Asked before every read (new entries, own history, claims): false skips it and asks again after
   * `blockMs`. For a pump on a partition whose lease may have lapsed (`PartitionOwnership.holds`): a process
   * frozen past its lease reads nothing when it thaws, before its ownership learns it was replaced.
   * @defaultValue always true
   */
  mayRead?: () => boolean;
  /**
   * The lease its reads of new entries are taken under (`PartitionOwnership.lease`), checked by the
   * backend with each read (ReadOptions.lease): a read that reaches Redis after the lease moved on, sent
   * however long before, takes nothing. Undefined (no lease held) skips the read as `mayRead` does.
   * @defaultValue null (no lease)
   */
  readLease?: (() => ReadLease | undefined) | null;
}

type Defaulted<M, R> = Required<Omit<PumpOptions<M, R>, "stream" | "group">>;

export const PUMP_DEFAULTS = {
  consumer: `${hostname()}-${process.pid}`,
  codec: defaultCodec,
  toMessage: (entry: PumpEntry): unknown => entry.payload,
  outputsOf: defaultOutputsOf,
  maxBatch: 512,
  blockMs: 1_000,
  maxDeliveries: 5,
  claimIdleMs: 30_000,
  sweepIntervalMs: 10_000,
  healthCheckMs: 250,
  stallAfterMs: 1_000,
  deadConsumerIdleMs: 600_000,
  deadLetterStream: null,
  dedupTtlMs: 3_600_000,
  commitBatch: 512,
  maxCommitAttempts: 10,
  retryMinMs: 50,
  retryMaxMs: 5_000,
  stopTimeoutMs: 10_000,
  clock: systemClock,
  stateStore: null,
  mayRead: () => true,
  readLease: null,
} satisfies Defaulted<unknown, unknown>;

export type ResolvedPumpOptions<M, R> = Required<Omit<PumpOptions<M, R>, "deadLetterStream">> & {
  deadLetterStream: string;
};

const POSITIVE = [
  "maxBatch",
  "blockMs",
  "maxDeliveries",
  "claimIdleMs",
  "dedupTtlMs",
  "commitBatch",
  "stallAfterMs",
] as const;
const NON_NEGATIVE = [
  "sweepIntervalMs",
  "healthCheckMs",
  "deadConsumerIdleMs",
  "retryMinMs",
  "stopTimeoutMs",
] as const;

const PUMP_OPTION_NAMES = optionNames<PumpOptions>({
  stream: true,
  group: true,
  consumer: true,
  codec: true,
  toMessage: true,
  outputsOf: true,
  maxBatch: true,
  blockMs: true,
  maxDeliveries: true,
  claimIdleMs: true,
  sweepIntervalMs: true,
  healthCheckMs: true,
  stallAfterMs: true,
  deadConsumerIdleMs: true,
  deadLetterStream: true,
  dedupTtlMs: true,
  commitBatch: true,
  maxCommitAttempts: true,
  retryMinMs: true,
  retryMaxMs: true,
  stopTimeoutMs: true,
  clock: true,
  stateStore: true,
  mayRead: true,
  readLease: true,
});

export function resolvePumpOptions<M, R>(options: PumpOptions<M, R>): ResolvedPumpOptions<M, R> {
  refuseUnknownOptions(options, PUMP_OPTION_NAMES, "", "a pump option");
  for (const key of ["stream", "group"] as const) {
    if (typeof options[key] !== "string" || options[key] === "") {
      throw new InvalidOptionError(key, "must be a non-empty string");
    }
  }
  const merged = { ...PUMP_DEFAULTS, ...stripUndefined(options) } as Defaulted<M, R> & PumpOptions<M, R>;
  if (typeof merged.consumer !== "string" || merged.consumer === "")
    throw new InvalidOptionError("consumer", "must be a non-empty string");
  // Checked here, not found at the first entry: a codec without decode dead-lettered every valid entry as
  // malformed, blaming the data for the configuration.
  checkCodec("codec", merged.codec);
  for (const key of ["toMessage", "outputsOf", "mayRead"] as const)
    if (typeof merged[key] !== "function") throw new InvalidOptionError(key, "must be a function");
  const store = merged.stateStore;
  if (
    store !== null &&
    (typeof store?.restore !== "function" ||
      typeof store.commit !== "function" ||
      typeof store.outputFence !== "function")
  )
    throw new InvalidOptionError("stateStore", "must be a stream state store (backend.stateStore()) or null");
  for (const key of POSITIVE) checkInteger(key, merged[key], 1);
  for (const key of NON_NEGATIVE) checkInteger(key, merged[key], 0);
  checkInteger("maxCommitAttempts", merged.maxCommitAttempts, 1);
  checkInteger("retryMaxMs", merged.retryMaxMs, merged.retryMinMs);
  checkClock("clock", merged.clock);
  if (merged.readLease !== null && typeof merged.readLease !== "function")
    throw new InvalidOptionError("readLease", "must be a function or null");
  if (
    merged.deadLetterStream !== null &&
    (typeof merged.deadLetterStream !== "string" || merged.deadLetterStream === "")
  )
    throw new InvalidOptionError(
      "deadLetterStream",
      "must be a non-empty stream key, or null for <stream>:dlq",
    );
  if (merged.deadLetterStream === merged.stream) {
    throw new InvalidOptionError("deadLetterStream", "must differ from stream");
  }
  return { ...merged, deadLetterStream: merged.deadLetterStream ?? `${merged.stream}:dlq` };
}

/** The backoff of a pump's retries: the shared one, from `retryMinMs` up to `retryMaxMs`. */
export function retryBackoff(options: { retryMinMs: number; retryMaxMs: number }): Required<BackoffOptions> {
  return { ...BACKOFF_DEFAULTS, minMs: options.retryMinMs, maxMs: options.retryMaxMs };
}

function checkInteger(option: string, value: unknown, min: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new InvalidOptionError(option, `must be an integer >= ${min}, got ${String(value)}`);
  }
}

function stripUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The {@link StreamsSource} the control API reads, built over a `StreamBackend` (memory or Redis) and
 * the pumps of this process: their streams are watched (every group on them, including groups other
 * processes read), their dead-letter streams served, their events forwarded as alerts.
 *
 * @example
 * ```ts
 * const streams = createStreamsSource({ backend, pumps: [walletPump, patternPump] });
 * const api = createControlApi({ system, streams, token: process.env.TROUPE_API_TOKEN });
 * ```
 */
import { z } from "zod";
import { messageOf, TroupeError } from "../../errors.ts";
import type { GroupInfo, StreamBackend } from "../../streams/backend.ts";
import { leaseKey } from "../../streams/leases.ts";
import type { OwnershipEvents, PartitionOwnership } from "../../streams/ownership.ts";
import type { PumpEvents } from "../../streams/pump-events.ts";
import { parseStreamId } from "../../streams/stream-id.ts";
import { type Clock, checkClock, systemClock } from "../../time/clock.ts";
import { withDeadline } from "../../time/deadline.ts";
import { parseOptions } from "../validate.ts";
import { MultiStreamDeadLetters } from "./backend-dead-letters.ts";
import { RateWindow } from "./rate-window.ts";
import type {
  BackendHealth,
  Page,
  PageRequest,
  PartitionInfo,
  PendingEntryInfo,
  StreamAlert,
  StreamGroupInfo,
  StreamsSource,
  WatermarkState,
} from "./source.ts";

/** What the adapter needs of a pump (a `Pump` of src/streams satisfies it). */
export interface WatchedPump {
  readonly options: { readonly stream: string; readonly group: string; readonly deadLetterStream: string };
  on<E extends keyof PumpEvents>(event: E, listener: PumpEvents[E]): () => void;
  /** `held`: the entries it holds (handled or in its actor's mailbox), pending in the group by design. */
  readonly stats?: { readonly held: number };
}

/** What the adapter needs of a partitioned consumer (a `PartitionedConsumer` satisfies it). */
export interface WatchedPartitions {
  readonly ownership: Pick<PartitionOwnership, "stream" | "options" | "leaseAges" | "announced"> & {
    on<E extends keyof OwnershipEvents>(event: E, listener: OwnershipEvents[E]): () => void;
  };
  /** The pump of a partition this member owns (none: its groups' pumps are watched in `pumps`). */
  pump(partition: number): WatchedPump | undefined;
  /**
   * The consumer groups a partition's owner reads. @defaultValue the partition's own key, in the ownership's
   * group (a partitioned stream); the scanner's analyzers, say, are units that each read groups of their own
   */
  groupsOf?(partition: number): readonly { stream: string; group: string }[];
}

export interface Watermark {
  high: number;
  critical: number;
}

export interface StreamsSourceOptions {
  /** Required. */
  backend: StreamBackend;
  /** The pumps of this process. @defaultValue [] */
  pumps?: readonly WatchedPump[];
  /** More streams to watch (read by other processes); their dead letters are in `<stream>:dlq`. @defaultValue [] */
  streams?: readonly string[];
  /**
   * This process's members of partitioned groups: every partition of their streams is watched, and their
   * group's row on each says who owns the partition (`partition`); ownership changes are alerts.
   * @defaultValue []
   */
  partitioned?: readonly WatchedPartitions[];
  /** Undelivered entries at which a group is `high` / `critical` (critical makes `/health` degraded). @defaultValue { high: 10000, critical: 100000 } */
  lag?: Watermark;
  /**
   * Age in seconds of the oldest undelivered entry at which a group is `high` / `critical` (critical makes
   * `/health` degraded). @defaultValue { high: 10, critical: 60 }
   */
  lagSeconds?: Watermark;
  /** Pending (delivered, unacked) entries at which a group is `high` / `critical`. @defaultValue { high: 5000, critical: 20000 } */
  pending?: Watermark;
  /** The window a group's `rate` is measured over. @defaultValue 10000 */
  rateWindowMs?: number;
  /**
   * What "now" is for `lagSeconds` (tests move it by hand). On Redis entry ids carry the server's clock, so
   * a skew between the hosts shifts the figure by as much. @defaultValue systemClock
   */
  clock?: Clock;
  /** A backend ping slower than this counts as failed. @defaultValue 1000 */
  probeTimeoutMs?: number;
  /** Length of a dead letter's payload preview. @defaultValue 200 */
  previewChars?: number;
}

export const STREAMS_SOURCE_DEFAULTS = {
  pumps: [],
  streams: [],
  partitioned: [],
  lag: { high: 10_000, critical: 100_000 },
  lagSeconds: { high: 10, critical: 60 },
  pending: { high: 5_000, critical: 20_000 },
  rateWindowMs: 10_000,
  clock: systemClock,
  probeTimeoutMs: 1_000,
  previewChars: 200,
} satisfies Required<Omit<StreamsSourceOptions, "backend">>;

const count = z.number().int({ error: "must be an integer" }).min(1, { error: "must be at least 1" });
const watermark = z
  .object({ high: count, critical: count })
  .strict()
  .refine((w) => w.high < w.critical, { error: "high must be below critical" });
const seconds = z.number({ error: "must be a number of seconds" }).positive({ error: "must be above 0" });
const secondsWatermark = z
  .object({ high: seconds, critical: seconds })
  .strict()
  .refine((w) => w.high < w.critical, { error: "high must be below critical" });

const SCHEMA = z
  .object({
    backend: z.custom<StreamBackend>((v) => typeof (v as StreamBackend | null)?.groups === "function", {
      error: "must be a StreamBackend",
    }),
    pumps: z.array(
      z.custom<WatchedPump>((v) => typeof (v as WatchedPump | null)?.options?.stream === "string"),
    ),
    streams: z.array(z.string().min(1, { error: "must not be empty" })),
    partitioned: z.array(
      z.custom<WatchedPartitions>(
        (v) => typeof (v as WatchedPartitions | null)?.ownership?.leaseAges === "function",
        { error: "must be a PartitionedConsumer" },
      ),
    ),
    lag: watermark,
    lagSeconds: secondsWatermark,
    pending: watermark,
    rateWindowMs: count,
    clock: z.custom<Clock>(
      (v) => {
        try {
          return checkClock("clock", v) === v;
        } catch {
          return false;
        }
      },
      { error: "must be a Clock: now(), setTimeout() and clearTimeout()" },
    ),
    probeTimeoutMs: count,
    previewChars: count.min(16, { error: "must be at least 16" }),
  })
  .strict();

export function resolveStreamsSourceOptions(options: StreamsSourceOptions): Required<StreamsSourceOptions> {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return parseOptions(SCHEMA, { ...STREAMS_SOURCE_DEFAULTS, ...defined }) as Required<StreamsSourceOptions>;
}

export function createStreamsSource(options: StreamsSourceOptions): StreamsSource {
  return new BackendStreamsSource(resolveStreamsSourceOptions(options));
}

class BackendStreamsSource implements StreamsSource {
  readonly #o: Required<StreamsSourceOptions>;
  /** stream → the dead-letter stream its groups write (the first pump's, else `<stream>:dlq`). */
  readonly #watched = new Map<string, string>();
  /** `stream\0group` → dead-letter stream, where a pump says so. */
  readonly #groupDlq = new Map<string, string>();
  readonly deadLetters: MultiStreamDeadLetters;
  readonly #rates: RateWindow;
  /** `partition key\0group` → the member consuming it and the partition's index. */
  readonly #partitions = new Map<string, { consumer: WatchedPartitions; index: number }>();

  constructor(options: Required<StreamsSourceOptions>) {
    this.#o = options;
    this.#rates = new RateWindow(options.rateWindowMs);
    for (const { options: p } of options.pumps) {
      if (!this.#watched.has(p.stream)) this.#watched.set(p.stream, p.deadLetterStream);
      this.#groupDlq.set(`${p.stream}\0${p.group}`, p.deadLetterStream);
    }
    for (const stream of options.streams)
      if (!this.#watched.has(stream)) this.#watched.set(stream, `${stream}:dlq`);
    for (const consumer of options.partitioned) {
      const { stream, options: o } = consumer.ownership;
      stream.keys.forEach((key, index) => {
        for (const read of consumer.groupsOf?.(index) ?? [{ stream: key, group: o.group }]) {
          if (!this.#watched.has(read.stream)) this.#watched.set(read.stream, `${read.stream}:dlq`);
          this.#partitions.set(`${read.stream}\0${read.group}`, { consumer, index });
        }
      });
    }
    const dlqs = [...this.#watched.values(), ...this.#groupDlq.values()];
    this.deadLetters = new MultiStreamDeadLetters(options.backend, dlqs, options.previewChars);
  }

  async overview(): Promise<StreamGroupInfo[]> {
    const backend = this.#o.backend;
    const dlqLengths = new Map(
      await Promise.all(
        this.deadLetters.streams.map(async (dlq) => [dlq, await backend.length(dlq)] as const),
      ),
    );
    const seen = new Set<string>();
    const perStream = await Promise.all(
      [...this.#watched].map(async ([stream, streamDlq]) => {
        const groups = await backend.groups(stream);
        return Promise.all(
          groups.map(async (g): Promise<StreamGroupInfo> => {
            const key = `${stream}\0${g.name}`;
            const [oldest, lagSeconds, partition] = await Promise.all([
              g.pending > 0 ? backend.pending(stream, g.name, { count: 1 }).then((p) => p[0]) : undefined,
              this.#lagSeconds(stream, g),
              this.#partition(key),
            ]);
            seen.add(key);
            const deadLetterStream = this.#groupDlq.get(key) ?? streamDlq;
            return {
              stream,
              group: g.name,
              length: g.length,
              lag: g.lag,
              lagSeconds,
              rate: this.#rates.observe(key, this.#o.clock.now(), g.entriesRead),
              pending: g.pending,
              oldestPendingIdleMs: oldest?.idleMs ?? null,
              consumers: g.consumers,
              deadLetterStream,
              deadLetters: dlqLengths.get(deadLetterStream) ?? 0,
              // What this process's pumps hold is work under way (a durable actor's entries stay pending
              // until a checkpoint covers them, up to its mailbox): only pending beyond it is stuck.
              watermark: this.#watermark(g.lag, lagSeconds, Math.max(0, g.pending - this.#heldBy(key))),
              ...(partition && { partition }),
            };
          }),
        );
      }),
    );
    this.#rates.retain(seen);
    return perStream.flat();
  }

  /** Who owns the partition that reads group `key` (`stream\0group`), when one of this process's members may. */
  async #partition(key: string): Promise<PartitionInfo | undefined> {
    const watched = this.#partitions.get(key);
    if (!watched) return undefined;
    const { consumer, index } = watched;
    const { stream, options } = consumer.ownership;
    const lease = await this.#o.backend.leases().inspect(leaseKey(stream.keys[index]!, options.group));
    return {
      of: stream.name,
      index,
      partitions: stream.partitions,
      owner: lease.holder,
      leaseTtlMs: lease.ttlMs,
      ownedForMs: consumer.ownership.leaseAges().get(index) ?? null,
    };
  }

  /** The age of the first entry after the group's last-delivered one: its id is its write time. */
  async #lagSeconds(stream: string, g: GroupInfo): Promise<number> {
    if (g.lag === 0) return 0;
    const [first] = await this.#o.backend.range(stream, {
      start: `(${g.lastDeliveredId}`,
      end: "+",
      count: 1,
    });
    if (!first) return 0;
    return Math.max(0, this.#o.clock.now() - parseStreamId(first.id).ms) / 1000;
  }

  async pending(stream: string, group: string, page: PageRequest): Promise<Page<PendingEntryInfo>> {
    // Only the streams shown: any other key (not a stream at all, say) is no group of theirs.
    if (!this.#watched.has(stream)) throw new TroupeError("ERR_NOGROUP", `no group ${group} on ${stream}`);
    const query = { count: page.count, ...(page.cursor !== undefined && { after: page.cursor }) };
    const entries = await this.#o.backend.pending(stream, group, query);
    const last = entries.at(-1);
    return {
      entries: entries.map(({ id, consumer, idleMs, deliveries }) => ({ id, consumer, idleMs, deliveries })),
      next: entries.length === page.count && last ? last.id : null,
    };
  }

  async backendHealth(): Promise<BackendHealth> {
    const backend = this.#o.backend;
    const kind = backend.kind === "redis" ? "redis" : "memory";
    // XLEN of a watched stream: a cheap read on the command connection, like a PING but through the backend.
    const probe = [...this.#watched.keys()][0] ?? this.deadLetters.streams[0] ?? "troupe:probe";
    const started = performance.now();
    try {
      await withDeadline(backend.length(probe), this.#o.probeTimeoutMs, `${kind} backend`);
      return { kind, up: true, pingMs: Math.round((performance.now() - started) * 100) / 100, error: null };
    } catch (error) {
      return { kind, up: false, pingMs: null, error: messageOf(error) };
    }
  }

  subscribe(listener: (alert: StreamAlert) => void): () => void {
    const moves = this.#o.partitioned.flatMap((consumer) => {
      const { stream, options: o } = consumer.ownership;
      const emit = (
        partition: number,
        kind: StreamAlert["kind"],
        level: StreamAlert["level"],
        message: string,
      ) => {
        const read = consumer.groupsOf?.(partition)[0] ?? { stream: stream.keys[partition]!, group: o.group };
        listener({ kind, level, ...read, message });
      };
      const { ownership } = consumer;
      // Taken before this subscription (the scanner starts its analyzers before its control API).
      for (const partition of ownership.announced)
        emit(partition, "partitionAssigned", "info", `partition ${partition} taken by ${o.member}`);
      return [
        ownership.on("assigned", (e) =>
          emit(e.partition, "partitionAssigned", "info", `partition ${e.partition} taken by ${o.member}`),
        ),
        ownership.on("revoked", (e) =>
          emit(
            e.partition,
            "partitionRevoked",
            e.reason === "lost" ? "warning" : "info",
            `partition ${e.partition} given up by ${o.member} (${e.reason === "lost" ? "lease lost" : e.reason})`,
          ),
        ),
        ownership.on("departed", (e) =>
          listener({
            kind: "memberDeparted",
            level: "warning",
            stream: stream.name,
            group: o.group,
            message: `${e.members.join(", ")} gone (no connection left): ${o.member} takes ${e.members.length > 1 ? "their" : "its"} partitions at once`,
          }),
        ),
        ownership.on("handlerFailed", (e) =>
          emit(
            e.partition,
            "partitionHandlerFailed",
            "critical",
            `partition ${e.partition}: ${o.member} could not start or stop consuming it: ${messageOf(e.error)}`,
          ),
        ),
      ];
    });
    const offs = this.#o.pumps.flatMap((pump) => {
      const { stream, group } = pump.options;
      const emit = (kind: StreamAlert["kind"], level: StreamAlert["level"], message: string) =>
        listener({ kind, level, stream, group, message });
      return [
        pump.on("deadLettered", (e) =>
          emit(
            "deadLettered",
            "warning",
            `entry ${e.entryId} dead-lettered (${e.reason}, ${e.deliveries} deliveries)${e.error ? `: ${e.error}` : ""}`,
          ),
        ),
        pump.on("readFailed", (e) =>
          emit("readFailed", "warning", `read failed: ${e.error.message}; retry in ${e.retryInMs} ms`),
        ),
        pump.on("outputFailed", (e) =>
          emit("outputFailed", "warning", `${e.entryIds.length} entries not committed: ${e.error.message}`),
        ),
        pump.on("groupRecreated", () =>
          emit(
            "groupRecreated",
            "critical",
            "group was missing (Redis restarted without persistence?) and was recreated",
          ),
        ),
        pump.on("deletedWhilePending", (e) =>
          emit("deletedWhilePending", "warning", `entry ${e.entryId} was deleted while pending`),
        ),
        pump.on("claimed", (e) => emit("claimed", "info", `claimed ${e.count} idle entries`)),
        pump.on("paused", (e) =>
          emit("paused", e.reason === "target-failed" ? "critical" : "info", `reading paused (${e.reason})`),
        ),
        pump.on("resumed", () => emit("resumed", "info", "reading resumed")),
      ];
    });
    return () => {
      for (const off of [...moves, ...offs]) off();
    };
  }

  /** Entries the pumps of this process hold in a group (`stream\0group`). */
  #heldBy(key: string): number {
    let held = 0;
    for (const pump of this.#o.pumps)
      if (`${pump.options.stream}\0${pump.options.group}` === key) held += pump.stats?.held ?? 0;
    const partition = this.#partitions.get(key);
    if (partition) held += partition.consumer.pump(partition.index)?.stats?.held ?? 0;
    return held;
  }

  /** Unknown lag (null) does not raise the state: it says nothing about how far behind the group is. */
  #watermark(lag: number | null, lagSeconds: number | null, pending: number): WatermarkState {
    const level = (value: number | null, mark: Watermark) =>
      value === null ? 0 : value >= mark.critical ? 2 : value >= mark.high ? 1 : 0;
    const worst = Math.max(
      level(lag, this.#o.lag),
      level(lagSeconds, this.#o.lagSeconds),
      level(pending, this.#o.pending),
    );
    return worst === 2 ? "critical" : worst === 1 ? "high" : "ok";
  }
}

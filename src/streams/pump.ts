/**
 * The pump: one per (stream, group) and process. It moves entries from a consumer group to an actor
 * (through the narrow {@link PumpTarget}) and acks each entry only after the actor finished it and its
 * outputs were written (ARCHITECTURE.md invariant 1). It never holds more entries than the target has
 * credits (invariant 2: a slow actor grows the stream's lag, not this process), and every entry ends
 * acked after its effect, dead-lettered with a reason, or pending in the stream for a replay
 * (invariant 3). New, replayed and claimed entries take the same path (`PumpLedger`), so a reclaimed
 * entry is never acked unprocessed (the seed's bug A).
 *
 * Order of reading: first this consumer's own pending history (left by a crash), then new entries.
 * After a read failure or a released entry it quiesces (waits until it holds nothing), then replays its
 * own history again, so released entries go before newer ones and no held entry is read twice.
 *
 * @example
 * const backend = new RedisStreamBackend("redis://127.0.0.1:6379");
 * const pump = new Pump(backend, actorRef, { stream: "tx", group: "wallet-analyzer" });
 * pump.on("deadLettered", (e) => console.warn("dead letter", e.entryId, e.reason));
 * await pump.start();
 * // ... on shutdown:
 * await pump.stop();
 * await backend.close();
 */
import { createNanoEvents, type Unsubscribe } from "nanoevents";
import { messageOf, serializeError, TroupeError } from "../errors.ts";
import { type BackoffOptions, backoffDelay } from "../time/backoff.ts";
import { sleep } from "../time/timers.ts";
import type { AdoptResult, ClaimResult, EntryFields, GroupInfo, StreamBackend } from "./backend.ts";
import { ClaimSweep } from "./claim-sweep.ts";
import { DeadLetters } from "./dead-letters.ts";
import { HealthProbe } from "./health-probe.ts";
import { emptyStats, type LossReport, type PumpEvents, type PumpStats } from "./pump-events.ts";
import { PumpLedger } from "./pump-ledger.ts";
import {
  type PumpOptions,
  type ResolvedPumpOptions,
  resolvePumpOptions,
  retryBackoff,
} from "./pump-options.ts";
import type { PumpTarget } from "./pump-target.ts";
import { ZERO_ID } from "./stream-id.ts";
import { Wakeup } from "./wakeup.ts";

type State = "idle" | "running" | "stopping" | "stopped";

/** Margin past a predecessor's BLOCK for its read to be answered (see `#adoptPredecessors`). */
const ADOPT_GRACE_MS = 100;

export class Pump<M = unknown, R = unknown> {
  readonly options: ResolvedPumpOptions<M, R>;
  /** The dead-letter stream of this pump: list, replay, delete. */
  readonly deadLetters: DeadLetters;
  readonly #backend: StreamBackend;
  readonly #target: PumpTarget<M, R>;
  readonly #events = createNanoEvents<PumpEvents>();
  readonly #stats = emptyStats();
  readonly #ledger: PumpLedger<M, R>;
  readonly #sweep: ClaimSweep;
  readonly #probe: HealthProbe;
  /** The group as last seen (sweep or refresh) and how many entries this pump had finished then. */
  #lastSeen: { info: GroupInfo; at: number; finished: number } | null = null;
  #state: State = "idle";
  #paused = false;
  /** The target reported it failed (or was fenced): nothing is handed to it until resumed. */
  #targetFailed = false;
  /** Own-history replay: wanted after a failure or release; `cursor` is set while it runs. */
  readonly #replay = { wanted: false, notBefore: 0, streak: 0, cursor: null as string | null, count: 0 };
  #readFailures = 0;
  readonly #retry: Required<BackoffOptions>;
  readonly #wakeup: Wakeup;
  #loop: Promise<void> = Promise.resolve();
  #reading: Promise<unknown> | null = null;
  #stopping: Promise<void> | null = null;
  #unsubscribeCredit: (() => void) | null = null;
  /** A claim the sweep asked for, run by the read loop before its next read. */
  #claim: { run: (room: number) => Promise<void>; done: (error?: unknown) => void } | null = null;
  /** Ids this pump held when the running claim was sent (see the read loop). */
  #heldAtClaim: ReadonlySet<string> | null = null;

  constructor(backend: StreamBackend, target: PumpTarget<M, R>, options: PumpOptions<M, R>) {
    this.options = resolvePumpOptions(options);
    const clock = this.options.clock;
    this.#retry = retryBackoff(this.options);
    this.#wakeup = new Wakeup(clock);
    this.#backend = backend;
    this.#target = target;
    this.deadLetters = new DeadLetters(backend, this.options.deadLetterStream, {
      replayDedupTtlMs: this.options.dedupTtlMs,
    });
    this.#ledger = new PumpLedger(backend, target, this.options, {
      events: this.#events,
      stats: this.#stats,
      host: {
        delivering: () => this.#state === "running",
        released: () => this.#wantReplay(),
        targetFailed: () => this.#setPaused("target-failed"),
        changed: () => this.#wakeup.notify(),
        wantCredit: () => this.#listenForCredit(),
        progressed: () => {
          if (!this.#replay.wanted) this.#replay.streak = 0;
        },
      },
    });
    this.#sweep = new ClaimSweep(backend, this.options, {
      claimInLoop: (claim) => this.#claimInLoop(claim),
      acceptClaimed: (result) => this.#acceptClaimed(result),
      consumerRemoved: (consumer) => this.#events.emit("consumerRemoved", { consumer }),
      snapshot: (info) => this.#snapshot(info),
      sweepFailed: (error) => this.#events.emit("sweepFailed", { error: this.#fail(error) }),
    });
    this.#probe = new HealthProbe(
      () => backend.length(this.options.stream),
      { intervalMs: this.options.healthCheckMs, stallAfterMs: this.options.stallAfterMs, clock },
      {
        stalled: (since, error) => {
          this.#stats.stalledSince = since;
          this.#events.emit("backendStalled", { since, error: error === null ? null : this.#fail(error) });
        },
        recovered: (since) => {
          this.#stats.stalledSince = null;
          this.#events.emit("backendRecovered", { stalledMs: clock.now() - since });
        },
      },
    );
  }

  get consumer(): string {
    return this.options.consumer;
  }

  get stats(): PumpStats {
    return { ...this.#stats, held: this.#ledger.size };
  }

  get paused(): boolean {
    return this.#paused;
  }

  on<E extends keyof PumpEvents>(event: E, listener: PumpEvents[E]): Unsubscribe {
    return this.#events.on(event, listener);
  }

  /** Creates the group if needed, then replays this consumer's pending entries before reading new ones. */
  async start(): Promise<void> {
    if (this.#state !== "idle") throw new TroupeError("ERR_STREAM_BACKEND", `pump already ${this.#state}`);
    const { stream, group, consumer } = this.options;
    const created = await this.#backend.ensureGroup(stream, group);
    // A durable target owns the group's state alone (its restore fenced any earlier owner): what the
    // previous owner held, under whatever consumer name, is replayed first and in stream order, before any
    // new entry, or the restored state would see those entries in another order than it did the first time.
    const adopted = this.options.stateStore ? await this.#adoptPredecessors(created) : null;
    this.#state = "running";
    this.#replay.cursor = ZERO_ID;
    this.#events.emit("started", { stream, group, consumer });
    if (adopted && adopted.deletedIds.length > 0)
      this.#acceptClaimed({ entries: [], deletedIds: adopted.deletedIds, cursor: ZERO_ID });
    this.#loop = this.#run();
    this.#sweep.start();
    this.#probe.start();
  }

  /**
   * Takes over every entry pending in the group (see `adoptPending`). A predecessor that is frozen rather
   * than dead may have a blocking read parked in Redis, which Redis still serves: entries it takes then land
   * in the predecessor's name after the first adoption. Once `blockMs` has passed, any such read has been
   * answered or has timed out on the server, so a second adoption leaves nothing behind. A parked read
   * need not show in the group's consumers (Redis 7.0 registers a consumer when a read delivers to it), so
   * only a group created just now is known to have none.
   */
  async #adoptPredecessors(created: boolean): Promise<AdoptResult> {
    const { stream, group, consumer, blockMs, clock } = this.options;
    const first = await this.#backend.adoptPending(stream, group, consumer);
    if (created) return first;
    await sleep(clock, blockMs + ADOPT_GRACE_MS);
    const second = await this.#backend.adoptPending(stream, group, consumer);
    return { pending: second.pending, deletedIds: [...first.deletedIds, ...second.deletedIds] };
  }

  /**
   * Stops reading; entries already read are still delivered and acked, and the lag grows in the
   * stream. Resolves once no read is in flight (a read sent before the pause may still bring entries).
   */
  async pause(): Promise<void> {
    this.#setPaused("requested");
    await this.#reading?.catch(() => {});
  }

  /** Reading resumes, own history first when entries were released meanwhile. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#targetFailed = false;
    this.#events.emit("resumed", {});
    this.#wakeup.notify();
  }

  /**
   * An entry this process wrote to the pump's stream, handed to the target now instead of when a read brings
   * it: a local channel, as Flink's between co-located tasks, which spares the entry's trip through the
   * backend (its write batched behind others, then a read) when a consumer waits on it. Only for a durable
   * target (a `stateStore`): the entry is held as any other and covered by its checkpoint once its outputs are
   * written, and nothing is acked for it. Its stream copy is read, delivered and acked as usual, so the
   * target must take a second delivery as a no-op (dedup by the record's own numbering), and a failure is
   * reported on that copy. A pause for a request stops reads, not this; a failed target gets nothing. False
   * when not taken (stopped, failed, no room, not durable, fields that do not decode).
   */
  handOver(fields: EntryFields): boolean {
    // Stopped or stopping: the ledger refuses it (it delivers only while the pump runs).
    return !this.#targetFailed && this.#ledger.handOver(fields);
  }

  /** Runs one claim / consumer-cleanup / stats sweep now (it also runs every `sweepIntervalMs`). */
  sweep(): Promise<void> {
    return this.#sweep.run();
  }

  /** Fetches the group's lag and pending count into `stats`. */
  async refresh(): Promise<GroupInfo | null> {
    const info = await this.#backend.groupInfo(this.options.stream, this.options.group);
    this.#snapshot(info);
    return info;
  }

  /**
   * Stops reading (the read under way ends first: up to `blockMs`), gives back entries the target never
   * accepted (they stay pending), then waits up to `stopTimeoutMs` for in-flight entries to finish and be acked. What is still unfinished then stays
   * pending in the stream and is replayed by the next start of this consumer (or claimed by another).
   */
  stop(): Promise<void> {
    if (this.#state === "idle") this.#state = "stopped";
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    if (this.#state !== "running") return;
    this.#state = "stopping";
    this.#sweep.stop();
    this.#probe.stop();
    this.#stopListeningForCredit();
    this.#wakeup.notify();
    await this.#loop;
    this.#finishClaim();
    this.#ledger.releaseWaiting("ERR_PUMP_STOPPING");
    const { clock, stopTimeoutMs } = this.options;
    const deadline = clock.now() + stopTimeoutMs;
    while (this.#ledger.size > 0 && clock.now() < deadline) await this.#wakeup.wait(deadline - clock.now());
    this.#state = "stopped";
    this.#events.emit("stopped", { abandoned: this.#ledger.close() });
  }

  /**
   * Listens for the target's credits while it needs them: entries it refused, or no room to read. A target
   * shared by many pumps (a consumer's partitions on one actor) calls every listener at each credit, so a
   * pump that listened all the time cost each finished message a call per pump (16 partitions: 1.6M calls
   * for 100k entries). It stops listening from its own listener once nothing waits, and listens again only
   * from the loop, after a wake-up: a listener dropped and added back while the target is calling its
   * listeners would be called again in the same round.
   */
  #listenForCredit(): void {
    if (this.#unsubscribeCredit !== null || this.#state !== "running") return;
    this.#unsubscribeCredit = this.#target.onCredit(() => {
      this.#ledger.drain();
      this.#wakeup.notify();
      // The loop, woken, listens again by itself if it still has no room.
      if (this.#ledger.waiting === 0) this.#stopListeningForCredit();
    });
  }

  #stopListeningForCredit(): void {
    this.#unsubscribeCredit?.();
    this.#unsubscribeCredit = null;
  }

  async #run(): Promise<void> {
    const { stream, group, consumer, blockMs, clock } = this.options;
    while (this.#state === "running") {
      if (this.#paused) {
        this.#finishClaim();
        await this.#wakeup.wait();
        continue;
      }
      // Null: no lease to read under; undefined: a lease it does not hold now.
      const { readLease } = this.options;
      const lease = readLease === null ? null : readLease();
      if (!this.options.mayRead() || lease === undefined) {
        this.#finishClaim();
        await this.#wakeup.wait(blockMs);
        continue;
      }
      if (this.#replay.wanted) {
        this.#finishClaim();
        // Quiesce first: a held entry read again from history would be delivered twice at once.
        const delay = this.#replay.notBefore - clock.now();
        if (this.#ledger.size > 0 || delay > 0) {
          await this.#wakeup.wait(this.#ledger.size > 0 ? blockMs : delay);
          continue;
        }
        Object.assign(this.#replay, { wanted: false, cursor: ZERO_ID, count: 0 });
      }
      const room = this.#ledger.room();
      if (room <= 0) {
        this.#finishClaim();
        // Credits coming back notify; the timeout only guards against a target that never does.
        this.#listenForCredit();
        await this.#wakeup.wait(blockMs);
        continue;
      }
      // Room again without a credit (a commit took entries off its books): nothing to listen for.
      if (this.#ledger.waiting === 0) this.#stopListeningForCredit();
      const claim = this.#claim;
      if (claim && this.#replay.cursor === null) {
        this.#claim = null;
        // XAUTOCLAIM also returns entries this consumer holds itself; one acked while the claim was on
        // its way would come back as new and be handled twice. What was held when it left is not taken.
        this.#heldAtClaim = this.#ledger.heldIds();
        await claim.run(room).then(() => claim.done(), claim.done);
        this.#heldAtClaim = null;
        continue;
      }
      try {
        const cursor = this.#replay.cursor;
        if (cursor !== null) {
          const read = this.#backend.readPending(stream, group, consumer, { after: cursor, count: room });
          const entries = await this.#read(read);
          if (entries.length === 0) {
            this.#replay.cursor = null;
            this.#events.emit("replayed", { count: this.#replay.count });
            continue;
          }
          this.#replay.cursor = entries.at(-1)!.id;
          this.#replay.count += entries.length;
          this.#ledger.accept(entries, "replayed");
        } else {
          const entries = await this.#read(
            this.#backend.readNew(stream, group, consumer, {
              count: room,
              blockMs,
              mayRead: this.options.mayRead,
              ...(lease && { lease }),
            }),
          );
          this.#ledger.accept(entries, "new");
        }
        this.#readFailures = 0;
      } catch (error) {
        await this.#readFailed(error);
      }
    }
  }

  async #read<T>(read: Promise<T>): Promise<T> {
    this.#reading = read;
    try {
      return await read;
    } finally {
      this.#reading = null;
    }
  }

  #claimInLoop(run: (room: number) => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#state !== "running" || this.#claim) return resolve();
      this.#claim = { run, done: (error) => (error === undefined ? resolve() : reject(error)) };
      this.#wakeup.notify();
    });
  }

  /** Lets a waiting sweep go on without claiming (paused, replaying, no room, stopping). */
  #finishClaim(): void {
    const claim = this.#claim;
    this.#claim = null;
    claim?.done();
  }

  async #readFailed(error: unknown): Promise<void> {
    if (this.#state !== "running") return;
    const failure = this.#fail(error);
    // A lost reply may have delivered entries into our pending list: replay own history next.
    this.#replay.wanted = true;
    this.#replay.cursor = null;
    if (failure.code === "ERR_NOGROUP") {
      try {
        const loss = this.#lossReport();
        await this.#backend.ensureGroup(this.options.stream, this.options.group);
        this.#lastSeen = null;
        this.#stats.groupsRecreated++;
        this.#stats.entriesLost += loss.lost ?? 0;
        this.#events.emit("groupRecreated", {
          stream: this.options.stream,
          group: this.options.group,
          ...loss,
        });
        return;
      } catch (again) {
        this.#fail(again);
      }
    }
    this.#stats.readErrors++;
    const retryInMs = backoffDelay(this.#readFailures++, this.#retry);
    this.#events.emit("readFailed", { error: failure, retryInMs });
    await this.#wakeup.wait(retryInMs);
  }

  #acceptClaimed(result: ClaimResult): void {
    // Gone from the stream: Redis already dropped them from the PEL; keep a dead letter by id.
    const deleted = result.deletedIds.map((id) => ({ id, fields: null, deliveries: 0 }));
    const held = this.#heldAtClaim;
    const entries = held ? result.entries.filter((entry) => !held.has(entry.id)) : result.entries;
    const taken = this.#ledger.accept([...entries, ...deleted], "claimed");
    this.#stats.claimed += taken;
    if (taken > 0) this.#events.emit("claimed", { count: taken, deleted: deleted.length });
  }

  /** One backoff step per release episode (a crash releases many entries at once). */
  #wantReplay(): void {
    const replay = this.#replay;
    if (replay.wanted) return;
    replay.wanted = true;
    replay.notBefore = this.options.clock.now() + backoffDelay(replay.streak++, this.#retry);
  }

  #setPaused(reason: "requested" | "target-failed"): void {
    if (reason === "target-failed") this.#targetFailed = true;
    if (this.#paused) return;
    this.#paused = true;
    this.#events.emit("paused", { reason });
  }

  #snapshot(info: GroupInfo | null): void {
    this.#stats.lag = info?.lag ?? null;
    this.#stats.pending = info?.pending ?? null;
    this.#stats.snapshotAt = this.options.clock.now();
    // A missing group keeps the last sighting: it is what a loss report compares with.
    if (info) this.#lastSeen = { info, at: this.#stats.snapshotAt, finished: this.#finished() };
  }

  /** The group vanished: what it had not finished at the last sighting, less what this pump finished since. */
  #lossReport(): LossReport {
    const held = this.#ledger.size;
    const seen = this.#lastSeen;
    const lastSeenAt = seen?.at ?? null;
    const lastDeliveredId = seen?.info.lastDeliveredId ?? null;
    if (seen === null || seen.info.lag === null) return { held, lost: null, lastSeenAt, lastDeliveredId };
    const unfinished = seen.info.pending + seen.info.lag - (this.#finished() - seen.finished);
    return { held, lost: Math.max(0, unfinished - held), lastSeenAt, lastDeliveredId };
  }

  #finished(): number {
    return this.#stats.acked + this.#stats.deadLettered;
  }

  #fail(error: unknown): TroupeError {
    const failure =
      error instanceof TroupeError
        ? error
        : new TroupeError("ERR_STREAM_BACKEND", messageOf(error), { cause: error });
    this.#stats.lastError = serializeError(failure);
    return failure;
  }
}

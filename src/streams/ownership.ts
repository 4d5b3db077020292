/**
 * Partition ownership across processes: each partition of a partitioned stream (partitions.ts) is consumed
 * for a group by exactly one live member at a time, the holder of its lease (leases.ts). Every `renewMs`
 * a member heartbeats the group's membership, works out which partitions are its share (assignment.ts:
 * rendezvous hashing with bounded loads, so each owns at most ceil(P/K) and a join or a leave moves few
 * partitions besides the ones that must move), gives up the ones that are no longer its share (stops consuming, then releases the lease,
 * renewing it meanwhile for up to `handOverMs`), renews
 * the ones it keeps and acquires the ones it lacks once their previous holder released them, its lease
 * expired or its holder is gone. A member that joins, leaves (stop) or dies is thus followed by a rebalance
 * within a few rounds. A member is present while it runs (leases.ts: on Redis, a connection of its own that
 * the server drops when the process dies), which the others look for every `presenceCheckMs`: one that is
 * not is gone, dropped from the members and its leases taken at once; one still present but silent
 * (frozen, or its commands timing out) keeps its partitions until its membership and leases expire after
 * `leaseMs`. A member that joins, leaves, releases what it gave up or finds one gone announces it, and the
 * others run a round at once instead of at their next one.
 *
 * A member stops consuming a partition by its own clock before its lease can have expired in the backend
 * (a renewal not confirmed within `leaseMs - renewMs` of being sent counts as lost), so two members never consume one
 * partition at once while their clocks run at the same rate. The handler's work (a restore, a pump's start
 * or stop) runs beside the rounds, in order per partition, never inside one: a round only heartbeats and
 * moves leases, so a slow restore cannot delay the renewals of the partitions already owned (it did: a
 * member taking four partitions over missed its deadlines and dropped all eight). What a new owner does on
 * `assigned` (restore the partition's checkpoint, whose new epoch fences the previous owner's writes, and
 * take over its pending entries) is up to the handler: a durable pump does both when it starts.
 */
import { createNanoEvents, type Unsubscribe } from "nanoevents";
import { InvalidOptionError, optionNames, refuseUnknownOptions, TroupeError } from "../errors.ts";
import { type Clock, checkClock, systemClock, type TimerHandle } from "../time/clock.ts";
import { every } from "../time/timers.ts";
import { assignPartitions } from "./assignment.ts";
import type { ReadLease, StreamBackend } from "./backend.ts";
import { type LeaseStore, leaseKey, membersKey, type Presence } from "./leases.ts";
import { checkPartitions, type Partitions } from "./partitions.ts";

export interface OwnershipOptions {
  /** The consumer group whose partitions are shared out. Required. */
  group: string;
  /** This member's name, unique among the group's live members (the consumer name). Required. */
  member: string;
  /** A lease (and a membership) lasts this long after its last renewal. @defaultValue 10000 */
  leaseMs?: number;
  /** How often a member renews and rebalances; below leaseMs / 2. @defaultValue 3000 */
  renewMs?: number;
  /**
   * How often a member looks for the others' presence (leases.ts), so a dead member's partitions move
   * within about this (plus 200 ms on Redis) rather than at the next round. @defaultValue 500
   */
  presenceCheckMs?: number;
  /**
   * How long a member giving a partition up (a rebalance, a stop) keeps renewing its lease while its
   * handler's `revoked` runs, so the next owner takes it only once it is released: the hand-over stays
   * cooperative (the last checkpoint is written by the leaver, not fenced off and redone) however short the
   * lease. Past this, a stuck handler lets the lease expire. @defaultValue 30000
   */
  handOverMs?: number;
  /** Times the rounds and the local lease deadlines (tests inject one). @defaultValue systemClock */
  clock?: Clock;
  /**
   * How partitions are shared: `balanced`, about P/K each (assignment.ts), moving some on every join and
   * leave; `sticky`, every member asks for every partition and keeps what it holds, so a partition moves only
   * once it is free (released by a stop, expired, or its holder gone): a single writer with stand-bys
   * (scanner/ingest-lease.ts), which a move on a join would only interrupt. @defaultValue "balanced"
   */
  assignment?: "balanced" | "sticky";
}

export const OWNERSHIP_DEFAULTS = {
  leaseMs: 10_000,
  renewMs: 3_000,
  presenceCheckMs: 500,
  handOverMs: 30_000,
  clock: systemClock,
  assignment: "balanced",
} satisfies Required<Omit<OwnershipOptions, "group" | "member">>;

const OWNERSHIP_OPTION_NAMES = optionNames<OwnershipOptions>({
  group: true,
  member: true,
  leaseMs: true,
  renewMs: true,
  presenceCheckMs: true,
  handOverMs: true,
  clock: true,
  assignment: true,
});

export function resolveOwnershipOptions(options: OwnershipOptions): Required<OwnershipOptions> {
  refuseUnknownOptions(options, OWNERSHIP_OPTION_NAMES, "", "an ownership option");
  for (const key of ["group", "member"] as const)
    if (typeof options[key] !== "string" || options[key] === "")
      throw new InvalidOptionError(key, "must be a non-empty string");
  const resolved = { ...OWNERSHIP_DEFAULTS, ...options };
  for (const key of ["leaseMs", "renewMs", "presenceCheckMs", "handOverMs"] as const)
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1)
      throw new InvalidOptionError(key, `must be a positive integer, got ${resolved[key]}`);
  if (resolved.renewMs * 2 >= resolved.leaseMs)
    throw new InvalidOptionError(
      "renewMs",
      `must be below leaseMs / 2 (${resolved.leaseMs / 2}), got ${resolved.renewMs}: a lease must survive a missed renewal`,
    );
  checkClock("clock", resolved.clock);
  if (resolved.assignment !== "balanced" && resolved.assignment !== "sticky")
    throw new InvalidOptionError("assignment", `must be "balanced" or "sticky", got ${resolved.assignment}`);
  return resolved;
}

/**
 * How often a partition its previous owner has not released yet is tried again during the first renewal
 * period of waiting (then doubling up to renewMs).
 */
const ACQUIRE_RETRY_MS = 50;

export type RevokeReason = "rebalance" | "stop" | "lost";

/** What a member does with the partitions it owns. */
export interface PartitionHandler {
  /** This member owns `partition` (stream key `key`) from now: start consuming it. */
  assigned(partition: number, key: string, generation: number): Promise<void>;
  /** It no longer does: stop consuming it before resolving (for `lost`, at once: another may own it soon). */
  revoked(partition: number, key: string, reason: RevokeReason): Promise<void>;
}

export interface OwnershipEvents {
  assigned(event: { partition: number; generation: number }): void;
  revoked(event: { partition: number; reason: RevokeReason }): void;
  /** A round or a presence check failed (the backend away); owned partitions stay until their local deadline. */
  roundFailed(event: { error: unknown }): void;
  /**
   * The handler failed for `partition`: an `assigned` that threw is followed by `revoked` and the lease's
   * release (the next round takes the partition again); a `revoked` that threw leaves the lease to expire.
   */
  handlerFailed(event: { partition: number; error: unknown }): void;
  /** Members found gone (no presence) by a check: dropped from the members, their leases taken at once. */
  departed(event: { members: readonly string[] }): void;
  /** A round ended: the live members it saw and the partitions owned after it. */
  round(event: { members: readonly string[]; owned: readonly number[] }): void;
}

interface Owned {
  readonly generation: number;
  /** When this member must stop consuming unless a renewal sent before it is confirmed. */
  deadline: number;
  /** When it was acquired, for lease ages. */
  readonly since: number;
}

export class PartitionOwnership {
  readonly stream: Partitions;
  readonly options: Required<OwnershipOptions>;
  readonly #leases: LeaseStore;
  readonly #handler: PartitionHandler;
  readonly #events = createNanoEvents<OwnershipEvents>();
  readonly #owned = new Map<number, Owned>();
  /** Partitions being given up or lost: not acquired again until their handler's `revoked` returned. */
  readonly #leaving = new Set<number>();
  /** Per partition, the handler call under way and those queued after it (an `assigned`, its `revoked`). */
  readonly #handling = new Map<number, Promise<void>>();
  readonly #members: string;
  /** This member's presence, made before its first heartbeat: no member is seen without one. */
  #presence: Presence | null = null;
  /** The presence being made, which `start` and a round an announcement started meanwhile both wait for. */
  #presenceMaking: Promise<Presence> | null = null;
  #stopPresenceChecks: (() => void) | undefined;
  /** The members the last presence check found gone: their leases are taken (until the next check). */
  #departed: readonly string[] = [];
  #checkingPresence = false;
  /** Its first heartbeat went through and was announced. */
  #joined = false;
  /** Another member announced a change while a round was under way: one more round after it. */
  #again = false;
  #stopTimer: (() => void) | undefined;
  #round: Promise<void> | null = null;
  #stopped = false;
  #rebalances = 0;
  #lastMembers: readonly string[] = [];
  /** This member's share by the last round. */
  #share = new Set<number>();
  #retryTimer: TimerHandle | undefined;
  #retryMs = ACQUIRE_RETRY_MS;
  /** How long the partitions of the share still missing have been retried so far. */
  #retriedForMs = 0;
  /** The soonest a lease this member failed to acquire expires, unless renewed (ms from the attempt). */
  #blockedForMs = Number.POSITIVE_INFINITY;
  readonly #announced = new Set<number>();

  constructor(
    backend: StreamBackend,
    stream: Partitions,
    handler: PartitionHandler,
    options: OwnershipOptions,
  ) {
    this.options = resolveOwnershipOptions(options);
    checkPartitions("stream", stream);
    for (const method of ["assigned", "revoked"] as const)
      if (typeof handler?.[method] !== "function")
        throw new InvalidOptionError(`handler.${method}`, "must be a function");
    this.stream = stream;
    this.#leases = backend.leases();
    this.#handler = handler;
    this.#members = membersKey(stream.name, this.options.group);
  }

  on<E extends keyof OwnershipEvents>(event: E, listener: OwnershipEvents[E]): Unsubscribe {
    return this.#events.on(event, listener);
  }

  /** Partitions acquired or given up since start (a move counts on both sides). */
  get rebalances(): number {
    return this.#rebalances;
  }

  /** Live members seen by the last round, sorted. */
  get lastMembers(): readonly string[] {
    return this.#lastMembers;
  }

  /**
   * The partitions whose `assigned` was emitted and not yet followed by `revoked` (or a failed hand-back),
   * ascending: what a listener subscribing late has missed (a control API started after the first round).
   */
  get announced(): number[] {
    return [...this.#announced].sort((a, b) => a - b);
  }

  /** The partitions this member owns now, ascending. */
  get owned(): number[] {
    return [...this.#owned.keys()].sort((a, b) => a - b);
  }

  /**
   * Whether this member may consume `partition` now: it owns it and its last renewal is recent enough that
   * the lease cannot have expired (synchronous, on this member's clock: a pump's `mayRead`).
   */
  holds(partition: number): boolean {
    const owned = this.#owned.get(partition);
    return owned !== undefined && this.options.clock.now() < owned.deadline;
  }

  /**
   * The lease a read of `partition` is taken under, for the backend to check with the read itself
   * (ReadOptions.lease); undefined unless {@link holds}.
   */
  lease(partition: number): ReadLease | undefined {
    const owned = this.#owned.get(partition);
    if (owned === undefined || !this.holds(partition)) return undefined;
    const key = leaseKey(this.stream.keys[partition]!, this.options.group);
    return { key, holder: this.options.member, generation: owned.generation };
  }

  /** Age in ms of each owned partition's ownership. */
  leaseAges(): Map<number, number> {
    const now = this.options.clock.now();
    return new Map([...this.#owned].map(([partition, owned]) => [partition, now - owned.since]));
  }

  /**
   * Joins and runs a first round, then one every `renewMs`. Rejects with `ERR_MEMBER_IN_USE` when another live process is a member
   * under this name: both would hold the same leases as one holder and consume the same partitions.
   */
  async start(): Promise<void> {
    if (this.#stopTimer || this.#stopped) return;
    // Any other failure to become present leaves it to the rounds, which try again.
    await this.#present().catch((error: unknown) => {
      if (error instanceof TroupeError && error.code === "ERR_MEMBER_IN_USE") throw error;
    });
    await this.rebalance();
    const { clock, renewMs, presenceCheckMs } = this.options;
    this.#stopTimer = every(clock, renewMs, () => {
      this.#expireOverdue();
      void this.rebalance();
    });
    this.#stopPresenceChecks = every(clock, presenceCheckMs, () => void this.#checkPresence());
  }

  /**
   * This member's presence, made once: an announcement reaches it as soon as its presence is subscribed,
   * before `start` has it, and the round that starts would otherwise make a second presence, whose claim of
   * the name finds the first one live (`ERR_MEMBER_IN_USE`), so that the member sat out every round until
   * its first timed one (a spec test waited 20 s).
   */
  #present(): Promise<Presence> {
    if (this.#presence) return Promise.resolve(this.#presence);
    const { member, leaseMs } = this.options;
    this.#presenceMaking ??= this.#leases
      .present(this.#members, member, leaseMs, () => this.#changed())
      .then((presence) => {
        this.#presence = presence;
        return presence;
      })
      .finally(() => {
        this.#presenceMaking = null;
      });
    return this.#presenceMaking;
  }

  /**
   * Looks for the members that are gone (no presence): dropped from the members, announced, and a round
   * at once, which takes their leases.
   */
  async #checkPresence(): Promise<void> {
    const presence = this.#presence;
    if (!presence || this.#checkingPresence || this.#stopped) return;
    this.#checkingPresence = true;
    try {
      const { member } = this.options;
      const departed = await presence.departed(this.#lastMembers.filter((name) => name !== member));
      this.#departed = departed;
      if (departed.length === 0 || this.#stopped) return;
      await Promise.all(departed.map((name) => this.#leases.leave(this.#members, name)));
      await this.#freeLeasesOf(departed);
      this.#events.emit("departed", { members: departed });
      void presence.announce().catch(() => {});
      this.#changed();
    } catch (error) {
      this.#events.emit("roundFailed", { error });
    } finally {
      this.#checkingPresence = false;
    }
  }

  /**
   * Releases every lease the departed members hold, whoever's share it falls in: a member that did not see
   * them go itself (its round, woken by the announcement, ran before its own presence check, and they were
   * no longer among the members it checks) would otherwise wait for each lease to expire (a spec test saw an
   * analyzer stand still for the whole 10 s lease in one kill of three).
   */
  async #freeLeasesOf(departed: readonly string[]): Promise<void> {
    const { group } = this.options;
    await Promise.all(
      this.stream.keys.map(async (key) => {
        const lease = leaseKey(key, group);
        const { holder, generation } = await this.#leases.inspect(lease);
        if (holder !== null && departed.includes(holder))
          await this.#leases.release(lease, holder, generation);
      }),
    );
  }

  /** Resolves once the handler calls queued so far (starting or stopping the partitions owned) have run. */
  async settled(): Promise<void> {
    await Promise.all(this.#handling.values());
  }

  /** One round now, or the one under way. */
  rebalance(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#round ??= this.#runRound().finally(() => this.#roundEnded());
    return this.#round;
  }

  /** Another member joined, is leaving or found one gone: a round now, or right after the one under way. */
  #changed(): void {
    if (this.#stopped) return;
    if (this.#round) this.#again = true;
    else void this.rebalance();
  }

  #roundEnded(): void {
    this.#round = null;
    if (!this.#again) return;
    this.#again = false;
    void this.rebalance();
  }

  /** Gives up every partition (stops consuming, releases its lease) and leaves the group. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopTimer?.();
    this.#stopPresenceChecks?.();
    if (this.#retryTimer !== undefined) this.options.clock.clearTimeout(this.#retryTimer);
    await this.#round?.catch(() => {});
    await this.#presenceMaking?.catch(() => {});
    // Leaving first, and saying so, lets the others start acquiring at once while the partitions are being
    // given up (they retry each one until its lease is released).
    await this.#leases.leave(this.#members, this.options.member).catch(() => {});
    await this.#presence?.announce().catch(() => {});
    await Promise.all(this.owned.map((partition) => this.#revoke(partition, "stop")));
    await Promise.all(this.#handling.values());
    await this.#presence?.announce().catch(() => {});
    await this.#presence?.close();
  }

  async #runRound(): Promise<void> {
    const { member, leaseMs, clock } = this.options;
    try {
      const presence = await this.#present();
      const seen = await this.#leases.heartbeat(this.#members, member, leaseMs);
      if (this.#stopped) return;
      if (!this.#joined) {
        this.#joined = true;
        void presence.announce().catch(() => {});
      }
      const departed = this.#departed;
      const members = seen.filter((name) => !departed.includes(name));
      if (!members.includes(member)) members.push(member);
      members.sort();
      this.#lastMembers = members;
      const share =
        this.options.assignment === "sticky"
          ? new Set(this.stream.keys.map((_, partition) => partition))
          : new Set(
              assignPartitions(this.stream.partitions, members).flatMap((owner, partition) =>
                owner === member ? [partition] : [],
              ),
            );
      const givenUp = this.owned.filter((partition) => !share.has(partition));
      // Said once they are all released, so the members taking them acquire them at once rather than at
      // their next retry.
      if (givenUp.length > 0)
        void Promise.all(givenUp.map((partition) => this.#revoke(partition, "rebalance"))).then(() =>
          this.#presence?.announce().catch(() => {}),
        );
      await Promise.all(
        [...share].map(async (partition) => {
          const owned = this.#owned.get(partition);
          const sentAt = clock.now();
          if (owned) {
            const key = leaseKey(this.stream.keys[partition]!, this.options.group);
            if (await this.#leases.renew(key, member, owned.generation, leaseMs))
              owned.deadline = this.#deadline(sentAt);
            else void this.#revoke(partition, "lost");
            return;
          }
          if (!this.#leaving.has(partition)) await this.#acquire(partition, sentAt);
        }),
      );
      this.#share = share;
      this.#events.emit("round", { members, owned: this.owned });
    } catch (error) {
      this.#events.emit("roundFailed", { error });
    }
    this.#scheduleAcquireRetry();
  }

  /**
   * Part of the share is still held by its previous owner (stopping its consumer before it releases, or
   * dead): tried again every 50 ms for a renewal period, then 100, 200… up to `renewMs`, or as soon as the
   * blocking lease expires if sooner, rather than at the next round only: a hand-over's gap is the previous
   * owner's stop (plus at most 50 ms: with a first retry at 100 ms doubling, a release landing just after
   * it waited 200 ms more, and a join's gaps were 25 or 220 ms), a death's the lease's remaining time.
   */
  #scheduleAcquireRetry(): void {
    const missing = [...this.#share].some((p) => !this.#owned.has(p));
    if (!missing || this.#stopped) {
      this.#retryMs = ACQUIRE_RETRY_MS;
      this.#retriedForMs = 0;
      return;
    }
    if (this.#retryTimer !== undefined) return;
    const { clock, renewMs } = this.options;
    // A dead owner's lease is free the moment it expires: try then, not a period later.
    const delay = Math.min(this.#retryMs, this.#blockedForMs + 1);
    this.#retriedForMs += delay;
    if (this.#retriedForMs >= renewMs) this.#retryMs = Math.min(this.#retryMs * 2, renewMs);
    this.#blockedForMs = Number.POSITIVE_INFINITY;
    this.#retryTimer = clock.setTimeout(() => {
      this.#retryTimer = undefined;
      // A round under way tries them itself.
      if (this.#stopped || this.#round) return;
      this.#round = this.#acquireMissing().finally(() => this.#roundEnded());
    }, delay);
  }

  async #acquireMissing(): Promise<void> {
    try {
      const { clock } = this.options;
      const missing = [...this.#share].filter((p) => !this.#owned.has(p) && !this.#leaving.has(p));
      await Promise.all(missing.map((partition) => this.#acquire(partition, clock.now())));
      this.#events.emit("round", { members: this.#lastMembers, owned: this.owned });
    } catch (error) {
      this.#events.emit("roundFailed", { error });
    }
    this.#scheduleAcquireRetry();
  }

  /** Takes `partition`'s lease if free, or held by a member the last presence check found gone. */
  async #acquire(partition: number, sentAt: number): Promise<void> {
    const { member, leaseMs, group } = this.options;
    const key = this.stream.keys[partition]!;
    const lease = await this.#leases.acquire(leaseKey(key, group), member, leaseMs, this.#departed);
    if (!lease.held) this.#blockedForMs = Math.min(this.#blockedForMs, lease.ttlMs);
    if (!lease.held || this.#stopped) {
      if (lease.held) await this.#leases.release(leaseKey(key, group), member, lease.generation);
      return;
    }
    const owned: Owned = { generation: lease.generation, deadline: this.#deadline(sentAt), since: sentAt };
    this.#owned.set(partition, owned);
    this.#rebalances++;
    void this.#handle(partition, async () => {
      // Given up or lost while an earlier call ran: its `revoked` is queued behind this one.
      if (this.#owned.get(partition) !== owned) return;
      try {
        await this.#handler.assigned(partition, key, owned.generation);
      } catch (error) {
        this.#events.emit("handlerFailed", { partition, error });
        void this.#revoke(partition, "rebalance");
        return;
      }
      this.#announced.add(partition);
      this.#events.emit("assigned", { partition, generation: owned.generation });
    });
  }

  /** Runs `call` after the handler calls already queued for `partition`. */
  #handle(partition: number, call: () => Promise<void>): Promise<void> {
    const next = (this.#handling.get(partition) ?? Promise.resolve()).then(call);
    this.#handling.set(partition, next);
    return next.finally(() => {
      if (this.#handling.get(partition) === next) this.#handling.delete(partition);
    });
  }

  /**
   * Once per ownership, whichever of a give-up and a loss comes first: stops consuming (after the
   * partition's `assigned`, if that still runs) and then, unless the lease is already gone (`lost`),
   * releases it for the next owner.
   */
  #revoke(partition: number, reason: RevokeReason): Promise<void> {
    const owned = this.#owned.get(partition);
    if (owned === undefined) return Promise.resolve();
    this.#owned.delete(partition);
    this.#leaving.add(partition);
    this.#rebalances++;
    const key = this.stream.keys[partition]!;
    const lease = leaseKey(key, this.options.group);
    const stopRenewing = reason === "lost" ? undefined : this.#renewWhileLeaving(lease, owned.generation);
    return this.#handle(partition, async () => {
      try {
        await this.#handler.revoked(partition, key, reason);
        stopRenewing?.();
        if (reason !== "lost") await this.#leases.release(lease, this.options.member, owned.generation);
        this.#announced.delete(partition);
        this.#events.emit("revoked", { partition, reason });
      } catch (error) {
        this.#announced.delete(partition);
        this.#events.emit("handlerFailed", { partition, error });
      } finally {
        stopRenewing?.();
        this.#leaving.delete(partition);
      }
    });
  }

  /**
   * Renews a lease being given up every `renewMs` until the returned function is called, the renewal is
   * refused (the lease is gone) or `handOverMs` passed. The rounds no longer renew it (it left `#owned`),
   * and without this a hand-over slower than the lease let the next owner restore before the leaver's last
   * checkpoint, which fencing then refused (a spec test, leases of 1 s).
   */
  #renewWhileLeaving(lease: string, generation: number): () => void {
    const { clock, renewMs, leaseMs, handOverMs, member } = this.options;
    const until = clock.now() + handOverMs;
    let renewing = false;
    const stop = every(clock, renewMs, () => {
      if (clock.now() >= until) return stop();
      if (renewing) return;
      renewing = true;
      this.#leases
        .renew(lease, member, generation, leaseMs)
        .then(
          (held) => {
            if (!held) stop();
          },
          (error) => this.#events.emit("roundFailed", { error }),
        )
        .finally(() => {
          renewing = false;
        });
    });
    return stop;
  }

  /**
   * When a lease renewed (or acquired) at `sentAt` must be given up locally: a round early, since overdue
   * leases are only noticed once a round.
   */
  #deadline(sentAt: number): number {
    return sentAt + this.options.leaseMs - this.options.renewMs;
  }

  /** Partitions whose renewal was not confirmed in time (a slow or absent backend) stop now. */
  #expireOverdue(): void {
    const now = this.options.clock.now();
    for (const [partition, owned] of this.#owned)
      if (now >= owned.deadline) void this.#revoke(partition, "lost");
  }
}

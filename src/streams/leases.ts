/**
 * Leases and membership for partition ownership (ownership.ts), on the stream backend. A lease is held by
 * one holder at a time until it expires (`ttlMs` after its last acquire or renew, on the backend's clock:
 * Redis key expiry, so no two processes' clocks are compared); each new holder gets a higher generation,
 * so a renew or release by an earlier holder is refused. Membership is a set of members, each alive until
 * `ttlMs` after its last heartbeat.
 *
 * Keys sit in the slot of what they guard: a partition's lease next to the partition (`<partition's slot
 * prefix>:lease:<group>`, its generation counter at `…:gen`), a group's members next to the logical stream.
 *
 * A member is also present while its process lives ({@link Presence}: on Redis, a named connection of its
 * own, which the server drops when the process dies), so the others can tell a member that is gone from
 * one that is only slow: a gone member's leases are taken at once (its writes are fenced like a zombie's),
 * where a slow or frozen member's are left to expire, as ZooKeeper's ephemeral nodes end with their
 * session, not with a timer.
 */
import { TroupeError } from "../errors.ts";
import { slotPrefix } from "./key-slot.ts";

export interface LeaseView {
  /** True when the caller holds it now (acquired or already held). */
  readonly held: boolean;
  /** Who holds it now; `null` when nobody does. */
  readonly holder: string | null;
  /** The holder's generation: higher for every new holder. 0 when nobody holds it. */
  readonly generation: number;
  /** Time left before it expires, in ms; 0 when nobody holds it. */
  readonly ttlMs: number;
}

export interface LeaseStore {
  /**
   * Takes the lease for `holder`, under a new generation, if nobody holds it, or a holder named in
   * `departed` (gone: see {@link Presence.departed}), or `holder` itself. A holder takes what its own
   * name holds when it lost track of it (a lapse) or when it is another process under that name (a restart
   * under the same consumer name); either way, what was renewed or read under the old generation is
   * refused from now, as a zombie's is. Kept at its generation, a restarted process's lease let a process
   * under its name that was only cut off, not dead, go on reading under it (a spec test).
   */
  acquire(key: string, holder: string, ttlMs: number, departed?: readonly string[]): Promise<LeaseView>;
  /** Extends the lease if `holder` still holds it at `generation`; false when it was lost. */
  renew(key: string, holder: string, generation: number, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `holder` holds it at `generation`. */
  release(key: string, holder: string, generation: number): Promise<void>;
  inspect(key: string): Promise<LeaseView>;
  /** `member` is alive for `ttlMs` more; returns every live member, sorted by name. */
  heartbeat(key: string, member: string, ttlMs: number): Promise<string[]>;
  /** `member` leaves now. */
  leave(key: string, member: string): Promise<void>;
  /**
   * Makes `member` of the members at `key` present until the presence is closed or its process ends, and
   * a member for `ttlMs` (as a heartbeat does). Refused (`ERR_MEMBER_IN_USE`) while another process is
   * present under that name with its membership not expired: the two would hold the same leases as one;
   * `changed` is called when another member announces a change of the members ({@link Presence.announce}),
   * from the connection's event: it must not throw (a throw there is the process's uncaught exception).
   */
  present(key: string, member: string, ttlMs: number, changed: () => void): Promise<Presence>;
}

/** A member's presence, and its view of the others'. */
export interface Presence {
  /**
   * Of `members` (of the same members key), those not present now: their process ended or lost its
   * connection. Empty when presence cannot be told (the backend refuses to list connections, or this
   * member's own presence is not seen): nobody is then taken for gone.
   */
  departed(members: readonly string[]): Promise<string[]>;
  /**
   * Tells the other members present that the members or the leases changed (this one joined, is leaving,
   * released what it gave up, or found one gone), so they rebalance now rather than at their next round or
   * acquire retry. Best effort: a member that misses it learns the change at its next round.
   */
  announce(): Promise<void>;
  close(): Promise<void>;
}

/** The channel a members key's changes are announced on. */
export function membersChannel(membersKey: string): string {
  return `troupe:members-changed:${membersKey}`;
}

/** The lease of `partitionKey`'s partition for `group`. */
export function leaseKey(partitionKey: string, group: string): string {
  return `${slotPrefix(partitionKey)}:lease:${group}`;
}

/** The generation counter of a lease: kept past its expiry, so generations only grow. */
export function leaseGenerationKey(lease: string): string {
  return `${lease}:gen`;
}

/** The members of `group` on the logical stream `name`. */
export function membersKey(name: string, group: string): string {
  return `${slotPrefix(name)}:members:${group}`;
}

/**
 * Where each member of a members key records which connections are its presence (on Redis: the server's
 * run id and client id of each), so the others look up those connections alone. Same slot as the members.
 */
export function presenceRecordsKey(membersKey: string): string {
  return `${membersKey}:presence`;
}

/** How a member's presence is named (on Redis: its connection's name, which allows no spaces). */
export function presenceName(membersKey: string, member: string): string {
  return `troupe:presence:${encodeURIComponent(membersKey)}:${encodeURIComponent(member)}`;
}

/** The refusal of a name another live member is present under ({@link LeaseStore.present}). */
export function memberInUse(membersKey: string, member: string): TroupeError {
  return new TroupeError(
    "ERR_MEMBER_IN_USE",
    `member "${member}" of ${membersKey} is in use: another live process is present under that name (each needs its own)`,
  );
}

export const NO_LEASE: LeaseView = { held: false, holder: null, generation: 0, ttlMs: 0 };

/**
 * Leases and membership for the memory backend (leases.ts), on the backend's clock. A member is present
 * from `present` until its presence is closed or the backend is (the process's end, for its members).
 */
import type { Clock } from "../time/clock.ts";
import {
  type LeaseStore,
  type LeaseView,
  leaseGenerationKey,
  memberInUse,
  NO_LEASE,
  type Presence,
} from "./leases.ts";

interface Lease {
  holder: string;
  generation: number;
  expiresAt: number;
}

/** A member's presence: its name and how it hears of changes. */
interface Listener {
  readonly member: string;
  readonly changed: () => void;
}

export class MemoryLeaseStore implements LeaseStore {
  readonly #clock: Clock;
  readonly #leases = new Map<string, Lease>();
  readonly #generations = new Map<string, number>();
  readonly #members = new Map<string, Map<string, number>>();
  /** Per members key, the presences open: each one's member and its `changed` callback. */
  readonly #listeners = new Map<string, Set<Listener>>();
  /** Per members key, the presence each member's name was last claimed by (Redis: its presence record). */
  readonly #claims = new Map<string, Map<string, Listener>>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  async acquire(
    key: string,
    holder: string,
    ttlMs: number,
    departed?: readonly string[],
  ): Promise<LeaseView> {
    const now = this.#clock.now();
    let lease = this.#live(key, now);
    if (!lease || lease.holder === holder || departed?.includes(lease.holder)) {
      const counter = leaseGenerationKey(key);
      const generation = (this.#generations.get(counter) ?? 0) + 1;
      this.#generations.set(counter, generation);
      lease = { holder, generation, expiresAt: now + ttlMs };
      this.#leases.set(key, lease);
    }
    return view(lease, holder, now);
  }

  async renew(key: string, holder: string, generation: number, ttlMs: number): Promise<boolean> {
    const now = this.#clock.now();
    const lease = this.#live(key, now);
    if (lease?.holder !== holder || lease.generation !== generation) return false;
    lease.expiresAt = now + ttlMs;
    return true;
  }

  async release(key: string, holder: string, generation: number): Promise<void> {
    const lease = this.#live(key, this.#clock.now());
    if (lease?.holder === holder && lease.generation === generation) this.#leases.delete(key);
  }

  /** Whether `holder` holds the lease at `generation` now: a read under it may go (memory-backend.ts). */
  holds(key: string, holder: string, generation: number): boolean {
    const lease = this.#live(key, this.#clock.now());
    return lease?.holder === holder && lease.generation === generation;
  }

  async inspect(key: string): Promise<LeaseView> {
    const now = this.#clock.now();
    const lease = this.#live(key, now);
    return lease ? view(lease, null, now) : NO_LEASE;
  }

  async heartbeat(key: string, member: string, ttlMs: number): Promise<string[]> {
    const now = this.#clock.now();
    let members = this.#members.get(key);
    if (!members) {
      members = new Map();
      this.#members.set(key, members);
    }
    members.set(member, now + ttlMs);
    for (const [name, expiresAt] of members) if (expiresAt <= now) members.delete(name);
    return [...members.keys()].sort();
  }

  async leave(key: string, member: string): Promise<void> {
    this.#members.get(key)?.delete(member);
  }

  async present(key: string, member: string, ttlMs: number, changed: () => void): Promise<Presence> {
    let listeners = this.#listeners.get(key);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(key, listeners);
    }
    let claims = this.#claims.get(key);
    if (!claims) {
      claims = new Map();
      this.#claims.set(key, claims);
    }
    const expiresAt = this.#members.get(key)?.get(member);
    const claimer = claims.get(member);
    if (expiresAt !== undefined && expiresAt > this.#clock.now() && claimer && listeners.has(claimer))
      throw memberInUse(key, member);
    await this.heartbeat(key, member, ttlMs);
    const listener = { member, changed };
    listeners.add(listener);
    claims.set(member, listener);
    return {
      departed: async (members) => {
        const present = new Set([...(this.#listeners.get(key) ?? [])].map((other) => other.member));
        if (!present.has(member)) return [];
        return members.filter((name) => !present.has(name));
      },
      announce: async () => {
        // Delivered as a message is: after the announcing call returns.
        for (const other of this.#listeners.get(key) ?? [])
          if (other.member !== member) queueMicrotask(other.changed);
      },
      close: async () => {
        listeners.delete(listener);
      },
    };
  }

  /** The backend closed: its members are gone. */
  clearPresence(): void {
    this.#listeners.clear();
  }

  #live(key: string, now: number): Lease | null {
    const lease = this.#leases.get(key);
    if (!lease) return null;
    if (lease.expiresAt > now) return lease;
    this.#leases.delete(key);
    return null;
  }
}

function view(lease: Lease, caller: string | null, now: number): LeaseView {
  return {
    held: lease.holder === caller,
    holder: lease.holder,
    generation: lease.generation,
    ttlMs: lease.expiresAt - now,
  };
}

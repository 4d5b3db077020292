/**
 * The embedded backend with leases a test can break as Redis and other processes would: another member
 * ("intruder") takes one over from member "a", as a process that froze meanwhile finds it; or the rounds'
 * calls (heartbeats, renewals, acquisitions) wait while `stalled` is set, as when Redis stops answering.
 */
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { MemoryLeaseStore } from "../../src/streams/memory-leases.ts";
import { systemClock } from "../../src/time/clock.ts";

/** The lease calls of a round. */
export type RoundCall = "acquire" | "renew" | "heartbeat";
const ROUND_CALLS: readonly RoundCall[] = ["acquire", "renew", "heartbeat"];

export class StallingLeases extends MemoryLeaseStore {
  stalled: Promise<void> | null = null;
  /** The calls that wait while `stalled` is set. */
  calls: readonly RoundCall[] = ROUND_CALLS;

  override async acquire(...args: Parameters<MemoryLeaseStore["acquire"]>) {
    if (this.calls.includes("acquire")) await this.stalled;
    return super.acquire(...args);
  }

  override async renew(...args: Parameters<MemoryLeaseStore["renew"]>) {
    if (this.calls.includes("renew")) await this.stalled;
    return super.renew(...args);
  }

  override async heartbeat(...args: Parameters<MemoryLeaseStore["heartbeat"]>) {
    if (this.calls.includes("heartbeat")) await this.stalled;
    return super.heartbeat(...args);
  }
}

export class LeaseBackend extends MemoryStreamBackend {
  readonly store = new StallingLeases(systemClock);

  override leases(): MemoryLeaseStore {
    return this.store;
  }

  /** Another member holds `key` from now, as if member "a" were gone; returns its release. */
  async takeOver(key: string): Promise<() => Promise<void>> {
    const lease = await this.store.acquire(key, "intruder", 60_000, ["a"]);
    return () => this.store.release(key, "intruder", lease.generation);
  }

  /** The lease rounds' `calls` wait from now until the returned function is called. */
  stall(calls: readonly RoundCall[] = ROUND_CALLS): () => void {
    const resumed = Promise.withResolvers<void>();
    this.store.calls = calls;
    this.store.stalled = resumed.promise;
    return () => {
      this.store.stalled = null;
      resumed.resolve();
    };
  }
}

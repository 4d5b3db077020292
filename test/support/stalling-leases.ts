/**
 * The embedded backend with leases a test can break as Redis and other processes would: another member
 * ("intruder") takes one over from member "a", as a process that froze meanwhile finds it; or every round
 * (heartbeats, renewals, acquisitions) waits while `stalled` is set, as when Redis stops answering.
 */
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { MemoryLeaseStore } from "../../src/streams/memory-leases.ts";
import { systemClock } from "../../src/time/clock.ts";

export class StallingLeases extends MemoryLeaseStore {
  stalled: Promise<void> | null = null;

  override async acquire(...args: Parameters<MemoryLeaseStore["acquire"]>) {
    await this.stalled;
    return super.acquire(...args);
  }

  override async renew(...args: Parameters<MemoryLeaseStore["renew"]>) {
    await this.stalled;
    return super.renew(...args);
  }

  override async heartbeat(...args: Parameters<MemoryLeaseStore["heartbeat"]>) {
    await this.stalled;
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

  /** Every lease round waits from now until the returned function is called. */
  stall(): () => void {
    const resumed = Promise.withResolvers<void>();
    this.store.stalled = resumed.promise;
    return () => {
      this.store.stalled = null;
      resumed.resolve();
    };
  }
}

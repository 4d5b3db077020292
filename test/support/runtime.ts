/** Helpers for runtime tests: shared-memory logs that survive worker restarts, and event latches. */
import { afterEach } from "bun:test";
import { type ActorEventName, type ActorEvents, type ActorSystem, createSystem } from "../../src/index.ts";

export const SCRIPTED = new URL("../fixtures/scripted.actor.ts", import.meta.url);
export const COUNTER = new URL("../fixtures/counter.actor.ts", import.meta.url);
export const ECHO = new URL("../fixtures/echo.actor.ts", import.meta.url);

/**
 * Call at a test file's top level: a factory of systems that restart fast (backoff 10-50 ms, up to 20
 * restarts), each stopped after its test.
 */
export function fastRestartingSystems(): () => ActorSystem {
  let systems: ActorSystem[] = [];
  afterEach(async () => {
    await Promise.all(systems.map((s) => s.stop({ deadlineMs: 1000 })));
    systems = [];
  });
  return () => {
    const created = createSystem({ supervisor: { backoff: { minMs: 10, maxMs: 50 }, maxRestarts: 20 } });
    systems.push(created);
    return created;
  };
}

/** A log the fixture actor appends handled ids to: slot 0 is the count. */
export function sharedLog(capacity: number): { buffer: SharedArrayBuffer; ids(): number[] } {
  const buffer = new SharedArrayBuffer(4 * (capacity + 1));
  const view = new Int32Array(buffer);
  return { buffer, ids: () => Array.from(view.subarray(1, 1 + Atomics.load(view, 0))) };
}

/** Counters of faults still to fire (one per `trip` index): a fault fires only while its counter is positive. */
export function trips(...counts: number[]): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(4 * counts.length);
  new Int32Array(buffer).set(counts);
  return buffer;
}

/** A handler-entry counter the fixture bumps; `first()` resolves once a handler has started. */
export function entered(): { buffer: SharedArrayBuffer; first(): Promise<unknown> } {
  const buffer = new SharedArrayBuffer(4);
  const view = new Int32Array(buffer);
  return { buffer, first: () => Atomics.waitAsync(view, 0, 0).value as Promise<unknown> };
}

type Payload<E extends ActorEventName> = Parameters<ActorEvents[E]>[0];

/** Collects events of one kind; `next(n)` resolves once n of them have been seen in total. */
export function collect<E extends ActorEventName>(system: ActorSystem, event: E) {
  const seen: Payload<E>[] = [];
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  system.events.on(event, ((payload: Payload<E>) => {
    seen.push(payload);
    waiters = waiters.filter((w) => {
      if (seen.length < w.n) return true;
      w.resolve();
      return false;
    });
  }) as ActorEvents[E]);
  return {
    seen,
    atLeast(n: number): Promise<void> {
      if (seen.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/**
 * The error a promise rejects with. Use instead of `expect(p).rejects`: in bun 1.4.5 that matcher waits in
 * a way that stops worker messages from being delivered, so a rejection that needs a worker reply never comes.
 */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject, it resolved");
}

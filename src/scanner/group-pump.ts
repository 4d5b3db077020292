/**
 * A consumer group's pump as the control API watches it, whichever pump serves the group now: with the
 * analyzers placed by lease (analyzers.ts), a group's pump comes and goes with its analyzer, while the
 * streams source subscribes once, when the API starts.
 */
import type { WatchedPump } from "../http/streams/backend-source.ts";
import type { PumpEvents } from "../streams/pump-events.ts";

interface Subscription {
  readonly event: keyof PumpEvents;
  readonly listener: PumpEvents[keyof PumpEvents];
  off: (() => void) | null;
}

export class GroupPump implements WatchedPump {
  readonly options: { readonly stream: string; readonly group: string; readonly deadLetterStream: string };
  #pump: WatchedPump | null = null;
  readonly #subscriptions = new Set<Subscription>();

  constructor(stream: string, group: string, deadLetterStream: string) {
    this.options = { stream, group, deadLetterStream };
  }

  /** What the serving pump holds (none while no pump serves the group here). */
  get stats(): { readonly held: number } {
    return { held: this.#pump?.stats?.held ?? 0 };
  }

  on<E extends keyof PumpEvents>(event: E, listener: PumpEvents[E]): () => void {
    const subscription: Subscription = { event, listener, off: this.#listen(this.#pump, event, listener) };
    this.#subscriptions.add(subscription);
    return () => {
      subscription.off?.();
      this.#subscriptions.delete(subscription);
    };
  }

  /** `pump` serves the group from now on (`null`: none here); the listeners follow it. */
  serve(pump: WatchedPump | null): void {
    for (const s of this.#subscriptions) {
      s.off?.();
      s.off = this.#listen(pump, s.event, s.listener);
    }
    this.#pump = pump;
  }

  #listen<E extends keyof PumpEvents>(
    pump: WatchedPump | null,
    event: E,
    listener: PumpEvents[E],
  ): (() => void) | null {
    return pump === null ? null : pump.on(event, listener);
  }
}

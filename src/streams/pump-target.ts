import type { TroupeError } from "../errors.ts";
/** What a pump needs from an actor. Implemented by the runtime's ActorRef. */
export interface PumpTarget<M = unknown, R = unknown> {
  readonly name: string;
  /** Free credits across all instances now: the most entries the pump may hold undelivered+in flight. */
  freeCredits(): number;
  /** Hands a message to the instance its key routes to. Returns false (and does nothing) when that
   *  instance has no credit. `done` is called exactly once: `(null, result)` after the handler finished
   *  (result = the handler's return value, e.g. alerts to write), or `(error)` when the runtime gave up on
   *  it: error.code "ERR_MAX_DELIVERIES" (the handler kept failing: dead-letter it, then ack),
   *  "ERR_MESSAGE_REJECTED" (the handler rejected it for good: dead-letter it as "rejected", then ack), or
   *  "ERR_ACTOR_FAILED" / "ERR_ACTOR_STOPPED" / "ERR_SYSTEM_STOPPED" (do NOT ack: leave it pending in the
   *  stream for a later replay). `deliveries` = deliveries already made elsewhere (from the stream's count).
   *  A durable instance (one that checkpoints its state) passes its `epoch` with the result: the pump
   *  then writes the outputs but leaves the ack to the checkpoint that covers `tag` (stream-state-store.ts). */
  deliver(
    message: M,
    done: (error: TroupeError | null, result?: R, epoch?: number) => void,
    deliveries?: number,
    tag?: unknown,
  ): boolean;
  /** Called whenever credits come back. Returns an unsubscribe function. */
  onCredit(listener: () => void): () => void;
}

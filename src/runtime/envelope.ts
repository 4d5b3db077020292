import type { TroupeError } from "../errors.ts";

/**
 * Called exactly once per envelope: with the handler's result, or with the error the runtime gave up with.
 * For an actor with durable state, `epoch` is the incarnation that handled it (a pump fences its outputs
 * with it).
 */
export type ReplyFn = (error: TroupeError | null, result?: unknown, epoch?: number) => void;

/** A message while the runtime owns it: from acceptance (it holds a credit) until handled or dead-lettered. */
export interface Envelope {
  /** Assigned when put in a frame; strictly increasing per mailbox, so acks can be cumulative. */
  seq: number;
  message: unknown;
  /** Deliveries made so far (including those made elsewhere, e.g. by an earlier process via a stream). */
  deliveries: number;
  /**
   * Deliveries that failed because of this message: its handler threw, or its worker died while handling
   * it. Redeliveries after another message's crash do not count, so bystanders are never dead-lettered.
   */
  failures: number;
  reply: ReplyFn | null;
  /** What a checkpoint covering this message settles (e.g. a pump's stream entry); opaque to the runtime. */
  tag: unknown;
  /** Hash of its order key (concurrency > 1): same key, handled in order. 0: unordered. */
  key: number;
  /**
   * Finished out of order (concurrency > 1) while still in flight behind an older message: "ok" (replied
   * to already) or "failed" (a placeholder; the message itself was requeued or dead-lettered). It keeps
   * its place until the cumulative ack covers it, but holds no credit. null: not finished.
   */
  finished: "ok" | "failed" | null;
}

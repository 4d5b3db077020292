/**
 * "Write outputs, then ack" for backends without pipelines (the memory backend): every output of an
 * item is written idempotently first; only items whose outputs all succeeded are acked, in one ack (items
 * with `ack: false` are only written).
 * The Redis backend does the same in two pipelined round trips (`redis-backend.ts`).
 */
import { messageOf, TroupeError } from "../errors.ts";
import type { CommitItem, CommitOutcome, StreamBackend } from "./backend.ts";

export async function commitSequentially(
  backend: StreamBackend,
  stream: string,
  group: string,
  items: readonly CommitItem[],
): Promise<CommitOutcome[]> {
  // Per item: outputs written, or the error that stopped them (then it is not acked).
  const results: (number | TroupeError)[] = new Array(items.length);
  const ackable: string[] = [];
  // Per stream, the ordered write that did not land: the later ones of this commit wait for its retry. One
  // refused as out of order is a hole already (later entries exist), as APPEND_AT_LUA has it.
  const refusedAt = new Map<string, string>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    let count = 0;
    try {
      for (const output of item.outputs) {
        const { stream: to, dedupId, fields, ttlMs, fence, at } = output;
        const refused = at === undefined ? undefined : refusedAt.get(to);
        if (at !== undefined && refused !== undefined) throw notAfterError(to, at, refused);
        const result =
          at === undefined
            ? await backend.appendUnique(to, dedupId, fields, ttlMs, fence)
            : await backend.appendAt(to, at, fields, fence).catch((error: unknown) => {
                if (!isOutOfOrder(error)) refusedAt.set(to, at);
                throw error;
              });
        if (!result.duplicate) count++;
      }
      if (item.ack !== false) ackable.push(item.id);
      results[i] = count;
    } catch (error) {
      results[i] = asOutputError(error, item.id);
    }
  }
  let ackError: TroupeError | undefined;
  if (ackable.length > 0) {
    try {
      await backend.ack(stream, group, ackable);
    } catch (error) {
      ackError = new TroupeError("ERR_STREAM_BACKEND", `ack failed: ${messageOf(error)}`, { cause: error });
    }
  }
  return items.map((item, i): CommitOutcome => {
    const result = results[i]!;
    if (typeof result !== "number") return { id: item.id, acked: false, written: 0, error: result };
    if (ackError && item.ack !== false)
      return { id: item.id, acked: false, written: result, error: ackError };
    return { id: item.id, acked: true, written: result };
  });
}

const OUT_OF_ORDER = "out of order: ";

/** An `appendAt` refused: `id` falls inside `stream` but is absent, so a later entry was written before it. */
export function outOfOrderError(stream: string, id: string): TroupeError {
  return new TroupeError(
    "ERR_OUTPUT_WRITE",
    `${OUT_OF_ORDER}${stream} holds entries on both sides of ${id}, which was never written (a later write came first)`,
  );
}

export function isOutOfOrder(error: unknown): boolean {
  return (
    error instanceof TroupeError &&
    error.code === "ERR_OUTPUT_WRITE" &&
    error.message.startsWith(OUT_OF_ORDER)
  );
}

/**
 * An `appendAt` not tried: the write before it to `stream` in the same commit (`previous`) did not land, and
 * writing this one would leave that id behind the stream's last for good.
 */
export function notAfterError(stream: string, id: string, previous: string): TroupeError {
  return new TroupeError(
    "ERR_OUTPUT_WRITE",
    `not written: ${stream}'s write before ${id} in the same commit (${previous}) did not land`,
  );
}

/** A refused write as `ERR_OUTPUT_WRITE` (or `ERR_FENCED`), tagged with the source entry when there is one. */
export function asOutputError(error: unknown, entryId?: string): TroupeError {
  if (error instanceof TroupeError && (error.code === "ERR_OUTPUT_WRITE" || error.code === "ERR_FENCED"))
    return error;
  const options = entryId === undefined ? { cause: error } : { cause: error, entryId };
  return new TroupeError("ERR_OUTPUT_WRITE", `output write failed: ${messageOf(error)}`, options);
}

/**
 * "Write outputs, then ack" for backends without pipelines (the memory backend): every output of an
 * item is written idempotently first; only items whose outputs all succeeded are acked, in one ack.
 * The Redis backend does the same in two pipelined round trips (`redis-backend.ts`).
 */
import { TroupeError } from "../errors.ts";
import type { CommitItem, CommitOutcome, StreamBackend } from "./backend.ts";

export async function commitSequentially(
  backend: StreamBackend,
  stream: string,
  group: string,
  items: readonly CommitItem[],
): Promise<CommitOutcome[]> {
  const written = new Map<string, number>();
  const failed = new Map<string, TroupeError>();
  for (const item of items) {
    let count = 0;
    try {
      for (const output of item.outputs) {
        const result = await backend.appendUnique(output.stream, output.dedupId, output.fields, output.ttlMs);
        if (!result.duplicate) count++;
      }
    } catch (error) {
      failed.set(item.id, asOutputError(error, item.id));
    }
    written.set(item.id, count);
  }
  const ackable = items.filter((item) => !failed.has(item.id)).map((item) => item.id);
  let ackError: TroupeError | undefined;
  if (ackable.length > 0) {
    try {
      await backend.ack(stream, group, ackable);
    } catch (error) {
      ackError = new TroupeError("ERR_STREAM_BACKEND", `ack failed: ${messageOf(error)}`, { cause: error });
    }
  }
  return items.map((item): CommitOutcome => {
    const error = failed.get(item.id) ?? ackError;
    return {
      id: item.id,
      acked: error === undefined,
      written: written.get(item.id) ?? 0,
      ...(error && { error }),
    };
  });
}

/** A refused write as `ERR_OUTPUT_WRITE`, tagged with the source entry when there is one. */
export function asOutputError(error: unknown, entryId?: string): TroupeError {
  if (error instanceof TroupeError && error.code === "ERR_OUTPUT_WRITE") return error;
  const options = entryId === undefined ? { cause: error } : { cause: error, entryId };
  return new TroupeError("ERR_OUTPUT_WRITE", `output write failed: ${messageOf(error)}`, options);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Durable-state helpers for tests: checkpoints from flat changes, restores read back as tables. */
import { SegmentReplay } from "../../src/runtime/state-replay.ts";
import { segmentOf } from "../../src/runtime/state-segment.ts";

/** A checkpoint's segments from flat `[table, key, value | null, ...]` (none when there is no change). */
export function seg(changes: readonly (string | Uint8Array | null)[]): Uint8Array[] {
  const segment = segmentOf(changes);
  return segment ? [segment] : [];
}

/** A restore's chunks replayed: the live keys per table, in order. */
export async function replayed(chunks: AsyncIterable<Uint8Array>): Promise<SegmentReplay> {
  const replay = new SegmentReplay();
  for await (const chunk of chunks) replay.feed(chunk);
  return replay;
}

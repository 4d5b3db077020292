import { describe, expect, test } from "bun:test";
import { compactionThread } from "../../src/runtime/compaction-thread.ts";
import { SegmentCompaction } from "../../src/runtime/state-compaction.ts";
import { segmentOf } from "../../src/runtime/state-segment.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

/** Segments of changes to one table: sets, overwrites and deletions over 200 keys. */
function changelog(rounds: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let round = 0; round < rounds; round++) {
    const changes: (string | Uint8Array | null)[] = [];
    for (let i = 0; i < 50; i++) {
      const key = `k${(round * 31 + i * 7) % 200}`;
      changes.push("t", key, (round + i) % 6 === 0 ? null : bytes(`${round}.${i}`));
    }
    out.push(segmentOf(changes) as Uint8Array);
  }
  return out;
}

async function all(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return out;
}

describe("the compaction thread", () => {
  test("folds a changelog into the same chunks as an in-process compaction, several at once", async () => {
    const logs = [changelog(40), changelog(25), changelog(60)];
    const expected = logs.map((log) => {
      const local = new SegmentCompaction();
      for (const segment of log) local.feed(segment);
      return [...local.chunks(512)];
    });
    const remote = logs.map((log) => {
      const compaction = compactionThread.begin();
      for (const segment of log) compaction.feed(segment);
      return all(compaction.chunks(512));
    });
    const got = await Promise.all(remote);
    expect(got).toEqual(expected);
    // What it was fed is copied: the caller's buffers stay usable.
    expect(logs[0]?.[0]?.byteLength).toBeGreaterThan(0);
  });

  test("a corrupt segment fails its compaction with ERR_STATE_COMPACTION; others and later ones go on", async () => {
    const bad = compactionThread.begin();
    const good = compactionThread.begin();
    bad.feed(new Uint8Array([9, 9, 9]));
    for (const segment of changelog(5)) good.feed(segment);
    await expect(all(bad.chunks())).rejects.toMatchObject({ code: "ERR_STATE_COMPACTION" });
    expect((await all(good.chunks())).length).toBeGreaterThan(0);
    // A compaction left half-read is dropped on the thread; the next one is unaffected.
    const left = compactionThread.begin();
    for (const segment of changelog(30)) left.feed(segment);
    for await (const _ of left.chunks(64)) break;
    const after = compactionThread.begin();
    for (const segment of changelog(3)) after.feed(segment);
    expect((await all(after.chunks())).length).toBe(1);
  });

  test("runs a whole job module on the thread; a failing job, or one whose arguments cannot be sent, fails alone", async () => {
    const job = new URL("../fixtures/compaction-job.ts", import.meta.url);
    const failure = (args: object) =>
      compactionThread.run(job, args).then(
        () => null,
        (error: unknown) => error,
      );
    expect(await Promise.all([1, 2, 3].map((n) => compactionThread.run<number>(job, { n })))).toEqual([
      2, 4, 6,
    ]);
    expect(await failure({ n: 4, fail: true })).toMatchObject({
      code: "ERR_STATE_COMPACTION",
      message: expect.stringContaining("job for 4 failed"),
    });
    expect(await failure({ n: 5, retry: () => 1 })).toBeInstanceOf(Error);
    expect(await compactionThread.run<number>(job, { n: 6 })).toBe(12);
  });
});

/**
 * Worker side of the compaction thread (compaction-thread.ts): runs the compactions the process's state
 * stores hand it, each a {@link SegmentCompaction} fed the segments posted to it; its chunks go back one per
 * request, transferred, so the store's side holds no more of the new base than it is writing. A store that
 * can reach its storage from here (the Redis store, with a connection of its own) runs its whole compaction
 * here instead: a job module's default export, called with the job's arguments.
 */
import { SegmentCompaction } from "./state-compaction.ts";

declare const self: Worker;

/** What the compaction thread is sent; `id` names one compaction. */
export type ToCompactor =
  | { t: "feed"; id: number; segment: Uint8Array }
  | { t: "next"; id: number; chunkBytes: number | undefined }
  | { t: "abort"; id: number }
  | { t: "run"; id: number; module: string; args: unknown };

/** Its answers to `next`: the next chunk of the new base, or its end; or the compaction failed. */
export type FromCompactor =
  | { t: "chunk"; id: number; chunk: Uint8Array }
  | { t: "done"; id: number }
  | { t: "result"; id: number; value: unknown }
  | { t: "failed"; id: number; message: string };

interface Job {
  readonly compaction: SegmentCompaction;
  chunks: Generator<Uint8Array> | null;
  /** A feed failed: the job answers `failed` to its next request. */
  failure: string | null;
}

const jobs = new Map<number, Job>();

function job(id: number): Job {
  let found = jobs.get(id);
  if (!found) {
    found = { compaction: new SegmentCompaction(), chunks: null, failure: null };
    jobs.set(id, found);
  }
  return found;
}

function next(id: number, chunkBytes: number | undefined): void {
  const current = job(id);
  if (current.failure !== null) throw new Error(current.failure);
  current.chunks ??= current.compaction.chunks(chunkBytes);
  const step = current.chunks.next();
  if (step.done) {
    jobs.delete(id);
    self.postMessage({ t: "done", id } satisfies FromCompactor);
  } else {
    const chunk = step.value;
    self.postMessage({ t: "chunk", id, chunk } satisfies FromCompactor, [chunk.buffer as ArrayBuffer]);
  }
}

/** A job module: its default export runs the job (a structured-clonable result, or a rejection). */
type JobModule = { default: (args: unknown) => Promise<unknown> };

async function run(id: number, module: string, args: unknown): Promise<void> {
  try {
    const job = (await import(module)) as JobModule;
    const value = await job.default(args);
    self.postMessage({ t: "result", id, value } satisfies FromCompactor);
  } catch (error) {
    self.postMessage({ t: "failed", id, message: (error as Error).message } satisfies FromCompactor);
  }
}

self.onmessage = (event: MessageEvent<ToCompactor>) => {
  const message = event.data;
  const { id } = message;
  switch (message.t) {
    case "feed": {
      const current = job(id);
      if (current.failure !== null) return;
      try {
        current.compaction.feed(message.segment);
      } catch (error) {
        current.failure = (error as Error).message;
      }
      return;
    }
    case "next":
      try {
        next(id, message.chunkBytes);
      } catch (error) {
        jobs.delete(id);
        self.postMessage({ t: "failed", id, message: (error as Error).message } satisfies FromCompactor);
      }
      return;
    case "abort":
      jobs.delete(id);
      return;
    case "run":
      void run(id, message.module, message.args);
      return;
  }
};

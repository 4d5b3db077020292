/**
 * Compactions off the main thread. A state store's compaction folds its whole changelog (state-compaction.ts):
 * megabytes of records decoded and copied, which on the main thread stalled every pump of the process
 * between two awaits. Here one worker per process, started with the first compaction, does the folding;
 * the store's side only moves bytes (reads segments, posts them, writes the chunks it gets back, one at a
 * time). Moving those bytes was still tens of megabytes through the main thread per compaction, so a store
 * that can reach its storage from the worker hands it the whole job ({@link CompactionThread.run}). The
 * worker is referenced only while a compaction is open, so it never keeps a process alive.
 */
import { TroupeError } from "../errors.ts";
import type { FromCompactor, ToCompactor } from "./compaction-host.ts";

const HOST_URL = new URL("./compaction-host.ts", import.meta.url);

/** One compaction under way: feed it the base and the log in order, then read the new base's chunks. */
export interface Compaction {
  /** Posts a copy of `segment` (the caller keeps its buffer). */
  feed(segment: Uint8Array): void;
  /** The new base, in chunks of about `chunkBytes` (each asked for once the previous one was taken). */
  chunks(chunkBytes?: number): AsyncGenerator<Uint8Array>;
  /** Drops it unfinished (the store gave up on it). */
  abort(): void;
}

/** A chunk (null: the last was sent), or a job's result (`run`). */
type Reply = { ok: true; chunk: Uint8Array | null; value?: unknown } | { ok: false; error: TroupeError };

class CompactionThread {
  #worker: Worker | null = null;
  #nextId = 1;
  /** Per open compaction: who waits for its next reply. */
  readonly #open = new Map<number, ((reply: Reply) => void) | null>();

  begin(): Compaction {
    const id = this.#nextId++;
    const worker = this.#start();
    this.#open.set(id, null);
    if (this.#open.size === 1) worker.ref();
    const post = (message: ToCompactor, transfer: ArrayBuffer[] = []) =>
      this.#worker?.postMessage(message, transfer);
    const close = () => {
      if (!this.#open.delete(id)) return;
      if (this.#open.size === 0) this.#worker?.unref();
    };
    const next = (chunkBytes: number | undefined) =>
      new Promise<Reply>((resolve) => {
        if (!this.#open.has(id))
          return resolve({ ok: false, error: failed("the compaction thread stopped") });
        this.#open.set(id, resolve);
        post({ t: "next", id, chunkBytes });
      });
    return {
      feed: (segment) => {
        // A copy of exactly the view, transferred: a Buffer from a socket read may be a view on a larger
        // buffer, which a structured clone would copy whole (and Buffer's own slice() copies nothing).
        const copy = new Uint8Array(segment);
        post({ t: "feed", id, segment: copy }, [copy.buffer as ArrayBuffer]);
      },
      chunks: async function* (chunkBytes) {
        let ended = false;
        try {
          for (;;) {
            const reply = await next(chunkBytes);
            // A failed or finished job is gone from the thread already; one left half-read is not.
            ended = !reply.ok || reply.chunk === null;
            if (!reply.ok) throw reply.error;
            if (reply.chunk === null) return;
            yield reply.chunk;
          }
        } finally {
          if (!ended) post({ t: "abort", id });
          close();
        }
      },
      abort: () => {
        if (!this.#open.has(id)) return;
        post({ t: "abort", id });
        close();
      },
    };
  }

  /**
   * Runs a whole compaction on the thread: `module`'s default export called with `args` (structured-cloned),
   * its result sent back; rejects with ERR_STATE_COMPACTION when it throws or the thread dies.
   */
  async run<T>(module: URL, args: unknown): Promise<T> {
    const id = this.#nextId++;
    const worker = this.#start();
    this.#open.set(id, null);
    if (this.#open.size === 1) worker.ref();
    try {
      // A postMessage that cannot clone `args` throws in here: the job fails, and is not left open.
      const reply = await new Promise<Reply>((resolve) => {
        this.#open.set(id, resolve);
        worker.postMessage({ t: "run", id, module: module.href, args } satisfies ToCompactor);
      });
      if (!reply.ok) throw reply.error;
      return reply.value as T;
    } finally {
      if (this.#open.delete(id) && this.#open.size === 0) this.#worker?.unref();
    }
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(HOST_URL);
    worker.unref();
    worker.onmessage = (event: MessageEvent<FromCompactor>) => {
      const message = event.data;
      const waiter = this.#open.get(message.id);
      if (!waiter) return;
      this.#open.set(message.id, null);
      if (message.t === "chunk") waiter({ ok: true, chunk: message.chunk });
      else if (message.t === "done") waiter({ ok: true, chunk: null });
      else if (message.t === "result") waiter({ ok: true, chunk: null, value: message.value });
      else waiter({ ok: false, error: failed(message.message) });
    };
    worker.onerror = (event) => this.#failAll(event.message);
    worker.addEventListener("close", () => this.#failAll("the compaction thread exited"));
    this.#worker = worker;
    return worker;
  }

  /** The worker died: every open compaction fails (its store keeps its log and compacts later). */
  #failAll(why: string): void {
    this.#worker = null;
    const open = [...this.#open];
    this.#open.clear();
    for (const [, waiter] of open) waiter?.({ ok: false, error: failed(why) });
  }
}

function failed(why: string): TroupeError {
  return new TroupeError("ERR_STATE_COMPACTION", `state compaction failed: ${why}`);
}

/** The process's compaction thread. */
export const compactionThread = new CompactionThread();

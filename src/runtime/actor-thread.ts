/**
 * Main side of the worker threads that host actor instances (actor-host.ts). An instance has a thread of
 * its own, or one of a {@link ThreadPool}'s, shared with other instances (Kafka Streams runs many tasks,
 * each with its own state stores, on a few stream threads; Flink many key groups in one task slot). A
 * thread routes each message from its worker to the host it names, and its end (an uncaught error, an exit,
 * or a terminate for a hung handler) to every instance it hosted: they share one event loop, so a hung or
 * dead thread is every hosted instance's failure. A thread with no host left is terminated.
 */
import { InvalidOptionError, TroupeError } from "../errors.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

const HOST_URL = new URL("./actor-host.ts", import.meta.url);

/** What a thread tells one of its hosts' instances. */
export interface HostListener {
  message(message: FromWorker): void;
  /**
   * The thread ended under this host (`uncaught`: a worker error; `exit`: it exited or was terminated).
   * `blame` is false when another host's hung handler had it terminated: the message this host had in
   * progress (an async handler awaiting) did nothing wrong and must not count as a failed delivery.
   */
  ended(reason: "uncaught" | "exit", error: TroupeError, exitCode: number | null, blame: boolean): void;
}

/** One instance's place on a thread. */
export interface HostLink {
  /** The host's number on its thread: every message to and from it carries it. */
  readonly h: number;
  /** The thread's id (`threadId` inside it). */
  readonly thread: number;
  post(message: ToWorker, transfer?: (ArrayBuffer | MessagePort)[]): void;
  /**
   * The instance lets go of its host: the host handles and reports nothing more. `kill` ends the thread
   * as well (a hung handler holds its event loop), failing the other instances on it.
   */
  release(kill: boolean, why: string): void;
}

class ActorThread {
  readonly #worker = new Worker(HOST_URL);
  readonly #hosts = new Map<number, HostListener>();
  readonly #emptied: (thread: ActorThread) => void;
  #nextHost = 1;
  #ended = false;

  constructor(emptied: (thread: ActorThread) => void) {
    this.#emptied = emptied;
    this.#worker.onmessage = (event: MessageEvent<FromWorker>) => {
      this.#hosts.get(event.data.h)?.message(event.data);
    };
    this.#worker.addEventListener("error", (event: ErrorEvent) => {
      this.#end(
        "uncaught",
        new TroupeError("ERR_WORKER_CRASHED", workerErrorMessage(event.message)),
        null,
        true,
      );
    });
    this.#worker.addEventListener("close", (event: Event) => {
      const exitCode = (event as Event & { code?: number }).code ?? null;
      this.#end(
        "exit",
        new TroupeError("ERR_WORKER_EXITED", `worker exited with code ${exitCode}`),
        exitCode,
        true,
      );
    });
  }

  /** Instances hosted now. */
  get hosts(): number {
    return this.#hosts.size;
  }

  attach(listener: HostListener): HostLink {
    const h = this.#nextHost++;
    this.#hosts.set(h, listener);
    return {
      h,
      thread: this.#worker.threadId,
      post: (message, transfer) => {
        if (this.#ended) return;
        if (transfer) this.#worker.postMessage(message, transfer);
        else this.#worker.postMessage(message);
      },
      release: (kill, why) => this.#release(h, kill, why),
    };
  }

  #release(h: number, kill: boolean, why: string): void {
    if (!this.#hosts.delete(h) || this.#ended) return;
    if (kill) {
      this.#end(
        "exit",
        new TroupeError("ERR_WORKER_EXITED", `worker thread terminated: ${why}`),
        null,
        false,
      );
    } else if (this.#hosts.size === 0)
      this.#end("exit", new TroupeError("ERR_WORKER_EXITED", why), null, false);
    else this.#worker.postMessage({ t: "drop", h } satisfies ToWorker);
  }

  /** Ends the thread once, failing every instance still on it. */
  #end(reason: "uncaught" | "exit", error: TroupeError, exitCode: number | null, blame: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#worker.terminate();
    const listeners = [...this.#hosts.values()];
    this.#hosts.clear();
    this.#emptied(this);
    for (const listener of listeners) listener.ended(reason, error, exitCode, blame);
  }
}

export interface ThreadPoolOptions {
  /** Threads at most; instances are spread over them. @defaultValue the machine's cores */
  size?: number;
}

/**
 * Worker threads that several actor instances share (the spawn option `threads`): each new instance goes to
 * the thread with the fewest hosts, a new one started while fewer than `size` run. For many small
 * instances of one kind (a keyed actor's partitions: one instance each, so each moves with its own
 * state) on a few cores: a thread each would cost a heap and a JIT per instance. Hosts on one thread share
 * its event loop and its module scope (a module's top-level variables), and fail together when it ends.
 */
export class ThreadPool {
  readonly size: number;
  readonly #threads = new Set<ActorThread>();

  constructor(options: ThreadPoolOptions = {}) {
    const size = options.size ?? navigator.hardwareConcurrency;
    if (!Number.isInteger(size) || size < 1) throw new InvalidOptionError("size", "must be an integer >= 1");
    this.size = size;
  }

  /** Threads running now (each hosts at least one instance). */
  get threads(): number {
    return this.#threads.size;
  }

  /** A place for one instance. */
  attach(listener: HostListener): HostLink {
    let thread: ActorThread | undefined;
    if (this.#threads.size < this.size) {
      thread = new ActorThread((ended) => this.#threads.delete(ended));
      this.#threads.add(thread);
    } else {
      for (const candidate of this.#threads)
        if (!thread || candidate.hosts < thread.hosts) thread = candidate;
    }
    return (thread as ActorThread).attach(listener);
  }
}

/** A thread of the instance's own, ended when it lets go. */
export function ownThread(listener: HostListener): HostLink {
  return new ActorThread(() => {}).attach(listener);
}

/** Bun puts a source code frame before the error line of an uncaught worker error; keep the error line. */
function workerErrorMessage(raw: string | undefined): string {
  if (!raw) return "worker threw";
  const line = raw.split("\n").find((l) => /^\w*(error|Error):/.test(l.trim()));
  return (line ?? raw.split("\n")[0] ?? raw).trim();
}

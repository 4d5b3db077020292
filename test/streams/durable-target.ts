/**
 * A small durable PumpTarget for the stream side's tests, written against the runtime's contract for
 * durable actors (issue 13): instances keyed by hash, each a per-key counter kept in one durable table,
 * a credit window that handled-but-uncovered messages keep holding, checkpoints of the touched keys that
 * cover the handled messages' tags (committed through a real StateStore), and the three ways an
 * incarnation ends: `crash` (a worker crash in the process: restore the last checkpoint, handle the
 * uncovered messages again, then the rest), `kill` (the process dies: nothing more happens) and fencing
 * (a commit refused as ERR_FENCED: the instance stops and gives its messages back).
 */
import { createNanoEvents } from "nanoevents";
import { TroupeError } from "../../src/errors.ts";
import type { StateScope, StateStore } from "../../src/runtime/state-store.ts";
import type { Output } from "../../src/streams/outputs.ts";
import type { PumpTarget } from "../../src/streams/pump-target.ts";
import type { CoveredEntry } from "../../src/streams/state-cover.ts";
import { replayed, seg } from "../support/state.ts";

export interface CountMsg {
  key: string;
}

export const COUNTS = "counts";

type Done = (error: TroupeError | null, result?: Output[], epoch?: number) => void;

interface Delivery {
  readonly message: CountMsg;
  /** Null once replied: a redelivered uncovered message is handled again without a second reply. */
  done: Done | null;
  readonly tag: unknown;
}

interface Instance {
  readonly scope: StateScope;
  epoch: number;
  generation: number;
  state: "starting" | "running" | "fenced" | "dead";
  counts: Map<string, number>;
  touched: Set<string>;
  queue: Delivery[];
  inFlight: Delivery | null;
  uncovered: Delivery[];
  committing: Promise<void> | null;
  frozen: Promise<void> | null;
  thaw: () => void;
  retry: ReturnType<typeof setTimeout> | undefined;
}

export interface DurableTargetOptions {
  store: StateStore;
  instances: number;
  window: number;
  /** Checkpoint once this many messages are uncovered, and whenever the queue runs dry. @defaultValue 16 */
  checkpointEvery?: number;
  /** False: checkpoints only when `checkpoint()` is called. @defaultValue true */
  autoCheckpoint?: boolean;
  /** The outputs of a message that brought `key` to `count`. @defaultValue none */
  outputs?: (key: string, count: number) => Output[];
  /** Runs after each message is handled (e.g. to crash at a chosen point). */
  afterHandle?: (instance: number, handled: number) => void;
  name?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class DurableTarget implements PumpTarget<CountMsg, Output[]> {
  readonly name: string;
  readonly #options: Required<Omit<DurableTargetOptions, "afterHandle" | "outputs">> &
    Pick<DurableTargetOptions, "afterHandle" | "outputs">;
  readonly #instances: Instance[];
  readonly #listeners = new Set<() => void>();
  readonly #ready: Promise<void>;
  readonly #events = createNanoEvents<{ handled(): void; commitFailed(): void }>();
  handled = 0;
  checkpoints = 0;
  fencedCommits = 0;
  failedCommits = 0;

  constructor(options: DurableTargetOptions) {
    this.#options = { checkpointEvery: 16, autoCheckpoint: true, name: "counter", ...options };
    this.name = this.#options.name;
    this.#instances = Array.from({ length: options.instances }, (_, index) => ({
      scope: { actor: this.name, instance: index },
      epoch: 0,
      generation: 0,
      state: "starting",
      counts: new Map(),
      touched: new Set(),
      queue: [],
      inFlight: null,
      uncovered: [],
      committing: null,
      frozen: null,
      thaw: () => {},
      retry: undefined,
    }));
    this.#ready = Promise.all(this.#instances.map((i) => this.#restore(i))).then(() => {});
  }

  /** Resolves once every instance restored its state (first incarnation). */
  ready(): Promise<void> {
    return this.#ready;
  }

  freeCredits(): number {
    let free = 0;
    for (const i of this.#instances) if (i.state !== "dead" && i.state !== "fenced") free += this.#credits(i);
    return free;
  }

  deliver(message: CountMsg, done: Done, _deliveries = 0, tag?: unknown): boolean {
    const instance = this.#route(message.key);
    if (instance.state === "dead") return false;
    if (instance.state === "fenced") {
      done(new TroupeError("ERR_FENCED", "instance fenced"));
      return true;
    }
    if (this.#credits(instance) <= 0) return false;
    instance.queue.push({ message, done, tag });
    void this.#run(instance);
    return true;
  }

  onCredit(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** After each handled message, or each failed (not fenced) commit. */
  on(event: "handled" | "commitFailed", listener: () => void): () => void {
    return this.#events.on(event, listener);
  }

  /** The counts an instance holds now. */
  counts(index: number): ReadonlyMap<string, number> {
    return this.#instances[index]!.counts;
  }

  epoch(index: number): number {
    return this.#instances[index]!.epoch;
  }

  uncovered(index: number): number {
    return this.#instances[index]!.uncovered.length;
  }

  /** Checkpoints every instance now (or waits for the one in flight); resolves when it settled. */
  async checkpoint(): Promise<void> {
    await Promise.all(this.#instances.map((i) => this.#checkpoint(i)));
  }

  /** A worker crash: the state is gone; restore, handle the uncovered messages again, then the rest. */
  async crash(index: number): Promise<void> {
    const instance = this.#instances[index]!;
    if (instance.state !== "running") return;
    instance.generation++;
    instance.state = "starting";
    clearTimeout(instance.retry);
    // A commit in flight settles first: its covers are then acked (dropped here) or redelivered, never both.
    await instance.committing?.catch(() => {});
    const replay = [
      ...instance.uncovered.map((d) => ({ ...d, done: null })),
      ...this.#inFlightAndQueued(instance),
    ];
    Object.assign(instance, { inFlight: null, queue: replay, uncovered: [], touched: new Set() });
    await this.#restore(instance);
  }

  /** The process dies: nothing more is handled, replied or committed. */
  kill(): void {
    for (const instance of this.#instances) {
      instance.generation++;
      instance.state = "dead";
      clearTimeout(instance.retry);
    }
  }

  /** SIGSTOP: nothing is handled or committed until `thaw`. */
  freeze(): void {
    for (const instance of this.#instances) {
      instance.frozen ??= new Promise((resolve) => {
        instance.thaw = () => {
          instance.frozen = null;
          resolve();
        };
      });
    }
  }

  thaw(): void {
    for (const instance of this.#instances) instance.thaw();
  }

  #credits(instance: Instance): number {
    const held = instance.queue.length + (instance.inFlight ? 1 : 0) + instance.uncovered.length;
    return this.#options.window - held;
  }

  #route(key: string): Instance {
    let h = 2166136261;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
    return this.#instances[(h >>> 0) % this.#instances.length]!;
  }

  #inFlightAndQueued(instance: Instance): Delivery[] {
    return instance.inFlight ? [instance.inFlight, ...instance.queue] : instance.queue;
  }

  async #restore(instance: Instance): Promise<void> {
    const generation = instance.generation;
    const { epoch, chunks } = await this.#options.store.restore(instance.scope);
    const counts = new Map<string, number>();
    for (const [key, value] of (await replayed(chunks)).tables.get(COUNTS) ?? [])
      counts.set(key, Number(decoder.decode(value)));
    if (instance.generation !== generation) return;
    Object.assign(instance, { epoch, counts, state: "running" });
    void this.#run(instance);
  }

  async #run(instance: Instance): Promise<void> {
    if (instance.inFlight || instance.state !== "running") return;
    const generation = instance.generation;
    while (instance.queue.length > 0) {
      const delivery = instance.queue.shift()!;
      instance.inFlight = delivery;
      // Asynchronous work: other deliveries, commits and crashes interleave here.
      await new Promise((resolve) => setImmediate(resolve));
      await instance.frozen;
      if (instance.generation !== generation) return;
      instance.inFlight = null;
      const { key } = delivery.message;
      const count = (instance.counts.get(key) ?? 0) + 1;
      instance.counts.set(key, count);
      instance.touched.add(key);
      instance.uncovered.push(delivery);
      this.handled++;
      const done = delivery.done;
      delivery.done = null;
      done?.(null, this.#options.outputs?.(key, count) ?? [], instance.epoch);
      this.#options.afterHandle?.(instance.scope.instance, this.handled);
      this.#events.emit("handled");
      if (instance.generation !== generation) return;
      if (this.#options.autoCheckpoint && instance.uncovered.length >= this.#options.checkpointEvery)
        void this.#checkpoint(instance);
    }
    if (this.#options.autoCheckpoint) void this.#checkpoint(instance);
  }

  #checkpoint(instance: Instance): Promise<void> {
    if (instance.committing) return instance.committing;
    if (instance.state !== "running" || instance.uncovered.length === 0) return Promise.resolve();
    const committing = this.#commit(instance).then((committed) => {
      instance.committing = null;
      // More came in meanwhile: go on while a checkpoint's worth waits, or the instance is idle.
      const idle = instance.queue.length === 0 && instance.inFlight === null;
      const due = instance.uncovered.length >= this.#options.checkpointEvery || idle;
      if (committed && this.#options.autoCheckpoint && due) void this.#checkpoint(instance);
    });
    instance.committing = committing;
    return committing;
  }

  /** True when a checkpoint was committed. */
  async #commit(instance: Instance): Promise<boolean> {
    await instance.frozen;
    const generation = instance.generation;
    if (instance.state !== "running") return false;
    const covered = instance.uncovered.length;
    const changes: (string | Uint8Array | null)[] = [];
    for (const key of instance.touched) {
      const count = instance.counts.get(key);
      changes.push(COUNTS, key, count === undefined ? null : encoder.encode(String(count)));
    }
    const touched = instance.touched;
    instance.touched = new Set();
    const covers = instance.uncovered.slice(0, covered).map((d) => d.tag);
    try {
      await this.#options.store.commit({
        scope: instance.scope,
        epoch: instance.epoch,
        segments: seg(changes),
        covers,
      });
    } catch (error) {
      if (instance.generation !== generation) return false;
      for (const key of touched) instance.touched.add(key);
      if ((error as TroupeError).code === "ERR_FENCED") {
        this.fencedCommits++;
        this.#fence(instance);
      } else {
        this.failedCommits++;
        instance.retry = setTimeout(() => void this.#checkpoint(instance), 20);
        this.#events.emit("commitFailed");
      }
      return false;
    }
    this.checkpoints++;
    // Covered: never redelivered, even by a crash that waits for this commit to settle.
    instance.uncovered.splice(0, covered);
    if (instance.generation !== generation) return false;
    for (const listener of this.#listeners) listener();
    return true;
  }

  /** A newer incarnation took over: stop for good and give every message back, pending in the stream. */
  #fence(instance: Instance): void {
    instance.generation++;
    instance.state = "fenced";
    for (const delivery of instance.uncovered) (delivery.tag as CoveredEntry).released();
    for (const delivery of this.#inFlightAndQueued(instance))
      delivery.done?.(new TroupeError("ERR_FENCED", "instance fenced"));
    Object.assign(instance, { uncovered: [], queue: [], inFlight: null });
    for (const listener of this.#listeners) listener();
  }
}

/** What the store holds for `actor` after everything settled: a fresh restore of each instance. */
export async function storedCounts(
  store: StateStore,
  actor: string,
  instances: number,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let instance = 0; instance < instances; instance++) {
    const { chunks } = await store.restore({ actor, instance });
    for (const [key, value] of (await replayed(chunks)).tables.get(COUNTS) ?? [])
      counts.set(key, Number(decoder.decode(value)));
  }
  return counts;
}

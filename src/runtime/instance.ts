/**
 * Main-thread side of one actor instance: its host's lifecycle (start, crash detection, deadline watch,
 * release), its mailbox and its stats. The host runs on a worker thread of its own or of a shared pool
 * (actor-thread.ts); the worker side is actor-host.ts.
 *
 * Every host incarnation gets a generation number; events from an older incarnation (a thread's end that
 * follows our own release) are ignored, so one failure is reported exactly once.
 *
 * With durable state, every start first lets a commit under way settle, puts the messages no durable
 * checkpoint covers back in front of the queue, then restores the last checkpoint into the new worker
 * (which takes a new epoch) before it may handle anything.
 *
 * Recycling (the `recycle` option) is a planned restart the worker asks for: nothing new is sent, what
 * it holds is finished (and, durable, checkpointed), then a new worker starts. It is not a failure: the
 * supervisor is not involved and the restart intensity does not count it.
 */

import { deserializeError, errorCode, type SerializedError, serializeError, TroupeError } from "../errors.ts";
import type { Clock } from "../time/clock.ts";
import { type HostLink, type HostListener, ownThread } from "./actor-thread.ts";
import { Checkpointer } from "./checkpointer.ts";
import { ControlChannel } from "./control.ts";
import type { Envelope } from "./envelope.ts";
import type { CrashReason } from "./events.ts";
import { Mailbox } from "./mailbox.ts";
import {
  HAND_BACK_SLOT,
  type InitMessage,
  PROGRESS_IDLE,
  PROGRESS_SLOTS,
  type RecycleMessage,
} from "./protocol.ts";
import type { ResolvedSpawnOptions } from "./spawn-options.ts";
import type { RestoredState } from "./state-store.ts";
import { type InstanceState, type InstanceStats, LatencyRing, RateWindow } from "./stats.ts";

/** What an instance needs from its owner (the actor and, through it, the supervisor). */
export interface InstanceOwner {
  readonly clock: Clock;
  crashed(instance: ActorInstance, reason: CrashReason, error: TroupeError, exitCode: number | null): void;
  /** A planned restart is done: the new worker is up (a failed start is reported as `crashed` instead). */
  recycled(
    instance: ActorInstance,
    reason: RecycleMessage["reason"],
    handled: number,
    heapBytes: number,
  ): void;
  deadLetter(instance: ActorInstance, envelope: Envelope, error: TroupeError): void;
  backpressure(instance: ActorInstance, waiting: number): void;
  credit(): void;
  unhandledRejection(instance: ActorInstance, error: SerializedError): void;
  /** A newer incarnation took over this instance's durable state; it is retired as `fenced`. */
  fenced(instance: ActorInstance, epoch: number, error: TroupeError): void;
  /** The store had lost the state of incarnation `lostEpoch`: this one (`epoch`) starts from what it holds. */
  stateLost(instance: ActorInstance, lostEpoch: number, epoch: number): void;
}

/** What a durable start hands the new worker: the restored state, fed between `init` and `restored`. */
interface Restoring {
  restored: RestoredState;
  startedAt: number;
}

export class ActorInstance {
  readonly actor: string;
  readonly index: number;
  readonly mailbox: Mailbox;
  state: InstanceState = "starting";
  restarts = 0;
  /** Failures in a row without a stable run in between; drives the backoff exponent. */
  consecutiveFailures = 0;
  startedAt = 0;
  readonly #moduleUrl: string;
  readonly #options: ResolvedSpawnOptions;
  readonly #owner: InstanceOwner;
  readonly #progress = new Int32Array(new SharedArrayBuffer(4 * PROGRESS_SLOTS));
  readonly #latency = new LatencyRing();
  readonly #rate: RateWindow;
  readonly #checkpointer: Checkpointer | null;
  #link: HostLink | null = null;
  #control: ControlChannel | null = null;
  #generation = 0;
  /** Rejects the start under way, until its worker is ready. */
  #abandonStart: (() => void) | null = null;
  #watchedTag = PROGRESS_IDLE;
  #watchedSince = 0;
  #processed = 0;
  #failed = 0;
  #deadLettered = 0;
  #lastError: (SerializedError & { at: number }) | null = null;
  /** Planned restarts (recycling) so far. */
  recycles = 0;

  constructor(
    actor: string,
    index: number,
    moduleUrl: string,
    options: ResolvedSpawnOptions,
    owner: InstanceOwner,
  ) {
    this.actor = actor;
    this.index = index;
    this.#moduleUrl = moduleUrl;
    this.#options = options;
    this.#owner = owner;
    this.#rate = new RateWindow(owner.clock);
    this.mailbox = new Mailbox(
      {
        capacity: options.capacity,
        frameSize: options.frameSize,
        maxDeliveries: options.maxDeliveries,
        maxWaiting: options.maxWaiting,
        durable: options.state !== null,
      },
      {
        deadLetter: (envelope, error) => {
          // A cancelled message was given up by its asker, not dead-lettered.
          if (error.code !== "ERR_CANCELLED") this.#deadLettered++;
          owner.deadLetter(this, envelope, error);
        },
        handlerFailed: (error) => {
          this.#failed++;
          this.#recordError(error);
        },
        processed: (count, latencies) => {
          this.#processed += count;
          this.#rate.add(count);
          if (latencies) for (const ms of latencies) this.#latency.add(ms);
        },
        backpressure: (waiting) => owner.backpressure(this, waiting),
        credit: () => owner.credit(),
        uncovered: () => this.#checkpointer?.consider(),
        abandoned: (tags) => options.state?.store.release?.(tags),
      },
    );
    this.#checkpointer = options.state
      ? new Checkpointer(options.state, { actor, instance: index }, this.mailbox, options.backoff, {
          clock: owner.clock,
          request: () => this.#requestCheckpoint(),
          fenced: (error) => this.#fence(error),
          // The store lost the state (not taken over): restart from what it holds; the restore decides.
          lost: (error) => this.crash("stateLost", error, null, false),
        })
      : null;
  }

  /** Starts a worker and resolves once the actor module is loaded; in-flight messages are sent to it first. */
  start(): Promise<void> {
    const generation = ++this.#generation;
    this.state = "starting";
    if (!this.#checkpointer) return this.#launch(generation, null);
    return this.#restoreAndLaunch(generation, this.#checkpointer);
  }

  async #restoreAndLaunch(generation: number, checkpointer: Checkpointer): Promise<void> {
    await checkpointer.settled();
    this.#assertCurrent(generation);
    this.mailbox.requeueUncovered();
    const startedAt = this.#owner.clock.now();
    const restored = await checkpointer.restore().catch((error: unknown) => {
      // Taken over while this instance was down or frozen: the state is another incarnation's now.
      if (errorCode(error) === "ERR_FENCED") {
        this.#fence(error as TroupeError);
        this.#assertCurrent(generation);
      }
      throw restoreFailed(this.actor, this.index, error);
    });
    this.#assertCurrent(generation);
    if (restored.lost) this.#owner.stateLost(this, checkpointer.epoch, restored.epoch);
    return this.#launch(generation, { restored, startedAt });
  }

  /** A start overtaken by a stop, a fence or another start must not bring up a worker. */
  #assertCurrent(generation: number): void {
    if (generation === this.#generation && this.state === "starting") return;
    throw new TroupeError("ERR_ACTOR_STOPPED", `${this.actor}#${this.index} is ${this.state}`, {
      actor: this.actor,
      instance: this.index,
    });
  }

  #launch(generation: number, restoring: Restoring | null): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      // A teardown before the worker is ready (a stop, or the system's, during the start) ends the wait.
      this.#abandonStart = () =>
        reject(
          new TroupeError("ERR_ACTOR_STOPPED", `${this.actor}#${this.index} stopped while starting`, {
            actor: this.actor,
            instance: this.index,
          }),
        );
      const failBeforeReady = (error: TroupeError) => {
        reject(error);
        this.#teardown();
      };
      const listener: HostListener = {
        message: (message) => {
          if (generation !== this.#generation) return;
          switch (message.t) {
            case "ack":
              this.mailbox.acknowledge(message);
              break;
            case "checkpoint":
              this.#checkpointer?.received(message);
              break;
            case "ready":
              ready = true;
              this.#abandonStart = null;
              this.#control = new ControlChannel(port1, this.#owner.clock, `${this.actor}#${this.index}`);
              this.state = "running";
              this.startedAt = this.#owner.clock.now();
              if (restoring) {
                this.#checkpointer?.connected(restoring.restored.epoch, {
                  keys: message.restoredKeys,
                  ms: this.startedAt - restoring.startedAt,
                });
              }
              this.mailbox.connect({
                frame: (frame) => link.post({ t: "frame", h: link.h, buf: frame }, [frame]),
                cancel: (seq) => link.post({ t: "cancel", h: link.h, seq }),
              });
              resolve();
              break;
            case "initError":
              failBeforeReady(deserializeError(message.error, "ERR_ACTOR_MODULE_LOAD") as TroupeError);
              break;
            case "fatal": {
              const error =
                message.reason === "checkpointFailed"
                  ? // ERR_ENCODE from a codec; without a code, the actor's own beforeCheckpoint threw.
                    (deserializeError(message.error, "ERR_HANDLER_THREW") as TroupeError)
                  : new TroupeError(
                      message.reason === "unhandledRejection"
                        ? "ERR_UNHANDLED_REJECTION"
                        : "ERR_HANDLER_THREW",
                      message.error.message,
                    );
              this.crash(message.reason, error, null);
              break;
            }
            case "log":
              this.#recordError(message.error);
              this.#owner.unhandledRejection(this, message.error);
              break;
            case "recycle":
              void this.#recycle(generation, message);
              break;
          }
        },
        ended: (reason, error, exitCode, blame) => {
          if (generation !== this.#generation) return;
          if (ready) this.crash(reason, error, exitCode, blame);
          else failBeforeReady(error);
        },
      };
      const link = this.#options.threads?.attach(listener) ?? ownThread(listener);
      this.#link = link;
      const init: InitMessage = {
        t: "init",
        h: link.h,
        moduleUrl: this.#moduleUrl,
        actor: this.actor,
        instance: this.index,
        init: this.#options.init,
        ackEvery: this.#options.ackEvery,
        unhandledRejection: this.#options.unhandledRejection,
        handlerError: this.#options.onHandlerError,
        progress: this.#progress.buffer as SharedArrayBuffer,
        control: port2,
        durable: restoring !== null,
        checkpointSliceMs: this.#options.state?.checkpointSliceMs ?? 0,
        checkpointDeferMs: this.#options.state?.checkpointDeferMs ?? 0,
        concurrency: this.#options.concurrency,
        messageTimeoutMs: this.#options.messageTimeoutMs,
        recycle: this.#options.recycle,
      };
      link.post(init, [port2]);
      if (restoring) {
        // Streamed while the worker loads the module; `initialState` waits for `restored`.
        const feed = async () => {
          for await (const chunk of restoring.restored.chunks) {
            if (generation !== this.#generation) return;
            // A copy of exactly the chunk, transferred: the store may keep the buffers it restores from,
            // and a structured clone of a view copies its whole buffer (ioredis hands out views on its
            // read buffers: a 100-byte value on an 88 KB one).
            const segment = new Uint8Array(chunk);
            link.post({ t: "restore", h: link.h, segment }, [segment.buffer as ArrayBuffer]);
          }
          if (generation === this.#generation) link.post({ t: "restored", h: link.h });
        };
        feed().catch((error: unknown) => {
          if (generation !== this.#generation) return;
          failBeforeReady(restoreFailed(this.actor, this.index, error));
        });
      }
    });
  }

  /** Asks the live host for a checkpoint; false when there is none. */
  #requestCheckpoint(): boolean {
    if (!this.#link || this.state !== "running") return false;
    this.#link.post({ t: "checkpoint", h: this.#link.h });
    return true;
  }

  /** A newer incarnation (elsewhere) owns the state now: stop for good, leave every message unsettled. */
  #fence(error: TroupeError): void {
    if (this.state === "stopped" || this.state === "failed" || this.state === "fenced") return;
    const epoch = this.#checkpointer?.epoch ?? 0;
    this.#recordError(serializeError(error));
    this.#teardown();
    this.state = "fenced";
    this.mailbox.close(
      new TroupeError(
        "ERR_ACTOR_FAILED",
        `${this.actor}#${this.index} was fenced: epoch ${epoch} was taken over`,
        { actor: this.actor, instance: this.index, cause: error },
      ),
    );
    this.#owner.fenced(this, epoch, error);
  }

  /**
   * The worker asked to be recycled: hold back new messages, let it finish (and checkpoint) what it has,
   * then start a new one. Dropped if the worker is gone meanwhile (a crash handles its messages instead).
   */
  async #recycle(generation: number, request: RecycleMessage): Promise<void> {
    // A worker asks once; one that is gone already (crashed, halted, stopped) has nothing to recycle.
    if (generation !== this.#generation || this.state !== "running") return;
    this.mailbox.hold();
    this.#checkpointer?.drain();
    await this.mailbox.quiet();
    if (generation !== this.#generation || this.state !== "running") return;
    this.#teardown();
    this.#checkpointer?.disconnected();
    this.state = "restarting";
    this.mailbox.disconnect(PROGRESS_IDLE, null);
    try {
      await this.start();
      this.recycles++;
      this.#owner.recycled(this, request.reason, request.handled, request.heapBytes);
    } catch (error) {
      // Stopped or fenced meanwhile: nothing to restart. Otherwise a failed start is a failure like any.
      if ((this.state as InstanceState) !== "starting") return;
      this.state = "running";
      this.crash("initError", error as TroupeError, null);
    }
  }

  /** The actor is stopping: a durable instance checkpoints what it handled once it has nothing left. */
  drain(): void {
    this.#checkpointer?.drain();
  }

  /**
   * The actor stops handing back what its worker has not started: each such message finishes as
   * ERR_CANCELLED (a pump leaves its entry pending for whoever consumes next), so a durable instance
   * checkpoints what it handled at once instead of first working through its mailbox. Messages run one at a
   * time only; under concurrency the task pool drains as before.
   */
  handBack(): void {
    Atomics.store(this.#progress, HAND_BACK_SLOT, 1);
  }

  /**
   * Reports a failure of the running worker once: blames the message in progress (unless `blame` is false:
   * another instance's hung handler ended the thread they shared), keeps the rest for redelivery.
   */
  crash(reason: CrashReason, error: TroupeError, exitCode: number | null, blame = true): void {
    if (this.state !== "running") return;
    // Under concurrency, the handler whose synchronous part was running is the culprit, if one was.
    const tag = blame ? Atomics.load(this.#progress, 1) || Atomics.load(this.#progress, 0) : PROGRESS_IDLE;
    this.#teardown(reason === "deadline");
    this.#recordError(serializeError(error));
    this.#checkpointer?.disconnected();
    this.state = "restarting";
    this.mailbox.disconnect(tag, error);
    this.#owner.crashed(this, reason, error, exitCode);
  }

  /** Stops the worker on purpose (a sibling restart or a manual restart): nothing is blamed, all is redelivered. */
  halt(): void {
    this.#teardown();
    this.#checkpointer?.disconnected();
    this.state = "restarting";
    this.mailbox.disconnect(PROGRESS_IDLE, null);
  }

  /** Ends this instance for good: the worker stops and every message it holds is finished with `error`. */
  retire(state: "stopped" | "failed", error: TroupeError): void {
    if (this.state === "fenced") return;
    this.#teardown();
    this.#checkpointer?.disconnected();
    this.state = state;
    this.mailbox.close(error);
  }

  /** Called by the watchdog: a message handled for longer than the deadline means a hung worker. */
  checkDeadline(now: number): void {
    if (this.state !== "running") return;
    const tag = Atomics.load(this.#progress, 0);
    if (tag === PROGRESS_IDLE || tag !== this.#watchedTag) {
      this.#watchedTag = tag;
      this.#watchedSince = now;
    } else if (now - this.#watchedSince > this.#options.deadlineMs) {
      this.crash(
        "deadline",
        new TroupeError("ERR_DEADLINE_EXCEEDED", `handler ran longer than ${this.#options.deadlineMs} ms`, {
          actor: this.actor,
          instance: this.index,
        }),
        null,
      );
    }
  }

  snapshot(timeoutMs: number): Promise<unknown> {
    return this.#controlChannel().snapshot(timeoutMs);
  }

  query(name: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    return this.#controlChannel().query(name, args, timeoutMs);
  }

  stats(): InstanceStats {
    return {
      actor: this.actor,
      instance: this.index,
      state: this.state === "running" && this.mailbox.paused ? "paused" : this.state,
      processed: this.#processed,
      failed: this.#failed,
      deadLettered: this.#deadLettered,
      inFlight: this.mailbox.inFlight,
      credits: this.mailbox.credits,
      capacity: this.mailbox.capacity,
      waiting: this.mailbox.waiting,
      frames: this.mailbox.frames,
      restarts: this.restarts,
      recycles: this.recycles,
      lastError: this.#lastError,
      latencyMs: this.#latency.percentiles(),
      rate: {
        "1s": this.#rate.perSecond(1),
        "10s": this.#rate.perSecond(10),
        "60s": this.#rate.perSecond(60),
      },
      durable: this.#checkpointer?.stats() ?? null,
      thread: this.#link?.thread ?? null,
    };
  }

  #controlChannel(): ControlChannel {
    if (!this.#control || this.state !== "running") {
      throw new TroupeError("ERR_ACTOR_STOPPED", `${this.actor}#${this.index} is ${this.state}`, {
        actor: this.actor,
        instance: this.index,
      });
    }
    return this.#control;
  }

  #recordError(error: SerializedError): void {
    this.#lastError = {
      name: error.name,
      message: error.message,
      ...(error.code ? { code: error.code } : {}),
      at: this.#owner.clock.now(),
    };
  }

  /** Lets go of the host; `kill` ends its thread too (a hung handler holds the thread's event loop). */
  #teardown(kill = false): void {
    this.#generation++;
    const abandon = this.#abandonStart;
    this.#abandonStart = null;
    abandon?.();
    this.#link?.release(kill, `${this.actor}#${this.index} ${kill ? "hung" : "stopped"}`);
    this.#link = null;
    this.#control?.close();
    this.#control = null;
    this.#progress.fill(PROGRESS_IDLE);
    this.#watchedTag = PROGRESS_IDLE;
  }
}

function restoreFailed(actor: string, instance: number, cause: unknown): TroupeError {
  const message = `restoring ${actor}#${instance} failed: ${(cause as Error)?.message ?? String(cause)}`;
  return new TroupeError("ERR_STATE_RESTORE", message, { actor, instance, cause });
}

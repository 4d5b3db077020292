/**
 * The chaos run's consumer processes: a fixed set of consumer names, each run by one `consumer.ts`
 * process at a time. A killed name is started again under the same name (it then replays its own
 * pending entries). Every process ever started is kept, so event counts survive restarts.
 */
import {
  type ConsumerConfig,
  ConsumerProcess,
  type Stamped,
} from "../../test/fixtures/faults/consumer-process.ts";

export class Cluster {
  /** Every process started, in order (dead ones included). */
  readonly all: ConsumerProcess[] = [];
  readonly #live = new Map<string, ConsumerProcess>();
  readonly #base: Omit<ConsumerConfig, "consumer">;
  readonly names: readonly string[];

  constructor(base: Omit<ConsumerConfig, "consumer">, names: readonly string[]) {
    this.#base = base;
    this.names = names;
  }

  async start(): Promise<void> {
    await Promise.all(this.names.map((name) => this.restart(name)));
  }

  /** Starts `name` again (after a kill); resolves once its pump started. */
  async restart(name: string): Promise<ConsumerProcess> {
    const process = await ConsumerProcess.start({ ...this.#base, consumer: name });
    this.#live.set(name, process);
    this.all.push(process);
    return process;
  }

  get(name: string): ConsumerProcess {
    const process = this.#live.get(name);
    if (!process) throw new Error(`no process for consumer ${name}`);
    return process;
  }

  get live(): ConsumerProcess[] {
    return [...this.#live.values()].filter((p) => p.alive);
  }

  /** Heals everything: resumes frozen processes and restarts dead ones. */
  async heal(): Promise<void> {
    for (const name of this.names) {
      const process = this.#live.get(name);
      if (process?.alive) process.signal("SIGCONT");
      else await this.restart(name);
    }
  }

  /** SIGTERM to every live process: they finish what they hold and exit. */
  async stop(): Promise<void> {
    await Promise.all(this.live.map((p) => p.stop()));
  }

  async kill(): Promise<void> {
    await Promise.all(this.live.map((p) => p.kill()));
  }

  /** Every event of every process, oldest process first. */
  events(): Stamped[] {
    return this.all.flatMap((p) => p.events);
  }
}

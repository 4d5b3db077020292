/**
 * Alerts as JSON lines, to stdout or a file (TROUPE_ALERTS_FILE, "-" = stdout). A pump target on the
 * alerts stream: an alert is acked once its line is flushed, so a crash re-writes at most the lines of the
 * last unflushed batch (at-least-once; each line carries its alertId).
 */
import type { FileSink } from "bun";
import type { Alert } from "../detection/alert.ts";
import type { TroupeError } from "../errors.ts";
import type { PumpTarget } from "../streams/pump-target.ts";

const WINDOW = 1024;

export class JsonlSink implements PumpTarget<Alert, void> {
  readonly name = "jsonl";
  readonly #writer: FileSink;
  readonly #listeners = new Set<() => void>();
  #batch: Array<(error: TroupeError | null) => void> = [];
  #flushing = false;

  constructor(path: string) {
    this.#writer = path === "-" ? Bun.stdout.writer() : Bun.file(path).writer();
  }

  freeCredits(): number {
    return WINDOW - this.#batch.length;
  }

  deliver(alert: Alert, done: (error: TroupeError | null) => void): boolean {
    if (this.#batch.length >= WINDOW) return false;
    this.#writer.write(`${JSON.stringify(alert)}\n`);
    this.#batch.push(done);
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => void this.#flush());
    }
    return true;
  }

  onCredit(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.#writer.end();
  }

  async #flush(): Promise<void> {
    while (this.#batch.length > 0) {
      const batch = this.#batch;
      this.#batch = [];
      await this.#writer.flush();
      for (const done of batch) done(null);
      for (const listener of this.#listeners) listener();
    }
    this.#flushing = false;
  }
}

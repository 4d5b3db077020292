/**
 * Alerts as JSON lines, to stdout or a file (TROUPE_ALERTS_FILE, "-" = stdout). A pump target on the
 * alerts stream: an alert is acked once its line is flushed. A crash between the flush and the ack
 * redelivers the alerts of that batch, so a file is opened in append mode, cut back to its last whole line
 * (a line torn by a kill was never acked: it comes again; one that lacks only its newline is whole, and
 * gets it), and the alert ids of its last lines are kept:
 * a redelivered alert already in the file is acked without writing it twice. Lines appended since are read
 * before each alert is written: on a file that several processes share, an alert one of them wrote and
 * died before acking, which another then claims, is not written twice either. Stdout cannot be read back:
 * there it stays at-least-once (each line carries its alertId).
 */
import { fstatSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import type { FileSink } from "bun";
import type { Alert } from "../detection/alert.ts";
import type { TroupeError } from "../errors.ts";
import type { PumpTarget } from "../streams/pump-target.ts";

const WINDOW = 1024;
/**
 * How much of the file's end is read back at open. A redelivery can only concern alerts of the batches
 * written but not acked when the process died: at most the window plus a commit batch of lines.
 */
const TAIL_BYTES = 4 * 1024 * 1024;
/** Alert ids remembered at most: a redelivery concerns recent alerts only (the oldest are forgotten first). */
const REMEMBERED_IDS = 65_536;

export class JsonlSink implements PumpTarget<Alert, void> {
  readonly name = "jsonl";
  readonly #writer: FileSink;
  readonly #listeners = new Set<() => void>();
  /** Alert ids in the file (its last lines at open, then every line appended): a redelivery writes nothing. */
  readonly #written: Set<string>;
  /** The file, to read what was appended since (null: stdout). */
  readonly #fd: number | null;
  /** Where the lines not read yet begin. */
  #readTo = 0;
  #batch: Array<(error: TroupeError | null) => void> = [];
  #flushing = false;

  constructor(path: string) {
    if (path === "-") {
      this.#writer = Bun.stdout.writer();
      this.#written = new Set();
      this.#fd = null;
      return;
    }
    const fd = openSync(path, "a+");
    this.#written = recoverTail(fd);
    this.#fd = fd;
    this.#readTo = fstatSync(fd).size;
    this.#writer = Bun.file(fd).writer();
  }

  freeCredits(): number {
    return WINDOW - this.#batch.length;
  }

  deliver(alert: Alert, done: (error: TroupeError | null) => void): boolean {
    if (this.#batch.length >= WINDOW) return false;
    this.#readAppended();
    if (!this.#written.has(alert.alertId)) this.#writer.write(`${JSON.stringify(alert)}\n`);
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

  /**
   * Adds the ids of the whole lines appended since the last look: its own, once flushed, and another
   * process's on a shared file (a line still being written is read next time). Alerts are rare, so an
   * fstat per alert costs little.
   */
  #readAppended(): void {
    const fd = this.#fd;
    if (fd === null) return;
    const size = fstatSync(fd).size;
    // Cut short since (logrotate's copytruncate): what follows is read from its start.
    if (size < this.#readTo) this.#readTo = 0;
    if (size === this.#readTo) return;
    const appended = Buffer.alloc(size - this.#readTo);
    readSync(fd, appended, 0, appended.length, this.#readTo);
    const end = appended.lastIndexOf(0x0a) + 1;
    addAlertIds(this.#written, appended.subarray(0, end), false);
    this.#readTo += end;
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

/**
 * Cuts a torn last line off the file and returns the alert ids of the whole lines in its tail. A last line
 * that lacks only its newline (the write stopped right before it) is whole, JSON that parses: it gets its
 * newline and is kept, since cutting an alert would lose it if it had been acked (and a line someone else
 * wrote is not ours to cut).
 */
function recoverTail(fd: number): Set<string> {
  const size = fstatSync(fd).size;
  const start = Math.max(0, size - TAIL_BYTES);
  const tail = Buffer.alloc(size - start);
  readSync(fd, tail, 0, tail.length, start);
  let end = tail.lastIndexOf(0x0a) + 1;
  if (start + end < size) {
    if (isJson(tail.subarray(end).toString("utf8"))) {
      writeSync(fd, "\n");
      end = tail.length;
    } else ftruncateSync(fd, start + end);
  }
  const ids = new Set<string>();
  // The first line of a tail that starts mid-file is partial: skip it.
  addAlertIds(ids, tail.subarray(0, end), start > 0);
  return ids;
}

/**
 * Adds the alert ids of `lines` (whole lines) to `ids`, forgetting the oldest past {@link REMEMBERED_IDS};
 * `skipFirst`: the first line is partial. A line that is not an alert (the file was edited, or holds
 * another tool's lines) has nothing to deduplicate against.
 */
function addAlertIds(ids: Set<string>, lines: Buffer, skipFirst: boolean): void {
  const text = lines.toString("utf8").split("\n");
  for (let i = skipFirst ? 1 : 0; i < text.length; i++) {
    const line = text[i] as string;
    const id = line.length === 0 ? null : alertIdOf(line);
    if (id === null) continue;
    ids.add(id);
    if (ids.size > REMEMBERED_IDS) ids.delete(ids.values().next().value as string);
  }
}

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

function alertIdOf(line: string): string | null {
  try {
    const id = (JSON.parse(line) as { alertId?: unknown } | null)?.alertId;
    return typeof id === "string" ? id : null;
  } catch {
    return null;
  }
}

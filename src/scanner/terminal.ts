/**
 * The scanner's two outputs: lines on stdout (alerts) and a status line on stderr (progress). On a
 * terminal the status line is redrawn in place, cut to the terminal's width (a wider line wraps, and the
 * next redraw clears only its last row, leaving fragments). When stdout is that terminal too, a line is
 * printed only after the status line was cleared, and the status is drawn again below it: the two never
 * share a row. Elsewhere (a pipe, a file) each status is one line of its own, uncut, for logs.
 */

/** Carriage return, then erase the whole row. */
const CLEAR_ROW = "\r\x1b[2K";

/** What the terminal writes to: `process.stdout` / `process.stderr` (tests pass their own). */
export interface TerminalStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export class Terminal {
  readonly #out: TerminalStream;
  readonly #err: TerminalStream;
  /** The status line on screen, already cut; `null` when none is drawn. */
  #status: string | null = null;

  constructor(out: TerminalStream = process.stdout, err: TerminalStream = process.stderr) {
    this.#out = out;
    this.#err = err;
  }

  /** Whether stdout is a terminal (a person reads it) rather than a pipe or a file. */
  get stdoutIsTTY(): boolean {
    return this.#out.isTTY === true;
  }

  /**
   * Columns a status line may take: on a terminal one short of its width (80 when it does not say), since
   * a line that fills the last column wraps on some; unlimited elsewhere.
   */
  get statusWidth(): number {
    return this.#err.isTTY ? (this.#err.columns || 80) - 1 : Number.POSITIVE_INFINITY;
  }

  /** Shows `line` as the status: in place on a terminal (cut to its width), else as one more line. */
  status(line: string): void {
    if (!this.#err.isTTY) {
      this.#err.write(`${line}\n`);
      return;
    }
    this.#status = cut(line, this.statusWidth);
    this.#err.write(`${CLEAR_ROW}${this.#status}`);
  }

  /** Prints a line on stdout, never on the status line's row. */
  print(line: string): void {
    this.#above(this.#out, line);
  }

  /** Writes a line on stderr (a message, not a status), above the status line. */
  note(line: string): void {
    this.#above(this.#err, line);
  }

  #above(stream: TerminalStream, line: string): void {
    const shared = this.#status !== null && stream.isTTY === true;
    if (shared) this.#err.write(CLEAR_ROW);
    stream.write(`${line}\n`);
    if (shared) this.#err.write(this.#status as string);
  }

  /** Ends the status line, so what follows starts on a row of its own. */
  close(): void {
    if (this.#status !== null) this.#err.write("\n");
    this.#status = null;
  }
}

/** Cuts plain text to `width` columns with an ellipsis. */
export function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

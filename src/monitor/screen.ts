/**
 * The terminal side of the monitor: in a TTY, the alternate screen redrawn in place (so the shell's
 * scrollback is left as it was) with the cursor hidden, restored on every way out; `q` or Ctrl-C quits.
 * Elsewhere (a pipe, a file), frames are printed one after another with no escape sequences.
 */

const ENTER = "\x1b[?1049h\x1b[?25l";
const LEAVE = "\x1b[?25h\x1b[?1049l";
const HOME = "\x1b[H";
const CLEAR_LINE_END = "\x1b[K";
const CLEAR_BELOW = "\x1b[J";

export interface Screen {
  draw(frame: string): void;
  /** Resolves when the user asks to quit (q, Ctrl-C, SIGINT, SIGTERM). */
  readonly quit: Promise<void>;
  close(): void;
}

export function openScreen(tty: boolean): Screen {
  let done: () => void = () => {};
  const quit = new Promise<void>((resolve) => {
    done = resolve;
  });
  process.once("SIGINT", () => done());
  process.once("SIGTERM", () => done());
  if (!tty) {
    let first = true;
    return {
      draw(frame) {
        process.stdout.write(`${first ? "" : "\n"}${frame}\n`);
        first = false;
      },
      quit,
      close() {},
    };
  }

  process.stdout.write(ENTER);
  const restore = () => process.stdout.write(LEAVE);
  process.once("exit", restore);
  const stdin = process.stdin;
  if (stdin.isTTY) {
    // Raw mode: Ctrl-C arrives as a byte, not a signal.
    stdin.setRawMode(true);
    stdin.on("data", (key: Buffer) => {
      if (key.includes(0x03) || key.includes(0x71)) done();
    });
  }
  return {
    draw(frame) {
      const body = frame.split("\n").join(`${CLEAR_LINE_END}\n`);
      process.stdout.write(`${HOME}${body}${CLEAR_LINE_END}\n${CLEAR_BELOW}`);
    },
    quit,
    close() {
      if (stdin.isTTY) {
        stdin.setRawMode(false);
        stdin.pause();
      }
      process.off("exit", restore);
      restore();
    },
  };
}

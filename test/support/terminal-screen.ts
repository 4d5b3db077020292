/**
 * Runs a command in a real pseudo-terminal (util-linux `script`) of a given width, and reads what a
 * person would see: the output split into screen rows, each row the text left after its carriage returns
 * and line erasures. Other escapes (colour, cursor moves) are dropped from the rows; what they wrap stays.
 */
import type { Subprocess } from "bun";
import { ChildOutput } from "./child-output.ts";

export interface TerminalRun {
  readonly child: Subprocess<"pipe", "pipe", "pipe">;
  /** Everything the terminal received (stdout and stderr of the command, interleaved as written). */
  readonly output: ChildOutput;
  /** Types Ctrl-C: the terminal sends SIGINT to the command's process group. */
  interrupt(): void;
}

export function scriptInstalled(): boolean {
  return Bun.which("script") !== null;
}

/** Starts `command` (a shell command line) in a terminal `columns` wide, in `cwd`, with `env`. */
export function runInTerminal(
  command: string,
  options: { columns: number; cwd: string; env: Record<string, string | undefined> },
): TerminalRun {
  const child = Bun.spawn(
    [
      "script",
      "--quiet",
      "--flush",
      "--return",
      "--command",
      `stty cols ${options.columns} rows 40; exec ${command}`,
      "/dev/null",
    ],
    { cwd: options.cwd, env: options.env, stdin: "pipe", stdout: "pipe", stderr: "pipe" },
  );
  return {
    child,
    output: new ChildOutput(child.stdout),
    interrupt() {
      child.stdin.write("\x03");
      child.stdin.flush();
    },
  };
}

/** Any other control sequence (colour, cursor, screen modes): not text. */
const CSI = new RegExp(`${"\x1b"}\\[[0-9;?]*[A-Za-z]`, "g");
const ERASE_LINE = "\x1b[2K";

/** Every piece of text the terminal drew, row by row: a row redrawn in place yields each of its draws. */
export function draws(output: string): string[][] {
  return output.split("\n").map((row) =>
    row
      // The terminal's echo of a typed Ctrl-C, not the program's output.
      .replaceAll("^C", "")
      .split("\r")
      .map((part) => part.replaceAll(ERASE_LINE, "").replace(CSI, ""))
      .filter((part) => part.length > 0),
  );
}

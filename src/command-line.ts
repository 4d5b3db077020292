/**
 * The command line of every `bun run` script (start, monitor, eval, demo), handled one way: `-h` /
 * `--help` prints the usage on stdout and exits 0; an unknown flag, a flag without its value or given twice,
 * a stray argument or a bad value prints the problem, then the usage, on stderr and exits 2. Never a stack trace:
 * a typo is the user's to fix, not a crash.
 */
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";

/** Exit code of bad usage and bad configuration (what most CLIs use for bad arguments). */
export const USAGE_EXIT_CODE = 2;

/** What `parseArgs` gives for each option: a string or a boolean, never undefined when it has a default. */
export type OptionValues<O extends ParseArgsOptionsConfig> = {
  -readonly [K in keyof O]: (O[K] extends { type: "boolean" } ? boolean : string) extends infer V
    ? O[K] extends { default: unknown }
      ? V
      : V | undefined
    : never;
};

/** Parses `args` (the script's arguments by default) against `options`, with `-h` / `--help` added. */
export function parseCommandLine<const O extends ParseArgsOptionsConfig>(
  usage: string,
  options: O,
  args: string[] = process.argv.slice(2),
): OptionValues<O> {
  let values: Record<string, unknown>;
  try {
    const parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h", default: false } },
      strict: true,
      allowPositionals: false,
      tokens: true,
    });
    values = parsed.values;
    // parseArgs keeps the last of a repeated flag: `--replay a --replay b` would drop `a` without a word.
    const seen = new Set<string>();
    for (const token of parsed.tokens) {
      if (token.kind !== "option") continue;
      if (seen.has(token.name)) return usageError(usage, `--${token.name} given more than once`);
      seen.add(token.name);
    }
  } catch (error) {
    return usageError(usage, (error as Error).message);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values as OptionValues<O>;
}

/** Prints `message` and the usage on stderr and exits 2: for a value the parser let through. */
export function usageError(usage: string, message: string): never {
  console.error(`${message}\n\n${usage}`);
  process.exit(USAGE_EXIT_CODE);
}

/**
 * `raw` as the number a flag needs, or a usage error naming it (`--hours: must be a number ≥ 0.01, got
 * soon`): at least `atLeast`, or above `above`, and a safe integer when `integer`.
 */
export function numberFlag(
  usage: string,
  flag: string,
  raw: string,
  bound: { atLeast: number } | { above: number },
  integer = false,
): number {
  const n = Number(raw);
  const within = "atLeast" in bound ? n >= bound.atLeast : n > bound.above;
  if (raw.trim() === "" || !Number.isFinite(n) || !within || (integer && !Number.isSafeInteger(n))) {
    const limit = "atLeast" in bound ? `≥ ${bound.atLeast}` : `> ${bound.above}`;
    usageError(usage, `--${flag}: must be ${integer ? "an integer" : "a number"} ${limit}, got ${raw}`);
  }
  return n;
}

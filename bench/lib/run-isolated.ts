/**
 * Runs each bench variant in a fresh `bun` process, so that no variant inherits another's JIT state, heap,
 * threads or connections, and reports the median of several rounds. A variant is an exported async function
 * of a module, returning one `Measurement` or several; `bench/lib/child.ts` imports and calls it in the child.
 */
import { fileURLToPath } from "node:url";
import type { Measurement } from "./report.ts";

/** Marks the child's result lines on its stdout; everything else the child prints is passed to stderr. */
export const RESULT_MARKER = "@troupe-bench-result ";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Variant {
  /** `href` of the module exporting `fn`. */
  module: string;
  /** Name of the exported async function that measures, e.g. `batchedFrames`. */
  fn: string;
  /** Its arguments, sent to the child as JSON. */
  args: Json[];
}

/** A variant calling `fn(...args)` from `module` (pass `import.meta.url` for the calling module). */
export function variant(module: string | URL, fn: string, ...args: Json[]): Variant {
  return { module: String(module), fn, args };
}

export interface IsolatedOptions {
  /** Rounds per variant; rounds are interleaved (A B C, A B C…) so that drift hits every variant alike. */
  rounds: number;
  /** Kill a child that runs longer than this. */
  timeoutMs?: number;
}

/** The medians of a set of variants, looked up by bench and metric. */
export class Results {
  readonly #byKey: ReadonlyMap<string, Measurement>;

  constructor(measurements: readonly Measurement[]) {
    this.#byKey = new Map(measurements.map((m) => [key(m.bench, m.metric), m]));
  }

  /** The median measurement of `bench` `metric`; throws if no variant produced it. */
  get(bench: string, metric: string): Measurement {
    const m = this.#byKey.get(key(bench, metric));
    if (m === undefined) throw new Error(`no result for "${bench} ${metric}"`);
    return m;
  }

  /** Whether some variant produced `bench` `metric`. */
  has(bench: string, metric: string): boolean {
    return this.#byKey.has(key(bench, metric));
  }

  all(): Measurement[] {
    return [...this.#byKey.values()];
  }
}

function key(bench: string, metric: string): string {
  return `${bench}\u0000${metric}`;
}

/** Runs every variant `rounds` times, each run in its own process, and returns the medians. */
export async function runIsolated(
  variants: readonly Variant[],
  { rounds, timeoutMs = 120_000 }: IsolatedOptions,
): Promise<Results> {
  const samples = new Map<string, Measurement[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const v of variants) {
      process.stderr.write(
        `[round ${round}/${rounds}] ${v.fn}(${v.args.map((a) => JSON.stringify(a)).join(", ")})\n`,
      );
      for (const m of await runInChild(v, timeoutMs)) {
        const list = samples.get(key(m.bench, m.metric)) ?? [];
        list.push(m);
        samples.set(key(m.bench, m.metric), list);
      }
    }
  }
  return new Results([...samples.values()].map(medianOf));
}

function medianOf(list: readonly Measurement[]): Measurement {
  const values = list.map((m) => m.value).sort((a, b) => a - b);
  const mid = values.length >> 1;
  const value = values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
  return { ...list[0]!, value };
}

/** Runs one variant in a fresh `bun` process and returns what it measured. */
export async function runInChild(v: Variant, timeoutMs = 120_000): Promise<Measurement[]> {
  const child = Bun.spawn({
    cmd: [
      process.execPath,
      fileURLToPath(new URL("./child.ts", import.meta.url)),
      v.module,
      v.fn,
      JSON.stringify(v.args),
    ],
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]).finally(() =>
    clearTimeout(timer),
  );
  const results: Measurement[] = [];
  for (const line of out.split("\n")) {
    if (line.startsWith(RESULT_MARKER))
      results.push(JSON.parse(line.slice(RESULT_MARKER.length)) as Measurement);
    else if (line !== "") process.stderr.write(`${line}\n`);
  }
  if (code !== 0 || results.length === 0) {
    const why = child.signalCode === "SIGKILL" ? `killed after ${timeoutMs} ms` : `exit code ${code}`;
    throw new Error(`variant ${v.fn} of ${v.module} failed (${why}, ${results.length} results)`);
  }
  return results;
}

/**
 * What a handler's result asks the pump to write. The pump writes every output idempotently before
 * acking the source entry, scoping `dedupId` by source stream, group and entry id, so a redelivered
 * entry (crash, claim, replay) never writes the same output twice.
 */
import { TroupeError } from "../errors.ts";
import type { WriteFields } from "./backend.ts";

export interface Output {
  /** Stream the output is appended to. */
  readonly stream: string;
  /** Unique among the outputs of one entry (e.g. the detector name), or across the output stream (`scope`). */
  readonly dedupId: string;
  /**
   * `"entry"`: `dedupId` is scoped by source stream, group and entry id (a redelivery of this entry writes
   * nothing twice). `"global"`: `dedupId` alone identifies the output in its stream, for outputs that a
   * different entry may produce again (an alert re-derived after a restart rebuilt the actor's state).
   * `"source"`: written under the source entry's own id (`StreamBackend.appendAt`), so the output stream
   * keeps the source's order and a redelivery writes nothing twice, with no dedup marker: for a stream
   * that one actor's group feeds in its source's order (a re-keyed copy), one output per stream per entry.
   * @defaultValue "entry"
   */
  readonly scope?: "entry" | "global" | "source";
  /** Encoded with the pump's codec; give either `payload` or raw `fields`. */
  readonly payload?: unknown;
  readonly fields?: WriteFields;
}

export type Outputs = readonly Output[];

/** Maps a handler result to outputs; throw `ERR_INVALID_OUTPUT` for a result that cannot be written. */
export type OutputsOf<R> = (result: R | undefined) => Outputs;

/**
 * The default reading of a result: an `Output[]`, or an object with an `outputs` array, each
 * validated; anything else (`undefined`, a number, a plain object) means "no outputs".
 */
export function defaultOutputsOf(result: unknown): Outputs {
  const list = Array.isArray(result)
    ? result
    : typeof result === "object" &&
        result !== null &&
        Array.isArray((result as { outputs?: unknown }).outputs)
      ? (result as { outputs: unknown[] }).outputs
      : [];
  list.forEach(validateOutput);
  return list as Outputs;
}

/**
 * Refuses a second `"source"` output to one stream from one entry: both would be written under the entry's
 * id, so the second would be taken for a duplicate and lost.
 */
export function checkSourceOutputs(outputs: Outputs): void {
  let streams: Set<string> | undefined;
  outputs.forEach((output, index) => {
    if (output.scope !== "source") return;
    streams ??= new Set();
    if (streams.has(output.stream))
      throw new TroupeError(
        "ERR_INVALID_OUTPUT",
        `output ${index} is a second "source" output to ${output.stream} (one per stream per entry)`,
      );
    streams.add(output.stream);
  });
}

function validateOutput(output: unknown, index: number): void {
  const o = output as Partial<Output> | null;
  const problem =
    typeof o !== "object" || o === null
      ? "is not an object"
      : typeof o.stream !== "string" || o.stream === ""
        ? "has no stream"
        : typeof o.dedupId !== "string" || o.dedupId === ""
          ? "has no dedupId"
          : (o.payload === undefined) === (o.fields === undefined)
            ? "needs exactly one of payload or fields"
            : o.scope !== undefined && o.scope !== "entry" && o.scope !== "global" && o.scope !== "source"
              ? 'has a scope other than "entry", "global" or "source"'
              : null;
  if (problem) throw new TroupeError("ERR_INVALID_OUTPUT", `output ${index} ${problem}`);
}

/**
 * The in-process channel of the findings stream: a finding or progress mark raised by the wallet or
 * pattern analyzer goes to the sybil actor at once when it runs in the same process (`Pump.handOver`),
 * besides the findings stream. The sybil analyzer's entries wait for the other two's marks, and through the
 * stream a mark waited for its write's batch, the write and a read. Its stream copy comes after and changes
 * nothing (aligned-findings.ts knows a record by its producer's numbering). Only with durable state: the
 * sybil actor's checkpoint covers what was handed over.
 *
 * Only while the producer may read (`mayRead`, its lease held): once another process took it over, that
 * process's epoch fences the producer's stream writes, and this shortcut is closed too, or a producer still
 * finishing a message after its lease lapsed (a process thawed after a freeze) would feed the sybil actor
 * that runs here now.
 */
import { analyzerCodec } from "../detection/tx-entry.ts";
import type { EntryFields } from "../streams/backend.ts";
import { entryFields } from "../streams/entry-codec.ts";
import type { Output } from "../streams/outputs.ts";

/** Where handed-over records go: the sybil actor's findings pump, when it runs here. */
export interface HandOverTarget {
  handOver(fields: EntryFields): boolean;
}

/** Hands over `output` if it is a findings-stream record of a producer that may read now. */
export type HandOverFinding = (output: Output, mayRead: () => boolean) => void;

export function findingsHandOver(
  findings: string,
  target: () => HandOverTarget | undefined,
): HandOverFinding {
  return (output, mayRead) => {
    if (output.stream !== findings || !mayRead()) return;
    const fields = output.fields ?? analyzerCodec.encode(output.payload);
    target()?.handOver(entryFields(fields));
  };
}

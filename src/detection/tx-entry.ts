/**
 * Tx entries between Ingest and the analyzers: a chain event (or a tick) as JSON in field `json`
 * (entry-codec.ts). Ingest validates every event before writing it (a bad one goes to the tx dead-letter
 * stream once, with its source and line) and marks its entries with `validated: ingest`; the analyzer actor
 * only parses a marked entry, and validates anything else the stream holds (written by another tool, or
 * before the mark existed), rejecting it there when invalid. The mark is a claim, not a proof: a tool that
 * writes it takes on Ingest's validation.
 *
 * Why skip the second validation: each event is analyzed three times (one worker per analyzer), and there
 * validation cost 7–18% of a worker's time per event (2 h of seed 1, CPU time, parse + validate + analyze
 * 4.3 / 5.7 / 4.1 µs vs parse + analyze 3.8–4.0 / 4.7–5.6 / 3.5–4.2 µs for wallet / pattern / sybil).
 */
import type { EntryFields, WriteFields } from "../streams/backend.ts";
import { defaultCodec, type EntryCodec, JSON_FIELD, jsonCodec } from "../streams/entry-codec.ts";

/** The field by which Ingest marks an entry it validated. */
export const VALIDATED_FIELD = "validated";
const VALIDATED_BY = "ingest";

/** What Ingest writes: the JSON entry, marked. */
export const ingestCodec: EntryCodec = {
  encode: (payload: unknown): WriteFields => ({
    ...jsonCodec.encode(payload),
    [VALIDATED_FIELD]: VALIDATED_BY,
  }),
  decode: jsonCodec.decode,
};

/**
 * What the analyzers' pumps read: a marked entry is handed over still encoded (its JSON bytes), for the
 * worker to parse ({@link decodeIngested}); any other entry is decoded here as the default codec does, and
 * validated in the worker. Their outputs (the alerts) are written as plain JSON.
 */
export const analyzerCodec: EntryCodec = {
  encode: jsonCodec.encode,
  decode: (fields: EntryFields): unknown =>
    (fields[VALIDATED_FIELD] === undefined ? undefined : fields[JSON_FIELD]) ?? defaultCodec.decode(fields),
};

/** Parses the JSON bytes of a marked entry; throws `ERR_DECODE` when they are not JSON. */
export function decodeIngested(bytes: Uint8Array): unknown {
  return jsonCodec.decode({ [JSON_FIELD]: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
}

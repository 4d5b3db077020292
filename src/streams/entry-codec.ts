/**
 * Stream entry payloads. Troupe writes one field: `d`, holding a msgpackr value (the default), or `json`,
 * holding JSON text (`jsonCodec`). Every decoder reads both, and entries written by other tools too: any
 * other field map becomes an object of UTF-8 strings. Anything else fails with `ERR_DECODE`, which the pump turns into a dead
 * letter with the reason, instead of a crash or a silent drop.
 */
import { C1, Packr } from "msgpackr";
import { InvalidOptionError, messageOf, TroupeError } from "../errors.ts";
import type { EntryFields, WriteFields } from "./backend.ts";

export interface EntryCodec<T = unknown> {
  encode(payload: T): WriteFields;
  /** Throws a `TroupeError` with code `ERR_DECODE` when the entry cannot be read. */
  decode(fields: EntryFields): T;
}

/** The field that carries Troupe's msgpack payload. */
export const PAYLOAD_FIELD = "d";
/** The field a JSON-writing producer may use instead. */
export const JSON_FIELD = "json";

// Plain maps, no record extension: entries must stay readable by any msgpack decoder. `moreTypes`: typed
// arrays and Sets travel as msgpackr's extensions; without it a Float64Array was written as its values cut
// to bytes followed by stale bytes of the encode buffer (a spec test; the mailbox had met the same).
const packr = new Packr({ useRecords: false, moreTypes: true });
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A payload the codec cannot hold (a BigInt past 64 bits, a cycle): `ERR_ENCODE`, not the library's own error. */
function encodeError(format: string, cause: unknown): TroupeError {
  return new TroupeError("ERR_ENCODE", `the payload cannot be encoded as ${format}: ${messageOf(cause)}`, {
    cause,
  });
}

function decodeError(message: string, cause?: unknown): TroupeError {
  return new TroupeError("ERR_DECODE", message, cause === undefined ? {} : { cause });
}

/** The default codec: msgpackr in `d`, with the JSON and field-map fallbacks. */
export const defaultCodec: EntryCodec = {
  encode(payload: unknown): WriteFields {
    let packed: Uint8Array;
    try {
      packed = packr.pack(payload);
    } catch (error) {
      throw encodeError("msgpack", error);
    }
    // Copy: pack() returns a view on a buffer msgpackr reuses for the next pack.
    return { [PAYLOAD_FIELD]: Buffer.from(packed) };
  },

  decode(fields: EntryFields): unknown {
    const packed = fields[PAYLOAD_FIELD];
    if (packed !== undefined) return unpackPayload(packed);
    const json = fields[JSON_FIELD];
    if (json !== undefined) return parseJson(json);
    return fieldMap(fields);
  },
};

function unpackPayload(bytes: Buffer): unknown {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (error) {
    throw decodeError(`field "${PAYLOAD_FIELD}" is not msgpack: ${(error as Error).message}`, error);
  }
  // 0xC1 is "never used" in msgpack; msgpackr returns a marker object instead of throwing.
  if (value === C1 || (typeof value === "object" && value?.constructor?.name === "C1Type")) {
    throw decodeError(`field "${PAYLOAD_FIELD}" is not msgpack: reserved byte 0xC1`);
  }
  return value;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch (error) {
    throw decodeError(`field "${JSON_FIELD}" is not JSON: ${(error as Error).message}`, error);
  }
}

function fieldMap(fields: EntryFields): Record<string, string> {
  const names = Object.keys(fields);
  if (names.length === 0) throw decodeError("entry has no fields");
  const out: Record<string, string> = {};
  for (const name of names) {
    try {
      out[name] = utf8.decode(fields[name]);
    } catch (error) {
      throw decodeError(`field "${name}" is neither msgpack in "${PAYLOAD_FIELD}" nor UTF-8 text`, error);
    }
  }
  return out;
}

/**
 * JSON in field `json`. For string-heavy payloads such as chain events it is the faster format on Bun:
 * JSON.parse is native, and the strings it makes are ~2× cheaper for the consumer to key maps with than
 * msgpackr's (decode + validate + analyze: 5.7 vs 11.9 µs per event). It is also readable with redis-cli.
 */
export const jsonCodec: EntryCodec = {
  encode(payload: unknown): WriteFields {
    let text: string | undefined;
    try {
      text = JSON.stringify(payload);
    } catch (error) {
      throw encodeError("JSON", error);
    }
    if (text === undefined) throw new TroupeError("ERR_ENCODE", `cannot encode ${typeof payload} as JSON`);
    // The text as is: the backend writes it as UTF-8 once (an encoded copy here would be copied again).
    return { [JSON_FIELD]: text };
  },
  decode: defaultCodec.decode,
};

/**
 * Hands the payload over still encoded (the `d` field's bytes), so the consumer decodes it where it runs:
 * in the actor's worker, in parallel, instead of on the main thread every entry of every group crosses.
 * Entries written by other tools (a `json` field, plain fields) are decoded as the default codec does.
 */
export const rawPayloadCodec: EntryCodec = {
  encode: defaultCodec.encode,
  decode: (fields: EntryFields): unknown => fields[PAYLOAD_FIELD] ?? defaultCodec.decode(fields),
};

/**
 * Hands a `json` field over still encoded (its UTF-8 bytes), for a consumer that parses in its worker, as
 * `rawPayloadCodec` does for msgpack. Entries in any other form are decoded as the default codec does.
 */
export const rawJsonCodec: EntryCodec = {
  encode: jsonCodec.encode,
  decode: (fields: EntryFields): unknown => fields[JSON_FIELD] ?? defaultCodec.decode(fields),
};

/** Fields to write as a read gives them back: a copy in bytes (a caller may reuse its buffer: msgpackr does). */
export function entryFields(fields: WriteFields): EntryFields {
  const out: EntryFields = {};
  for (const key in fields) {
    const value = fields[key]!;
    out[key] = typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
  }
  return out;
}

/** Refuses, naming `option`, what is no codec: an object with `encode` and `decode` functions. */
export function checkCodec(option: string, codec: unknown): void {
  const c = codec as { encode?: unknown; decode?: unknown } | null;
  if (typeof c?.encode !== "function" || typeof c.decode !== "function")
    throw new InvalidOptionError(
      option,
      "must be an entry codec: { encode, decode } (defaultCodec, jsonCodec, …)",
    );
}

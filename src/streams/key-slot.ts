/**
 * Redis Cluster key placement. A key's slot is the CRC16 (XMODEM) of its hash tag (the text between its
 * first `{` and the next `}`, when not empty) or of the whole key, mod 16384. Keys that a script or a
 * pipeline touches together must share a slot, so every key derived from a stream (dedup markers, durable
 * state) is named under the stream's {@link slotPrefix}.
 */
import { InvalidOptionError } from "../errors.ts";

export const CLUSTER_SLOTS = 16_384;

const utf8 = new TextEncoder();

/**
 * CRC16-XMODEM a byte at a time from a table, as Redis's own crc16.c does: a key's slot is computed for
 * every output written on a cluster, and the bit-by-bit loop over a 48-byte untagged key took 1.8 µs.
 */
const CRC16_TABLE = Uint16Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});

/** The hash tag Redis Cluster hashes for `key`, or null when the whole key is hashed. */
export function hashTag(key: string): string | null {
  const open = key.indexOf("{");
  if (open < 0) return null;
  const close = key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}

/** The Redis Cluster slot of `key`. */
export function keySlot(key: string): number {
  return crc16(hashTag(key) ?? key) % CLUSTER_SLOTS;
}

/**
 * `key` itself when it carries a hash tag, else `{key}`: a prefix whose keys all share `key`'s slot
 * (`{tx}:x` hashes like `tx`). `setting` names what `key` is in the error for a key that cannot have one.
 */
export function slotPrefix(key: string, setting = "stream"): string {
  if (key === "") throw new InvalidOptionError(setting, "must be a non-empty stream key");
  if (hashTag(key) !== null) return key;
  // `{a}b}` would tag `a`, not the key: no key can then share the key's slot by its tag.
  if (key.includes("}"))
    throw new InvalidOptionError(setting, `"${key}" has a '}' but no hash tag; give it a {tag}`);
  return `{${key}}`;
}

/** CRC16 of the UTF-8 bytes of `text`: straight from its char codes while they are ASCII (no copy). */
function crc16(text: string): number {
  let crc = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return crc16Bytes(utf8.encode(text));
    crc = ((crc << 8) ^ (CRC16_TABLE[((crc >> 8) ^ code) & 0xff] as number)) & 0xffff;
  }
  return crc;
}

function crc16Bytes(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number)) & 0xffff;
  return crc;
}

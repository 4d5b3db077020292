/**
 * Strings as bytes in checkpoints, losslessly. A JavaScript string is a sequence of UTF-16 units that may
 * hold a lone surrogate ("k\uDC00"), which UTF-8 cannot express: TextEncoder writes U+FFFD in its place, so
 * a key came back from a restore as another key. Such a string is written as WTF-8 instead (UTF-8 that
 * also encodes a lone surrogate as its 3-byte form, as Rust's OsString on Windows does), which is UTF-8
 * itself for every well-formed string: the bytes of the keys a compaction compares do not change.
 */

const encoder = new TextEncoder();

/** Writes `text` at `at` (room for 3 bytes per UTF-16 unit); returns the bytes written. */
export function encodeTextInto(text: string, bytes: Uint8Array, at: number): number {
  if (text.isWellFormed()) return encoder.encodeInto(text, bytes.subarray(at, at + text.length * 3)).written;
  let i = at;
  for (let u = 0; u < text.length; u++) {
    const code = text.charCodeAt(u);
    if (code < 0x80) bytes[i++] = code;
    else if (code < 0x800) {
      bytes[i++] = 0xc0 | (code >> 6);
      bytes[i++] = 0x80 | (code & 0x3f);
    } else {
      const next = text.charCodeAt(u + 1);
      if (code >= 0xd800 && code < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
        const point = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        bytes[i++] = 0xf0 | (point >> 18);
        bytes[i++] = 0x80 | ((point >> 12) & 0x3f);
        bytes[i++] = 0x80 | ((point >> 6) & 0x3f);
        bytes[i++] = 0x80 | (point & 0x3f);
        u++;
      } else {
        bytes[i++] = 0xe0 | (code >> 12);
        bytes[i++] = 0x80 | ((code >> 6) & 0x3f);
        bytes[i++] = 0x80 | (code & 0x3f);
      }
    }
  }
  return i - at;
}

/** `text`'s bytes, as {@link encodeTextInto} writes them. */
export function encodeText(text: string): Uint8Array {
  if (text.isWellFormed()) return encoder.encode(text);
  const bytes = new Uint8Array(text.length * 3);
  return bytes.subarray(0, encodeTextInto(text, bytes, 0));
}

/** The string whose bytes are `bytes[start, end)`, as {@link encodeTextInto} wrote it. */
export function decodeText(bytes: Buffer, start: number, end: number): string {
  const text = bytes.toString("utf8", start, end);
  // A lone surrogate's bytes are not UTF-8: the native decoder gives U+FFFD for each of them. A U+FFFD the
  // string held comes back the same way, decoded by hand.
  if (!text.includes("\uFFFD")) return text;
  const units: number[] = [];
  for (let i = start; i < end; ) {
    const byte = bytes[i] as number;
    if (byte < 0x80) {
      units.push(byte);
      i++;
    } else if (byte < 0xe0) {
      units.push(((byte & 0x1f) << 6) | ((bytes[i + 1] as number) & 0x3f));
      i += 2;
    } else if (byte < 0xf0) {
      units.push(
        ((byte & 0x0f) << 12) | (((bytes[i + 1] as number) & 0x3f) << 6) | ((bytes[i + 2] as number) & 0x3f),
      );
      i += 3;
    } else {
      const point =
        ((byte & 0x07) << 18) |
        (((bytes[i + 1] as number) & 0x3f) << 12) |
        (((bytes[i + 2] as number) & 0x3f) << 6) |
        ((bytes[i + 3] as number) & 0x3f);
      units.push(0xd800 + ((point - 0x10000) >> 10), 0xdc00 + ((point - 0x10000) & 0x3ff));
      i += 4;
    }
  }
  let out = "";
  for (let i = 0; i < units.length; i += 4096) out += String.fromCharCode(...units.slice(i, i + 4096));
  return out;
}

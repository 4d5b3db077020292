/**
 * The live records of one table while a compaction folds a changelog (state-compaction.ts), indexed by
 * their keys' bytes where they lie in the segments: no key is decoded into a string. An open-addressing hash
 * table with linear probing over typed arrays (per slot: the key's hash, where its record is, its place in
 * the table's order), as RocksDB's compactions compare keys as bytes. A Map keyed by Latin-1 strings did the
 * same job at a string and two hash lookups per record: the fold was 35% slower (bench: docs/benchmarks.md).
 *
 * Order is a Map's: an insert gives its key the next place (moved to the end if it was there), an update
 * keeps the place it had (a new key gets the next one), a delete drops it.
 */
import { RecordKind } from "./state-segment.ts";

/** A record's position: segment index × 2^32 + the offset of its key (its length prefix). */
export const SEGMENT_SHIFT = 2 ** 32;

const EMPTY = -1;

export class RecordIndex {
  /** The table's name as its UTF-8 bytes, for the output sections. */
  readonly name: Uint8Array;
  #hashes = new Int32Array(16);
  #positions = new Float64Array(16).fill(EMPTY);
  #places = new Float64Array(16);
  #mask = 15;
  #size = 0;
  #nextPlace = 0;

  constructor(name: Uint8Array) {
    this.name = name;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Applies a record of `kind` whose key is `keyLength` bytes at `keyAt` of `segments[segment]` (its length
   * prefix at `keyStart`). `fresh`: the key is known to be absent (a base's records, fed first).
   */
  apply(
    segments: readonly Uint8Array[],
    segment: number,
    keyStart: number,
    keyAt: number,
    keyLength: number,
    hash: number,
    kind: RecordKind,
    fresh: boolean,
  ): void {
    const positions = this.#positions;
    const mask = this.#mask;
    const position = segment * SEGMENT_SHIFT + keyStart;
    let slot = hash & mask;
    if (!fresh) {
      const hashes = this.#hashes;
      const bytes = segments[segment] as Uint8Array;
      for (let at = positions[slot] as number; at !== EMPTY; at = positions[slot] as number) {
        if (hashes[slot] === hash && sameKey(segments, at, bytes, keyAt, keyLength)) {
          if (kind === RecordKind.delete) this.#remove(slot);
          else {
            positions[slot] = position;
            if (kind === RecordKind.insert) this.#places[slot] = this.#nextPlace++;
          }
          return;
        }
        slot = (slot + 1) & mask;
      }
      if (kind === RecordKind.delete) return;
    } else {
      while (positions[slot] !== EMPTY) slot = (slot + 1) & mask;
    }
    positions[slot] = position;
    this.#hashes[slot] = hash;
    this.#places[slot] = this.#nextPlace++;
    if (++this.#size * 2 > mask) this.#grow();
  }

  /** The live records' positions, in the table's order. */
  ordered(): Float64Array {
    // Places are distinct and below #nextPlace: laid out by place, then read in order with the gaps skipped.
    const byPlace = new Float64Array(this.#nextPlace).fill(EMPTY);
    const positions = this.#positions;
    const places = this.#places;
    for (let slot = 0; slot < positions.length; slot++) {
      const position = positions[slot] as number;
      if (position !== EMPTY) byPlace[places[slot] as number] = position;
    }
    const out = new Float64Array(this.#size);
    let n = 0;
    for (let place = 0; place < byPlace.length; place++) {
      const position = byPlace[place] as number;
      if (position !== EMPTY) out[n++] = position;
    }
    return out;
  }

  /** Empties `slot`, moving up the records after it that probed past it (no tombstones to skip later). */
  #remove(slot: number): void {
    const positions = this.#positions;
    const hashes = this.#hashes;
    const places = this.#places;
    const mask = this.#mask;
    let hole = slot;
    for (let next = (slot + 1) & mask; positions[next] !== EMPTY; next = (next + 1) & mask) {
      const home = (hashes[next] as number) & mask;
      const reachable = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (reachable) continue;
      positions[hole] = positions[next] as number;
      hashes[hole] = hashes[next] as number;
      places[hole] = places[next] as number;
      hole = next;
    }
    positions[hole] = EMPTY;
    this.#size--;
  }

  #grow(): void {
    const positions = this.#positions;
    const hashes = this.#hashes;
    const places = this.#places;
    const capacity = positions.length * 2;
    this.#positions = new Float64Array(capacity).fill(EMPTY);
    this.#hashes = new Int32Array(capacity);
    this.#places = new Float64Array(capacity);
    this.#mask = capacity - 1;
    for (let from = 0; from < positions.length; from++) {
      if (positions[from] === EMPTY) continue;
      let slot = (hashes[from] as number) & this.#mask;
      while (this.#positions[slot] !== EMPTY) slot = (slot + 1) & this.#mask;
      this.#positions[slot] = positions[from] as number;
      this.#hashes[slot] = hashes[from] as number;
      this.#places[slot] = places[from] as number;
    }
  }
}

/** FNV-1a over `length` bytes at `at`. */
export function hashBytes(bytes: Uint8Array, at: number, length: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < length; i++) hash = Math.imul(hash ^ (bytes[at + i] as number), 0x01000193);
  return hash;
}

/** Whether the key at `position` (a length prefix, then its bytes) is the `keyLength` bytes at `keyAt`. */
function sameKey(
  segments: readonly Uint8Array[],
  position: number,
  bytes: Uint8Array,
  keyAt: number,
  keyLength: number,
): boolean {
  const other = segments[Math.floor(position / SEGMENT_SHIFT)] as Uint8Array;
  let at = position % SEGMENT_SHIFT;
  let length = 0;
  let scale = 1;
  let byte: number;
  do {
    byte = other[at++] as number;
    length += (byte & 0x7f) * scale;
    scale *= 128;
  } while (byte >= 0x80);
  if (length !== keyLength) return false;
  for (let i = 0; i < length; i++) if (other[at + i] !== bytes[keyAt + i]) return false;
  return true;
}

/**
 * The live records of one table while a compaction folds a changelog (state-compaction.ts), indexed by
 * their keys' bytes where they lie in the segments: no key is decoded into a string. An open-addressing hash
 * table with linear probing over typed arrays (per slot: the key's hash, where its record lies and how long
 * it is, where its key's bytes are, its place in the table's order), as RocksDB's compactions compare keys
 * as bytes. A Map keyed by Latin-1 strings did the same job at a string and two hash lookups per record:
 * scanning and indexing took 4.3 s where this takes 2.4–2.7 s (docs/benchmarks.md).
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
  /** The record's bytes from its key's length prefix to its value's end. */
  #lengths = new Int32Array(16);
  /** The key's bytes: how far after the position they begin (its length prefix), and how many. */
  #keyOffsets = new Uint8Array(16);
  #keyLengths = new Int32Array(16);
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
   * Applies a record of `kind` that spans `length` bytes from `keyStart` in `segments[segment]`, its key
   * the `keyLength` bytes at `keyAt`. `fresh`: the key is known to be absent (a base's records, fed first).
   */
  apply(
    segments: readonly Uint8Array[],
    segment: number,
    keyStart: number,
    length: number,
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
        if (
          hashes[slot] === hash &&
          this.#keyLengths[slot] === keyLength &&
          sameBytes(
            segments[Math.floor(at / SEGMENT_SHIFT)] as Uint8Array,
            (at % SEGMENT_SHIFT) + (this.#keyOffsets[slot] as number),
            bytes,
            keyAt,
            keyLength,
          )
        ) {
          if (kind === RecordKind.delete) this.#remove(slot);
          else {
            this.#set(slot, position, length, keyAt - keyStart, keyLength);
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
    this.#set(slot, position, length, keyAt - keyStart, keyLength);
    this.#hashes[slot] = hash;
    this.#places[slot] = this.#nextPlace++;
    if (++this.#size * 2 > mask) this.#grow();
  }

  /** The live records' positions and lengths, in the table's order. */
  ordered(): { positions: Float64Array; lengths: Int32Array } {
    // Places are distinct and below #nextPlace: slots laid out by place, then read in order, gaps skipped.
    const byPlace = new Int32Array(this.#nextPlace).fill(EMPTY);
    const positions = this.#positions;
    const places = this.#places;
    for (let slot = 0; slot < positions.length; slot++)
      if (positions[slot] !== EMPTY) byPlace[places[slot] as number] = slot;
    const out = { positions: new Float64Array(this.#size), lengths: new Int32Array(this.#size) };
    let n = 0;
    for (let place = 0; place < byPlace.length; place++) {
      const slot = byPlace[place] as number;
      if (slot === EMPTY) continue;
      out.positions[n] = positions[slot] as number;
      out.lengths[n++] = this.#lengths[slot] as number;
    }
    return out;
  }

  #set(slot: number, position: number, length: number, keyOffset: number, keyLength: number): void {
    this.#positions[slot] = position;
    this.#lengths[slot] = length;
    this.#keyOffsets[slot] = keyOffset;
    this.#keyLengths[slot] = keyLength;
  }

  /** Empties `slot`, moving up the records after it that probed past it (no tombstones to skip later). */
  #remove(slot: number): void {
    const slots = this.#slots();
    const { positions, hashes } = slots;
    const mask = this.#mask;
    let hole = slot;
    for (let next = (slot + 1) & mask; positions[next] !== EMPTY; next = (next + 1) & mask) {
      const home = (hashes[next] as number) & mask;
      const reachable = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (reachable) continue;
      this.#move(next, hole, slots);
      hole = next;
    }
    positions[hole] = EMPTY;
    this.#size--;
  }

  /** Copies slot `from` of `source` (this index's arrays, or the ones it had before it grew) into slot `to`. */
  #move(from: number, to: number, source: Slots): void {
    this.#positions[to] = source.positions[from] as number;
    this.#hashes[to] = source.hashes[from] as number;
    this.#lengths[to] = source.lengths[from] as number;
    this.#keyOffsets[to] = source.keyOffsets[from] as number;
    this.#keyLengths[to] = source.keyLengths[from] as number;
    this.#places[to] = source.places[from] as number;
  }

  #slots(): Slots {
    return {
      positions: this.#positions,
      hashes: this.#hashes,
      lengths: this.#lengths,
      keyOffsets: this.#keyOffsets,
      keyLengths: this.#keyLengths,
      places: this.#places,
    };
  }

  #grow(): void {
    const old = this.#slots();
    const capacity = old.positions.length * 2;
    this.#positions = new Float64Array(capacity).fill(EMPTY);
    this.#hashes = new Int32Array(capacity);
    this.#lengths = new Int32Array(capacity);
    this.#keyOffsets = new Uint8Array(capacity);
    this.#keyLengths = new Int32Array(capacity);
    this.#places = new Float64Array(capacity);
    this.#mask = capacity - 1;
    for (let from = 0; from < old.positions.length; from++) {
      if (old.positions[from] === EMPTY) continue;
      let slot = (old.hashes[from] as number) & this.#mask;
      while (this.#positions[slot] !== EMPTY) slot = (slot + 1) & this.#mask;
      this.#move(from, slot, old);
    }
  }
}

interface Slots {
  readonly positions: Float64Array;
  readonly hashes: Int32Array;
  readonly lengths: Int32Array;
  readonly keyOffsets: Uint8Array;
  readonly keyLengths: Int32Array;
  readonly places: Float64Array;
}

/** FNV-1a over `length` bytes at `at`. */
export function hashBytes(bytes: Uint8Array, at: number, length: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < length; i++) hash = Math.imul(hash ^ (bytes[at + i] as number), 0x01000193);
  return hash;
}

/** Whether the `length` bytes at `at` of `a` are those at `bAt` of `b`. */
function sameBytes(a: Uint8Array, at: number, b: Uint8Array, bAt: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[at + i] !== b[bAt + i]) return false;
  return true;
}

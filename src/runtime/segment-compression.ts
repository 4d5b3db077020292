/**
 * Stored segments may be compressed. A store that moves segments over the network (the Redis store) writes
 * each checkpoint's segment and each compacted base chunk as a zstd frame: every byte it stores is copied
 * into Redis's memory while other clients wait (~10 ms per fresh MB on a 2-core box), then read back by
 * compaction and restore, and the analyzers' segments shrink 2.6–2.8× at level 1 for ~3 ms per MB. A
 * segment's first byte is its version (1 or 2) and a zstd frame's first four are its magic number, so a
 * reader tells them apart (and state written before compression still restores).
 */

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd] as const;
const LEVEL = 1;

function isCompressed(stored: Uint8Array): boolean {
  return (
    stored.byteLength >= 4 &&
    stored[0] === ZSTD_MAGIC[0] &&
    stored[1] === ZSTD_MAGIC[1] &&
    stored[2] === ZSTD_MAGIC[2] &&
    stored[3] === ZSTD_MAGIC[3]
  );
}

/** The segment a stored value holds: decompressed when it is a zstd frame, else the value itself. */
export function openSegment(stored: Uint8Array): Uint8Array {
  return isCompressed(stored) ? Bun.zstdDecompressSync(stored) : stored;
}

/**
 * The value to store for `segment`: its zstd frame, compressed on Bun's thread pool so the calling thread
 * (a process's main thread) does not wait; the segment itself when that is no smaller (a tiny one).
 */
export async function compressSegment(segment: Uint8Array): Promise<Uint8Array> {
  return smaller(await Bun.zstdCompress(segment, { level: LEVEL }), segment);
}

/** {@link compressSegment} on the calling thread, for a thread whose work this is (the compaction thread). */
export function compressSegmentSync(segment: Uint8Array): Uint8Array {
  return smaller(Bun.zstdCompressSync(segment, { level: LEVEL }), segment);
}

function smaller(compressed: Uint8Array, segment: Uint8Array): Uint8Array {
  return compressed.byteLength < segment.byteLength ? compressed : segment;
}

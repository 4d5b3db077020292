/**
 * A single-producer / single-consumer ring of length-prefixed records on a SharedArrayBuffer: ceiling (c)
 * of worker-link.ts. No structured clone and no copy per message besides writing the record into the ring,
 * which is why it beats postMessage (shared/CEILINGS.md).
 *
 * - The consumer parks on `Atomics.waitAsync`, so its event loop stays free between bursts; the producer
 *   calls `Atomics.notify` only when the consumer said it parked, not once per record.
 * - Credits: the producer never has more than `window` records unconsumed and never blocks; when out of
 *   credit or room it awaits `Atomics.waitAsync` on the consumed counter, which the consumer bumps in
 *   batches of `RELEASE_EVERY` and whenever it runs dry.
 * - Positions are byte counters that wrap at 2^32 in an Int32; the capacity is a power of two, so
 *   `counter & mask` is the offset and `(head - tail) >>> 0` the bytes in use across the wrap.
 * - Every wait has a timeout: on Bun 1.4.5 an `Atomics.notify` is now and then lost (with `Atomics.wait`
 *   too), leaving a waiter parked although the value changed and the notifier saw it parked; a later
 *   notify wakes it. Seen once in a few thousand wakeups (docs/benchmarks.md); JSC had this race before
 *   (WebKit PR 7048, compare outside the waiter-list lock). A wait that times out with news counts in
 *   `lostWakeups()`.
 */

const HEAD = 0; // bytes written (producer)
const TAIL = 1; // bytes read (consumer)
const CONSUMED = 2; // records consumed (consumer): the credits
const CONSUMER_PARKED = 3; // 1 while the consumer waits on HEAD
const PRODUCER_PARKED = 4; // 1 while the producer waits on CONSUMED
const LOST_WAKEUPS = 5; // waits that timed out although the other side had moved on
/** Header size: 64 bytes keeps the counters off the first cache line of records. */
const HEADER_BYTES = 64;
/** A record length of 0 means "the rest of the ring is unused, continue at offset 0". */
const WRAP = 0;
/** Records the consumer reads before it hands the credits back. */
const RELEASE_EVERY = 256;
/** Longest a lost notify can stall either side; an idle consumer wakes this often to look. */
const WAIT_TIMEOUT_MS = 10;

/**
 * msgpackr options for the records. `sequential` writes a record structure inline only the first time and
 * refers to it after: right for one encoder feeding one decoder in order, and it decoded ~2× faster here
 * than a structure inline in every record. A new consumer therefore needs a new encoder as well.
 */
export const RING_RECORDS = { sequential: true } as const;

/** Allocates a ring with `capacity` bytes of records (a power of two). */
export function createRing(capacity: number): SharedArrayBuffer {
  if (capacity < 64 || (capacity & (capacity - 1)) !== 0) {
    throw new Error(`ring capacity must be a power of two ≥ 64, got ${capacity}`);
  }
  return new SharedArrayBuffer(HEADER_BYTES + capacity);
}

/** A record of `length` bytes takes its 4-byte length and the bytes, padded to keep lengths aligned. */
function recordBytes(length: number): number {
  return 4 + ((length + 3) & ~3);
}

class RingView {
  protected readonly ctrl: Int32Array;
  protected readonly capacity: number;
  protected readonly mask: number;
  protected readonly data: Uint8Array;
  /** The same bytes as `data`, to read and write the 4-aligned record lengths. */
  protected readonly lengths: Int32Array;

  constructor(ring: SharedArrayBuffer) {
    this.ctrl = new Int32Array(ring, 0, HEADER_BYTES / 4);
    this.capacity = ring.byteLength - HEADER_BYTES;
    this.mask = this.capacity - 1;
    this.data = new Uint8Array(ring, HEADER_BYTES);
    this.lengths = new Int32Array(ring, HEADER_BYTES);
  }

  /**
   * Waits that timed out although the awaited counter had changed: notifies the platform lost, or (rarely,
   * on a loaded machine) a notifier descheduled for the whole timeout between its store and its notify.
   */
  lostWakeups(): number {
    return Atomics.load(this.ctrl, LOST_WAKEUPS);
  }

  /** Waits while `ctrl[index]` is `value`, `WAIT_TIMEOUT_MS` at most. */
  protected async waitWhile(index: number, value: number): Promise<void> {
    const wait = Atomics.waitAsync(this.ctrl, index, value, WAIT_TIMEOUT_MS);
    if (!wait.async) return;
    if ((await wait.value) === "timed-out" && Atomics.load(this.ctrl, index) !== value) {
      Atomics.add(this.ctrl, LOST_WAKEUPS, 1);
    }
  }
}

/** The main-thread side. Use from one thread only. */
export class RingProducer extends RingView {
  #head = 0;
  #sent = 0;
  // Last values seen of the consumer's counters: re-read only when they say "full".
  #tail = 0;
  #consumed = 0;

  constructor(
    ring: SharedArrayBuffer,
    /** Records that may be written but not yet consumed. */
    private readonly window: number,
  ) {
    super(ring);
  }

  /** Writes `record` if a credit and room are left, without waiting; false otherwise. */
  tryWrite(record: Uint8Array): boolean {
    const need = recordBytes(record.length);
    let pos = this.#head & this.mask;
    const toEnd = this.capacity - pos;
    const total = toEnd < need ? toEnd + need : need;
    if (!this.#hasRoom(total)) {
      this.#refresh();
      if (!this.#hasRoom(total)) {
        if (total > this.capacity) throw new Error(`record of ${record.length} bytes exceeds the ring`);
        return false;
      }
    }
    if (toEnd < need) {
      this.lengths[pos >> 2] = WRAP;
      this.#head = (this.#head + toEnd) | 0;
      pos = 0;
    }
    this.lengths[pos >> 2] = record.length;
    this.data.set(record, pos + 4);
    this.#head = (this.#head + need) | 0;
    this.#sent = (this.#sent + 1) | 0;
    // The seq-cst store publishes the record bytes written above before the consumer can see the new head.
    Atomics.store(this.ctrl, HEAD, this.#head);
    if (
      Atomics.load(this.ctrl, CONSUMER_PARKED) === 1 &&
      Atomics.compareExchange(this.ctrl, CONSUMER_PARKED, 1, 0) === 1
    ) {
      Atomics.notify(this.ctrl, HEAD);
    }
    return true;
  }

  /** Writes `record`, awaiting credit or room (never blocking the thread) as long as needed. */
  async write(record: Uint8Array): Promise<void> {
    while (!this.tryWrite(record)) await this.#consumerProgress();
  }

  /** Resolves once the consumer has consumed every record written so far. */
  async drained(): Promise<void> {
    for (;;) {
      this.#refresh();
      if (this.#consumed === this.#sent) return;
      await this.#consumerProgress();
    }
  }

  #hasRoom(total: number): boolean {
    return (
      ((this.#sent - this.#consumed) | 0) < this.window &&
      this.capacity - ((this.#head - this.#tail) >>> 0) >= total
    );
  }

  #refresh(): void {
    // CONSUMED first: the consumer stores TAIL before CONSUMED, so this tail covers at least these credits.
    this.#consumed = Atomics.load(this.ctrl, CONSUMED);
    this.#tail = Atomics.load(this.ctrl, TAIL);
  }

  /** Waits until the consumer hands back credits it had not when `#consumed` was read. */
  async #consumerProgress(): Promise<void> {
    Atomics.store(this.ctrl, PRODUCER_PARKED, 1);
    // Re-read after raising the flag: a release that came before it would otherwise go unnoticed.
    const seen = Atomics.load(this.ctrl, CONSUMED);
    if (seen === this.#consumed) await this.waitWhile(CONSUMED, seen);
    Atomics.store(this.ctrl, PRODUCER_PARKED, 0);
  }
}

/** The worker side. Use from one thread only. */
export class RingConsumer extends RingView {
  #tail = 0;
  #consumed = 0;
  #unreleased = 0;

  /**
   * Passes every record written so far to `onRecord` as a range of the ring's bytes, valid only during the
   * call. A range rather than a subarray: decoders such as msgpackr cache a DataView per source array,
   * so one array for the whole ring spares an allocation per record.
   */
  drain(onRecord: (ring: Uint8Array, start: number, end: number) => void): void {
    let head = Atomics.load(this.ctrl, HEAD);
    while (this.#tail !== head) {
      const pos = this.#tail & this.mask;
      const length = this.lengths[pos >> 2]!;
      if (length === WRAP) {
        this.#tail = (this.#tail + this.capacity - pos) | 0;
      } else {
        onRecord(this.data, pos + 4, pos + 4 + length);
        this.#tail = (this.#tail + recordBytes(length)) | 0;
        this.#consumed = (this.#consumed + 1) | 0;
        if (++this.#unreleased === RELEASE_EVERY) this.#release();
      }
      if (this.#tail === head) head = Atomics.load(this.ctrl, HEAD);
    }
    this.#release();
  }

  /** Resolves once the producer has written past what `drain` consumed. */
  async park(): Promise<void> {
    Atomics.store(this.ctrl, CONSUMER_PARKED, 1);
    await this.waitWhile(HEAD, this.#tail);
    Atomics.store(this.ctrl, CONSUMER_PARKED, 0);
  }

  #release(): void {
    this.#unreleased = 0;
    Atomics.store(this.ctrl, TAIL, this.#tail);
    Atomics.store(this.ctrl, CONSUMED, this.#consumed);
    if (
      Atomics.load(this.ctrl, PRODUCER_PARKED) === 1 &&
      Atomics.compareExchange(this.ctrl, PRODUCER_PARKED, 1, 0) === 1
    ) {
      Atomics.notify(this.ctrl, CONSUMED);
    }
  }
}

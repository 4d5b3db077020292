/**
 * Ceiling (c) consumer: receives the ring once, then decodes records for as long as it lives, parked on
 * `Atomics.waitAsync` whenever the ring is empty. The producer learns of progress through the ring's
 * credits, so nothing is posted back.
 */
import { Unpackr } from "msgpackr";
import { RING_RECORDS, RingConsumer } from "../ring.ts";

declare const self: Worker;

self.onmessage = async (event: MessageEvent<SharedArrayBuffer>) => {
  const ring = new RingConsumer(event.data);
  const unpackr = new Unpackr(RING_RECORDS);
  const decode = (bytes: Uint8Array, start: number, end: number) => unpackr.unpack(bytes, { start, end });
  for (;;) {
    ring.drain(decode);
    await ring.park();
  }
};

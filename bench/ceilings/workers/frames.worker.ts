/**
 * Ceiling (b) receiver: each message is a transferred ArrayBuffer holding one msgpackr-encoded array of
 * objects. Decodes every object and hands the credits back after each frame as its cumulative count.
 */
import { Unpackr } from "msgpackr";

declare const self: Worker;

const unpackr = new Unpackr();
let received = 0;

self.onmessage = (event: MessageEvent<ArrayBuffer>) => {
  const batch = unpackr.unpack(new Uint8Array(event.data)) as unknown[];
  received += batch.length;
  self.postMessage(received);
};

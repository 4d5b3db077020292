/**
 * Ceiling (a) receiver: one structured-cloned object per message. Hands credits back as its cumulative
 * count every `CREDIT_EVERY` messages, and on `null`, the sender's end-of-round marker.
 */
// The export makes this file a module, so `self` is declared in its own scope and not as a global.
export {};

declare const self: Worker;

const CREDIT_EVERY = 1024;
let received = 0;

self.onmessage = (event: MessageEvent<unknown>) => {
  if (event.data === null) {
    self.postMessage(received);
    return;
  }
  if (++received % CREDIT_EVERY === 0) self.postMessage(received);
};

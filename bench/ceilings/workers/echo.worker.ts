/** Ping-pong receiver: posts every message straight back. */
// The export makes this file a module, so `self` is declared in its own scope and not as a global.
export {};

declare const self: Worker;

self.onmessage = (event: MessageEvent<unknown>) => {
  self.postMessage(event.data);
};

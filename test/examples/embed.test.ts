import { expect, test } from "bun:test";
import { startWordCounter } from "../../examples/embed/server.ts";

test("the embedding example counts words in worker actors behind a Bun HTTP server", async () => {
  const app = await startWordCounter(0);
  try {
    const posted = await fetch(`${app.url}/text`, {
      method: "POST",
      body: "To be, or not to be: that is the question. To be!",
    });
    expect(await posted.json()).toEqual({ accepted: 12 });
    const be = await fetch(`${app.url}/count/BE`);
    expect(await be.json()).toEqual({ word: "be", count: 3 });
    const missing = await fetch(`${app.url}/count/hamlet`);
    expect(await missing.json()).toEqual({ word: "hamlet", count: 0 });
  } finally {
    await app.stop();
  }
});

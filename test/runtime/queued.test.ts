/**
 * `ctx.queued`: how many messages the worker holds that have not started yet, so a handler can do some
 * work once per burst (the scanner's analyzers write a progress mark when it is 0). Serial and
 * concurrent modes, real workers.
 */
import { afterEach, expect, test } from "bun:test";
import { type ActorSystem, createSystem } from "../../src/index.ts";

const QUEUED = new URL("../fixtures/queued.actor.ts", import.meta.url);
let system: ActorSystem | undefined;
afterEach(async () => {
  await system?.stop();
});

/** Each burst counts down to 0: a run of values n, n-1, ..., 0. */
function bursts(values: readonly number[]): number[][] {
  const out: number[][] = [];
  let run: number[] = [];
  for (const value of values) {
    run.push(value);
    if (value === 0) {
      out.push(run);
      run = [];
    }
  }
  if (run.length > 0) out.push(run);
  return out;
}

for (const concurrency of [1, 4]) {
  test(`concurrency ${concurrency}: a burst counts down to 0 on its last message`, async () => {
    system = createSystem();
    const ref = await system.spawn(QUEUED, { concurrency, capacity: 1_000 });
    for (let i = 0; i < 500; i++) ref.tell(i);
    // Alone in the worker once the burst is done: nothing after it.
    await ref.query("queued");
    expect(await ref.ask("last")).toBe(0);
    const values = await ref.query<number[]>("queued");
    expect(values).toHaveLength(501);
    const runs = bursts(values);
    // The 500 told at once arrive in a few frames, not one by one.
    expect(runs.length).toBeLessThan(100);
    for (const run of runs) expect(run).toEqual(run.map((_, i) => run.length - 1 - i));
  });
}

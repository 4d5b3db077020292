/**
 * A user callback that throws (an event listener, `onDeadLetter`) leaves the runtime whole: the actor is
 * restarted, messages are answered, the system stops; the error reaches the process as an uncaught exception.
 * Before, a throwing `crashed` listener left the actor unrestarted and `stop()` hanging. Run in child
 * processes: an uncaught exception would fail the test runner itself.
 */
import { afterEach, expect, test } from "bun:test";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { ECHO } from "../support/runtime.ts";

async function probe(which: string) {
  const child = Bun.spawn(["bun", new URL("../support/callback-probe.ts", import.meta.url).pathname, which], {
    stdout: "pipe",
    stderr: "inherit",
  });
  expect(await child.exited).toBe(0);
  return JSON.parse(await new Response(child.stdout).text()) as {
    reply: number;
    stopped: string;
    uncaught: string[];
  };
}

test.each(["crashed", "restarting", "restarted", "deadLettered", "onDeadLetter", "stopped"])(
  "a %s callback that throws: the actor restarts, answers, and the system stops",
  async (which) => {
    expect(await probe(which)).toEqual({
      reply: 3,
      stopped: "stopped",
      uncaught: [`${which} listener broke`],
    });
  },
);

let system: ActorSystem | undefined;
afterEach(async () => {
  await system?.stop({ deadlineMs: 1000 });
  system = undefined;
});

test("a system stopped while a spawn is under way: the spawn rejects with ERR_ACTOR_STOPPED", async () => {
  system = createSystem();
  const spawning = system.spawn(ECHO);
  const stopped = system.stop();
  expect(
    await spawning.then(
      () => null,
      (error: { code: string }) => error.code,
    ),
  ).toBe("ERR_ACTOR_STOPPED");
  await stopped;
});

test("query and snapshot on a stopped actor reject, as ask does, rather than throw", async () => {
  system = createSystem();
  const ref = await system.spawn(ECHO);
  await ref.stop();
  const query = ref.query("count");
  const snapshot = ref.snapshot();
  await expect(query).rejects.toMatchObject({ code: "ERR_ACTOR_STOPPED" });
  await expect(snapshot).rejects.toMatchObject({ code: "ERR_ACTOR_STOPPED" });
});

test("options are checked by name at every level: a typo in state, recycle, backoff, supervisor or the system", async () => {
  system = createSystem();
  const store = { restore: async () => ({ epoch: 1, chunks: [] }), commit: async () => {} } as never;
  const refused = (spawn: Promise<unknown>) =>
    spawn.then(
      () => null,
      (error: Error) => error.message,
    );
  expect(await refused(system.spawn(ECHO, { state: { store, checkpointEvry: 10 } as never }))).toBe(
    "state.checkpointEvry: is not a state option",
  );
  expect(await refused(system.spawn(ECHO, { recycle: { afterMesages: 5 } as never }))).toBe(
    "recycle.afterMesages: is not a recycle option",
  );
  expect(await refused(system.spawn(ECHO, { backoff: { minMS: 5 } as never }))).toBe(
    "backoff.minMS: is not a backoff option",
  );
  expect(() => createSystem({ supervsor: {} } as never)).toThrow("supervsor: is not a system option");
  expect(() => createSystem({ supervisor: { maxRestart: 1 } as never })).toThrow(
    "supervisor.maxRestart: is not a supervisor option",
  );
  expect(() => createSystem({ onDeadLetter: 42 as never })).toThrow(
    "onDeadLetter: must be a function, got number",
  );
});

/**
 * Actor routes: list and inspect (the runtime's stats), an instance's state snapshot (through the
 * comlink control plane), and restart / pause / resume through the supervisor. A restart redelivers
 * the instance's in-flight messages as after a crash; a paused actor finishes what it holds and gets
 * nothing new, so a pump feeding it stops reading and the lag grows in the stream, nothing lost.
 */
import { Hono } from "hono";
import { z } from "zod";
import { TroupeError } from "../errors.ts";
import type { ActorRef } from "../runtime/actor-ref.ts";
import type { ApiContext } from "./context.ts";
import { intString, name, validate } from "./validate.ts";
import { actorView, actorViews, jsonSafe } from "./views.ts";

const actorParam = z.object({ name });
const instanceParam = z.object({ name, instance: intString(0, 65_535) });

export function actorRoutes(ctx: ApiContext): Hono {
  const { system } = ctx;
  const find = (actor: string): ActorRef => {
    const ref = system.actor(actor);
    if (!ref) throw new TroupeError("ERR_ACTOR_NOT_FOUND", `no actor named ${actor}`, { actor });
    return ref;
  };
  /** Control actions need a live actor: a failed or stopped one has no workers to act on. */
  const live = (actor: string): ActorRef => {
    const ref = find(actor);
    if (ref.status === "failed" || ref.status === "stopped") {
      const code = ref.status === "failed" ? "ERR_ACTOR_FAILED" : "ERR_ACTOR_STOPPED";
      throw new TroupeError(code, `actor ${actor} is ${ref.status}`, { actor });
    }
    return ref;
  };
  const pauseOf = (actor: string) => {
    const { paused, pausedBy } = find(actor).stats();
    return { paused, pausedBy };
  };

  return new Hono()
    .get("/actors", (c) => c.json({ actors: actorViews(system) }))
    .get("/actors/:name", validate("param", actorParam), (c) =>
      c.json(actorView(find(c.req.valid("param").name).stats())),
    )
    .get("/actors/:name/:instance/state", validate("param", instanceParam), async (c) => {
      const { name: actor, instance } = c.req.valid("param");
      const state = await find(actor).snapshot({ instance, timeoutMs: ctx.options.snapshotTimeoutMs });
      return c.json({ actor, instance, state: jsonSafe(state) });
    })
    .post("/actors/:name/restart", validate("param", actorParam), (c) => {
      const actor = live(c.req.valid("param").name).name;
      system.restart(actor);
      // Accepted: the supervisor restarts the workers now; `restarted` events follow on /events.
      return c.json({ actor, action: "restart", accepted: true }, 202);
    })
    .post("/actors/:name/pause", validate("param", actorParam), (c) => {
      const actor = live(c.req.valid("param").name).name;
      system.pause(actor);
      return c.json({ actor, action: "pause", ...pauseOf(actor) });
    })
    .post("/actors/:name/resume", validate("param", actorParam), (c) => {
      const actor = live(c.req.valid("param").name).name;
      // Releases the operator's pause only: an actor whose lease lapsed stays held (`pausedBy` says so).
      system.resume(actor);
      return c.json({ actor, action: "resume", ...pauseOf(actor) });
    });
}

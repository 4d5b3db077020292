import { afterEach, describe, expect, test } from "bun:test";
import { type ActorView, type ControlApi, createControlApi } from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { collect, ECHO, SCRIPTED } from "../support/runtime.ts";
import { call, failure, TOKEN } from "./support.ts";

let system: ActorSystem;
let api: ControlApi;

async function setup(options: Parameters<typeof createSystem>[0] = {}) {
  system = createSystem({ supervisor: { backoff: { minMs: 5, maxMs: 10 } }, ...options });
  const echo = await system.spawn(ECHO, { name: "echo", instances: 2 });
  api = createControlApi({ system, token: TOKEN, defaultMetrics: false });
  return echo;
}

afterEach(async () => {
  api?.close();
  await system?.stop({ deadlineMs: 1000 });
});

describe("GET /actors", () => {
  test("lists every actor with its instances' runtime stats and totals", async () => {
    const echo = await setup();
    await Promise.all([1, 2, 3, 4].map((n) => echo.ask({ n })));
    const { status, body } = await call<{ actors: ActorView[] }>(api, "GET", "/actors");
    expect(status).toBe(200);
    expect(body.actors).toHaveLength(1);
    const actor = body.actors[0]!;
    expect(actor).toMatchObject({ name: "echo", status: "running", paused: false });
    expect(actor.totals).toMatchObject({
      processed: 4,
      failed: 0,
      deadLettered: 0,
      restarts: 0,
      inFlight: 0,
    });
    expect(actor.totals.capacity).toBe(2048);
    expect(actor.totals.credits).toBe(2048);
    expect(actor.instances).toHaveLength(2);
    for (const key of [
      "state",
      "credits",
      "capacity",
      "inFlight",
      "processed",
      "failed",
      "restarts",
      "lastError",
      "latencyMs",
      "rate",
    ]) {
      expect(actor.instances[0]).toHaveProperty(key);
    }
    expect(actor.instances.map((i) => i.state)).toEqual(["running", "running"]);
  });

  test("GET /actors/:name answers one actor, 404 for an unknown one, 400 for a name too long", async () => {
    await setup();
    expect((await call(api, "GET", "/actors/echo")).body).toMatchObject({ name: "echo", status: "running" });
    expect(await call(api, "GET", "/actors/nope")).toMatchObject({
      status: 404,
      body: failure("ERR_ACTOR_NOT_FOUND", "no actor named nope"),
    });
    expect(await call(api, "GET", `/actors/${"x".repeat(257)}`)).toMatchObject({
      status: 400,
      body: failure("ERR_VALIDATION", "param.name: must be at most 256 characters"),
    });
  });
});

describe("GET /actors/:name/:instance/state", () => {
  test("answers the instance's state snapshot through the control plane", async () => {
    const echo = await setup();
    await echo.ask({ hello: "world" });
    const { status, body } = await call(api, "GET", "/actors/echo/0/state");
    expect(status).toBe(200);
    expect(body).toEqual({ actor: "echo", instance: 0, state: { seen: [{ hello: "world" }] } });
  });

  test("a bad instance is 400, a missing one 404, an unknown actor 404", async () => {
    await setup();
    expect(await call(api, "GET", "/actors/echo/x/state")).toMatchObject({
      status: 400,
      body: failure("ERR_VALIDATION", "param.instance: must be an integer from 0 to 65535"),
    });
    expect(await call(api, "GET", "/actors/echo/-1/state")).toMatchObject({ status: 400 });
    expect(await call(api, "GET", "/actors/echo/7/state")).toMatchObject({
      status: 404,
      body: failure("ERR_ACTOR_NOT_FOUND", "actor echo has no instance 7"),
    });
    expect(await call(api, "GET", "/actors/nope/0/state")).toMatchObject({ status: 404 });
  });
});

describe("POST /actors/:name/{restart,pause,resume}", () => {
  test("restart goes through the supervisor: 202, then every instance restarts", async () => {
    await setup();
    const restarted = collect(system, "restarted");
    const answer = await call(api, "POST", "/actors/echo/restart", { token: true });
    expect(answer).toMatchObject({ status: 202, body: { actor: "echo", action: "restart", accepted: true } });
    await restarted.atLeast(2);
    expect(restarted.seen.map((e) => e.instance).sort()).toEqual([0, 1]);
    const { body } = await call<ActorView>(api, "GET", "/actors/echo");
    expect(body.totals.restarts).toBe(2);
  });

  test("pause stops feeding the workers (no credit for senders), resume feeds them again", async () => {
    const echo = await setup();
    expect(await call(api, "POST", "/actors/echo/pause", { token: true })).toMatchObject({
      status: 200,
      body: { actor: "echo", action: "pause", paused: true },
    });
    const paused = await call<ActorView>(api, "GET", "/actors/echo");
    expect(paused.body.paused).toBe(true);
    expect(paused.body.instances.map((i) => i.state)).toEqual(["paused", "paused"]);
    const reply = echo.ask({ queued: true });
    // Held by the paused mailbox: it took a credit but was not sent to a worker.
    const held = await call<ActorView>(api, "GET", "/actors/echo");
    expect(held.body.totals.capacity - held.body.totals.credits).toBe(1);
    expect(held.body.totals.inFlight).toBe(0);
    expect(await call(api, "POST", "/actors/echo/resume", { token: true })).toMatchObject({
      status: 200,
      body: { actor: "echo", action: "resume", paused: false, pausedBy: [] },
    });
    expect(await reply).toEqual({ queued: true });
  });

  test("a resume releases the operator's pause only: an actor another hold keeps paused stays paused, and says by whom", async () => {
    const echo = await setup();
    system.pause("echo", "lease");
    expect(await call(api, "POST", "/actors/echo/pause", { token: true })).toMatchObject({
      status: 200,
      body: { actor: "echo", action: "pause", paused: true, pausedBy: ["lease", "operator"] },
    });
    expect(await call(api, "POST", "/actors/echo/resume", { token: true })).toMatchObject({
      status: 200,
      body: { actor: "echo", action: "resume", paused: true, pausedBy: ["lease"] },
    });
    const view = await call<ActorView>(api, "GET", "/actors/echo");
    expect(view.body).toMatchObject({ paused: true, pausedBy: ["lease"] });
    const reply = echo.ask({ queued: true });
    system.resume("echo", "lease");
    expect(await reply).toEqual({ queued: true });
    expect((await call<ActorView>(api, "GET", "/actors/echo")).body).toMatchObject({
      paused: false,
      pausedBy: [],
    });
  });

  test("unknown actor 404; a failed actor cannot be restarted or paused (409)", async () => {
    await setup();
    expect(await call(api, "POST", "/actors/nope/restart", { token: true })).toMatchObject({
      status: 404,
      body: failure("ERR_ACTOR_NOT_FOUND", "no actor named nope"),
    });
    const failed = collect(system, "failed");
    const scripted = await system.spawn<ScriptedMessage>(SCRIPTED, {
      name: "doomed",
      maxRestarts: 1,
      maxDeliveries: 100,
    });
    await scripted.tell({ id: 1, op: "exit" });
    await failed.atLeast(1);
    for (const action of ["restart", "pause", "resume"]) {
      expect(await call(api, "POST", `/actors/doomed/${action}`, { token: true })).toMatchObject({
        status: 409,
        body: failure("ERR_ACTOR_FAILED", "actor doomed is failed"),
      });
    }
  });
});

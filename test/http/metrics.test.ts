/** `/metrics` is read with a real Prometheus text-format parser, never by matching strings. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";
import { type ControlApi, createControlApi, createStreamsSource } from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import type { ActorRef } from "../../src/runtime/actor-ref.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { Pump } from "../../src/streams/pump.ts";
import type { CounterMessage } from "../fixtures/counter.actor.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { TestStateStore } from "../runtime/state-stores.ts";
import { collect, SCRIPTED } from "../support/runtime.ts";

const COUNTER = new URL("../fixtures/counter.actor.ts", import.meta.url);

let system: ActorSystem;
let api: ControlApi;
let worker: ActorRef<ScriptedMessage, number>;
let pump: Pump<ScriptedMessage, number>;

beforeAll(async () => {
  system = createSystem({ supervisor: { backoff: { minMs: 5, maxMs: 10 } } });
  worker = await system.spawn<ScriptedMessage, number>(SCRIPTED, {
    name: "worker",
    instances: 2,
    maxDeliveries: 1,
  });
  const backend = new MemoryStreamBackend();
  await backend.ensureGroup("tx", "idle");
  pump = new Pump(backend, worker, { stream: "tx", group: "workers", sweepIntervalMs: 0, blockMs: 50 });
  const deadLettered = new Promise<void>((resolve) => pump.on("deadLettered", () => resolve()));
  await backend.append("tx", defaultCodec.encode({ id: 100, op: "throw-always" }));
  api = createControlApi({ system, streams: createStreamsSource({ backend, pumps: [pump] }) });
  await pump.start();
  await deadLettered;
  await pump.stop();
  await Promise.all([1, 2, 3, 4, 5].map((id) => worker.ask({ id })));
  const restarted = collect(system, "restarted");
  system.restart("worker");
  await restarted.atLeast(2);
});
afterAll(async () => {
  api.close();
  await system.stop({ deadlineMs: 1000 });
});

async function scrape(): Promise<{ contentType: string | null; families: Map<string, ParsedFamily> }> {
  const response = await api.app.request("/metrics");
  expect(response.status).toBe(200);
  const families = parsePrometheusTextFormat(await response.text());
  return {
    contentType: response.headers.get("content-type"),
    families: new Map(families.map((f) => [f.name, f])),
  };
}

const sample = (family: ParsedFamily | undefined, labels: Record<string, string>) =>
  family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));

describe("GET /metrics", () => {
  test("parses as Prometheus text exposition, served with its content type", async () => {
    const { contentType, families } = await scrape();
    expect(contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(families.size).toBeGreaterThan(20);
  });

  test("names follow the conventions: troupe_ prefix, _total counters, base units, low-cardinality labels", async () => {
    const { families } = await scrape();
    const ours = [...families.values()].filter((f) => f.name.startsWith("troupe_"));
    expect(ours.length).toBeGreaterThan(15);
    const allowed = new Set([
      "actor",
      "outcome",
      "reason",
      "state",
      "percentile",
      "stream",
      "group",
      "kind",
      "method",
      "route",
      "status",
      "instance",
    ]);
    for (const family of ours) {
      expect(family.name).toMatch(/^troupe_[a-z_]+$/);
      expect(family.help.length).toBeGreaterThan(5);
      if (family.type === "COUNTER") expect(family.name).toEndWith("_total");
      else expect(family.name).not.toEndWith("_total");
      if (family.type === "HISTOGRAM") expect(family.name).toEndWith("_seconds");
      expect(family.type).not.toBe("SUMMARY");
      for (const m of family.metrics)
        for (const label of Object.keys(m.labels ?? {})) expect(allowed).toContain(label);
    }
    // prom-client's default process metrics are there too.
    expect(families.get("process_cpu_user_seconds_total")?.type).toBe("COUNTER");
  });

  test("actor figures: processed by outcome, restarts, mailbox gauges, instance states, restart downtime", async () => {
    const { families } = await scrape();
    const processed = families.get("troupe_messages_processed_total");
    expect(processed?.type).toBe("COUNTER");
    expect(Number(sample(processed, { actor: "worker", outcome: "ok" })?.value)).toBe(5);
    // The poison entry: one failed attempt, then the runtime gave up on it (and the pump dead-lettered it).
    expect(Number(sample(processed, { actor: "worker", outcome: "failed" })?.value)).toBe(1);
    expect(Number(sample(processed, { actor: "worker", outcome: "dead_lettered" })?.value)).toBe(1);
    expect(Number(sample(families.get("troupe_actor_restarts_total"), { actor: "worker" })?.value)).toBe(2);
    expect(families.get("troupe_mailbox_depth")?.type).toBe("GAUGE");
    expect(Number(sample(families.get("troupe_mailbox_capacity"), { actor: "worker" })?.value)).toBe(2048);
    expect(
      Number(sample(families.get("troupe_actor_instances"), { actor: "worker", state: "running" })?.value),
    ).toBe(2);
    const downtime = families.get("troupe_restart_downtime_seconds");
    expect(downtime?.type).toBe("HISTOGRAM");
    // This parser folds a labelled histogram's buckets into one map (one actor here): +Inf is the count.
    expect(Number(downtime?.metrics[0]?.buckets?.["+Inf"])).toBe(2);
  });

  test("counters only grow between scrapes; stream and backend figures are there", async () => {
    await Promise.all([6, 7].map((id) => worker.ask({ id })));
    const { families } = await scrape();
    expect(
      Number(
        sample(families.get("troupe_messages_processed_total"), { actor: "worker", outcome: "ok" })?.value,
      ),
    ).toBe(7);
    expect(Number(sample(families.get("troupe_stream_lag"), { stream: "tx", group: "idle" })?.value)).toBe(1);
    expect(
      Number(sample(families.get("troupe_stream_pending"), { stream: "tx", group: "workers" })?.value),
    ).toBe(0);
    expect(Number(sample(families.get("troupe_stream_length"), { stream: "tx" })?.value)).toBe(1);
    expect(Number(sample(families.get("troupe_dead_letter_queue_length"), { stream: "tx:dlq" })?.value)).toBe(
      1,
    );
    expect(
      Number(sample(families.get("troupe_dead_letters_total"), { stream: "tx", group: "workers" })?.value),
    ).toBe(1);
    expect(Number(sample(families.get("troupe_stream_backend_up"), { kind: "memory" })?.value)).toBe(1);
    expect(Number(families.get("troupe_health_status")?.metrics[0]?.value)).toBe(0);
    const requests = families.get("troupe_http_requests_total");
    expect(
      Number(sample(requests, { method: "GET", route: "/metrics", status: "200" })?.value),
    ).toBeGreaterThanOrEqual(1);
  });
});

describe("durable state figures", () => {
  test("checkpoints by outcome, the last checkpoint's age, keys and bytes, uncovered messages, the restore", async () => {
    const store = new TestStateStore();
    const counter = await system.spawn<CounterMessage>(COUNTER, {
      name: "counter",
      state: { store, checkpointEvery: 10, checkpointIntervalMs: 20 },
    });
    store.refuse(1);
    for (let id = 1; id <= 30; id++) await counter.tell({ key: `k${id % 5}`, id });
    const durable = () => counter.stats().instances[0]?.durable;
    await store.until(() => counter.stats().instances[0]?.processed === 30 && durable()?.uncovered === 0);
    const { families } = await scrape();
    const labels = { actor: "counter", instance: "0" };
    const checkpoints = families.get("troupe_checkpoints_total");
    expect(checkpoints?.type).toBe("COUNTER");
    expect(Number(sample(checkpoints, { ...labels, outcome: "ok" })?.value)).toBe(store.commits.length);
    expect(Number(sample(checkpoints, { ...labels, outcome: "failed" })?.value)).toBe(1);
    expect(Number(sample(checkpoints, { ...labels, outcome: "fenced" })?.value)).toBe(0);
    const value = (name: string) => Number(sample(families.get(name), labels)?.value);
    expect(value("troupe_checkpoint_keys")).toBe(store.commits.at(-1)?.keys as number);
    expect(value("troupe_checkpoint_bytes")).toBeGreaterThan(0);
    expect(value("troupe_checkpoint_age_seconds")).toBeGreaterThanOrEqual(0);
    expect(value("troupe_checkpoint_duration_seconds")).toBeGreaterThanOrEqual(0);
    expect(value("troupe_checkpoint_pause_seconds")).toBeGreaterThanOrEqual(0);
    expect(value("troupe_state_uncovered_messages")).toBe(0);
    expect(value("troupe_state_restore_keys")).toBe(0);
    expect(value("troupe_state_restore_seconds")).toBeGreaterThanOrEqual(0);
    // An actor without a state store has none of these series.
    expect(sample(checkpoints, { actor: "worker" })).toBeUndefined();
    await counter.stop();
  });
});

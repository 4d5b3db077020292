/**
 * `/metrics`: the runtime's and the streams' figures in Prometheus text format, on prom-client with a
 * Registry of our own (an embedding app's default registry is left alone). Names follow Prometheus
 * conventions: `troupe_` prefix, base units in the name, `_total` on counters, histograms rather than
 * summaries, labels of low cardinality only (actor, instance state, stream, group, outcome, reason).
 *
 * The runtime keeps cumulative counters per instance; at each scrape their growth since the previous
 * scrape is added to the Prometheus counters (a counter that went down, an actor spawned again under
 * the same name, counts from zero), and gauges are rebuilt from scratch so vanished actors and groups
 * disappear instead of going stale.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DurableStats } from "../runtime/stats.ts";
import type { ActorSystem } from "../runtime/system.ts";
import type { Assessment } from "./health.ts";
import type { StreamsReading } from "./streams/reading.ts";
import type { StreamAlert } from "./streams/source.ts";
import { actorViews } from "./views.ts";

const HEALTH_VALUE = { ok: 0, degraded: 1, unhealthy: 2 } as const;
/** prom-client's default metrics that are gauges with a `_total` suffix; `nodejs_active_handles` etc. stay. */
const DEFAULT_TOTAL_GAUGES = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

export interface MetricsInputs {
  system: ActorSystem;
  /** One reading of the streams layer and the readiness derived from it. */
  assess(): Promise<Assessment>;
  eventStreams(): number;
  defaultMetrics: boolean;
}

export class ControlMetrics {
  readonly registry = new Registry();
  readonly #inputs: MetricsInputs;
  readonly #seen = new Map<string, number>();
  readonly #off: Array<() => void> = [];
  readonly #r = this.registry;
  readonly #processed = new Counter({
    name: "troupe_messages_processed_total",
    help: "Messages handled, by outcome: ok; failed (the handler threw, the message is redelivered); dead_lettered.",
    labelNames: ["actor", "outcome"] as const,
    registers: [this.#r],
  });
  readonly #restarts = this.#counter("troupe_actor_restarts_total", "Instance restarts by the supervisor.", [
    "actor",
  ]);
  readonly #recycles = this.#counter(
    "troupe_actor_recycles_total",
    "Planned worker restarts of the recycle option (not failures, not in restarts).",
    ["actor"],
  );
  readonly #crashes = this.#counter("troupe_actor_crashes_total", "Worker crashes, by reason.", [
    "actor",
    "reason",
  ]);
  readonly #deadLetters = this.#counter(
    "troupe_dead_letters_total",
    "Stream entries written to a dead-letter stream by this process's pumps.",
    ["stream", "group"],
  );
  readonly #httpRequests = this.#counter("troupe_http_requests_total", "Control API requests.", [
    "method",
    "route",
    "status",
  ]);
  readonly #depth = this.#gauge("troupe_mailbox_depth", "Messages held by the actor (queued + in flight).", [
    "actor",
  ]);
  readonly #capacity = this.#gauge(
    "troupe_mailbox_capacity",
    "Mailbox capacity (credits) over all instances.",
    ["actor"],
  );
  readonly #inFlight = this.#gauge(
    "troupe_actor_in_flight",
    "Messages sent to workers and not acknowledged.",
    ["actor"],
  );
  readonly #waiting = this.#gauge("troupe_actor_waiting_senders", "Senders waiting for credit.", ["actor"]);
  readonly #instances = this.#gauge("troupe_actor_instances", "Instances, by state.", ["actor", "state"]);
  readonly #paused = this.#gauge("troupe_actor_paused", "1 while the actor is paused.", ["actor"]);
  // Percentiles the runtime computed, not a summary's quantiles: `quantile` is the summary's own label
  // (promtool refuses it on a gauge), so they go under `percentile`.
  readonly #latency = this.#gauge(
    "troupe_handler_latency_seconds",
    "Handler time percentiles (50, 99) over the worst instance's last 1024 sampled messages.",
    ["actor", "percentile"],
  );
  readonly #checkpoints = this.#counter(
    "troupe_checkpoints_total",
    "Durable checkpoints written, by outcome: ok; failed (refused, retried); fenced (a newer incarnation owns the state); lost (Redis held no record of the state: the instance restarted from what it holds).",
    ["actor", "instance", "outcome"],
  );
  readonly #checkpointAge = this.#gauge(
    "troupe_checkpoint_age_seconds",
    "Time since the instance's last durable checkpoint.",
    ["actor", "instance"],
  );
  readonly #checkpointKeys = this.#gauge("troupe_checkpoint_keys", "Keys the last checkpoint wrote.", [
    "actor",
    "instance",
  ]);
  readonly #checkpointBytes = this.#gauge(
    "troupe_checkpoint_bytes",
    "Value bytes the last checkpoint wrote.",
    ["actor", "instance"],
  );
  readonly #checkpointDuration = this.#gauge(
    "troupe_checkpoint_duration_seconds",
    "The last checkpoint, from the request to the worker until the store's write succeeded.",
    ["actor", "instance"],
  );
  readonly #checkpointPause = this.#gauge(
    "troupe_checkpoint_pause_seconds",
    "What the last checkpoint paused message handling (encoding the touched values).",
    ["actor", "instance"],
  );
  readonly #uncovered = this.#gauge(
    "troupe_state_uncovered_messages",
    "Handled messages waiting for a durable checkpoint (their stream entries are not acked yet).",
    ["actor", "instance"],
  );
  readonly #restoreSeconds = this.#gauge("troupe_state_restore_seconds", "The instance's last restore.", [
    "actor",
    "instance",
  ]);
  readonly #restoreKeys = this.#gauge("troupe_state_restore_keys", "Keys the last restore brought back.", [
    "actor",
    "instance",
  ]);
  readonly #length = this.#gauge("troupe_stream_length", "Entries in the stream.", ["stream"]);
  readonly #lag = this.#gauge(
    "troupe_stream_lag",
    "Entries not yet delivered to the group (absent when unknown).",
    ["stream", "group"],
  );
  readonly #lagSeconds = this.#gauge(
    "troupe_stream_lag_seconds",
    "Age of the oldest entry not yet delivered to the group (0 when none waits).",
    ["stream", "group"],
  );
  readonly #pending = this.#gauge("troupe_stream_pending", "Entries delivered and not acknowledged.", [
    "stream",
    "group",
  ]);
  readonly #oldestIdle = this.#gauge(
    "troupe_stream_oldest_pending_idle_seconds",
    "Idle time of the group's oldest pending entry.",
    ["stream", "group"],
  );
  readonly #consumers = this.#gauge("troupe_stream_consumers", "Consumers of the group.", [
    "stream",
    "group",
  ]);
  readonly #dlqLength = this.#gauge("troupe_dead_letter_queue_length", "Records in the dead-letter stream.", [
    "stream",
  ]);
  readonly #partitionOwner = this.#gauge(
    "troupe_partition_owner",
    "1 for the member holding the lease of the unit that reads the group (a partition, an analyzer).",
    ["stream", "group", "partition", "owner"],
  );
  readonly #leaseTtl = this.#gauge(
    "troupe_partition_lease_ttl_seconds",
    "Time left on the partition's lease (0 while nobody holds it).",
    ["stream", "group", "partition"],
  );
  readonly #ownedFor = this.#gauge(
    "troupe_partition_owned_seconds",
    "How long this process's member has owned the partition (absent when it does not).",
    ["stream", "group", "partition"],
  );
  readonly #partitionMoves = this.#counter(
    "troupe_partition_moves_total",
    "Partitions this process's members took (assigned) or gave up (revoked), by partition.",
    ["stream", "group", "move"],
  );
  readonly #departures = this.#counter(
    "troupe_partition_departures_total",
    "Members this process's members found gone (no presence: their process ended) and took partitions from.",
    ["stream", "group"],
  );
  readonly #backendUp = this.#gauge("troupe_stream_backend_up", "1 when the stream backend answers.", [
    "kind",
  ]);
  readonly #health = this.#gauge("troupe_health_status", "Readiness: 0 ok, 1 degraded, 2 unhealthy.", []);
  readonly #eventStreams = this.#gauge("troupe_http_event_streams", "Open /events streams.", []);
  readonly #downtime = new Histogram({
    name: "troupe_restart_downtime_seconds",
    help: "Time from a crash to the restarted instance taking messages.",
    labelNames: ["actor"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.#r],
  });
  readonly #ping = new Histogram({
    name: "troupe_stream_backend_ping_seconds",
    help: "Round trip of the backend probe, one per scrape.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.#r],
  });
  readonly #httpDuration = new Histogram({
    name: "troupe_http_request_duration_seconds",
    help: "Control API response time (until headers, for /events).",
    labelNames: ["method", "route"] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.#r],
  });

  constructor(inputs: MetricsInputs) {
    this.#inputs = inputs;
    if (inputs.defaultMetrics) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters (promtool refuses them), and sums of the per-type gauges kept beside them.
      for (const name of DEFAULT_TOTAL_GAUGES) this.registry.removeSingleMetric(name);
    }
    const events = inputs.system.events;
    this.#off.push(
      events.on("crashed", (e) => this.#crashes.inc({ actor: e.actor, reason: e.reason })),
      events.on("restarted", (e) => this.#downtime.observe({ actor: e.actor }, e.downtimeMs / 1000)),
    );
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  streamAlert(alert: StreamAlert): void {
    const labels = { stream: alert.stream, group: alert.group };
    if (alert.kind === "deadLettered") this.#deadLetters.inc(labels);
    else if (alert.kind === "partitionAssigned") this.#partitionMoves.inc({ ...labels, move: "assigned" });
    else if (alert.kind === "partitionRevoked") this.#partitionMoves.inc({ ...labels, move: "revoked" });
    else if (alert.kind === "memberDeparted") this.#departures.inc(labels);
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.#httpRequests.inc({ method, route, status: String(status) });
    this.#httpDuration.observe({ method, route }, seconds);
  }

  async render(): Promise<string> {
    const { streams, readiness } = await this.#inputs.assess();
    this.#syncActors();
    this.#syncStreams(streams);
    this.#health.set(HEALTH_VALUE[readiness.status]);
    this.#eventStreams.set(this.#inputs.eventStreams());
    return this.registry.metrics();
  }

  close(): void {
    for (const off of this.#off) off();
  }

  #syncActors(): void {
    for (const g of [
      this.#depth,
      this.#capacity,
      this.#inFlight,
      this.#waiting,
      this.#instances,
      this.#paused,
      this.#latency,
      this.#checkpointAge,
      this.#checkpointKeys,
      this.#checkpointBytes,
      this.#checkpointDuration,
      this.#checkpointPause,
      this.#uncovered,
      this.#restoreSeconds,
      this.#restoreKeys,
    ])
      g.reset();
    for (const view of actorViews(this.#inputs.system)) {
      const actor = view.name;
      for (const i of view.instances) {
        const key = `${actor}\0${i.instance}`;
        this.#grow(this.#processed, { actor, outcome: "ok" }, `${key}\0ok`, i.processed);
        this.#grow(this.#processed, { actor, outcome: "failed" }, `${key}\0failed`, i.failed);
        this.#grow(this.#processed, { actor, outcome: "dead_lettered" }, `${key}\0dl`, i.deadLettered);
        this.#grow(this.#restarts, { actor }, `${key}\0restarts`, i.restarts);
        this.#grow(this.#recycles, { actor }, `${key}\0recycles`, i.recycles);
        this.#instances.inc({ actor, state: i.state });
        if (i.durable) this.#syncDurable(actor, String(i.instance), key, i.durable);
      }
      const t = view.totals;
      this.#depth.set({ actor }, t.capacity - t.credits);
      this.#capacity.set({ actor }, t.capacity);
      this.#inFlight.set({ actor }, t.inFlight);
      this.#waiting.set({ actor }, t.waiting);
      this.#paused.set({ actor }, view.paused ? 1 : 0);
      this.#latency.set({ actor, percentile: "50" }, t.latencyMs.p50 / 1000);
      this.#latency.set({ actor, percentile: "99" }, t.latencyMs.p99 / 1000);
    }
  }

  #syncDurable(actor: string, instance: string, key: string, d: DurableStats): void {
    const labels = { actor, instance };
    this.#grow(this.#checkpoints, { ...labels, outcome: "ok" }, `${key}\0ckpt`, d.checkpoints);
    this.#grow(this.#checkpoints, { ...labels, outcome: "failed" }, `${key}\0ckptFail`, d.checkpointFailures);
    this.#grow(this.#checkpoints, { ...labels, outcome: "fenced" }, `${key}\0fenced`, d.fencedWrites);
    this.#grow(this.#checkpoints, { ...labels, outcome: "lost" }, `${key}\0lost`, d.lostWrites);
    this.#uncovered.set(labels, d.uncovered);
    const last = d.lastCheckpoint;
    if (last) {
      this.#checkpointAge.set(labels, last.ageMs / 1000);
      this.#checkpointKeys.set(labels, last.keys);
      this.#checkpointBytes.set(labels, last.bytes);
      this.#checkpointDuration.set(labels, last.durationMs / 1000);
      this.#checkpointPause.set(labels, last.pauseMs / 1000);
    }
    if (d.restore) {
      this.#restoreSeconds.set(labels, d.restore.ms / 1000);
      this.#restoreKeys.set(labels, d.restore.keys);
    }
  }

  #syncStreams(reading: StreamsReading): void {
    for (const g of [
      this.#length,
      this.#lag,
      this.#lagSeconds,
      this.#pending,
      this.#oldestIdle,
      this.#consumers,
      this.#dlqLength,
      this.#backendUp,
      this.#partitionOwner,
      this.#leaseTtl,
      this.#ownedFor,
    ])
      g.reset();
    if (reading.backend) {
      this.#backendUp.set({ kind: reading.backend.kind }, reading.backend.up ? 1 : 0);
      if (reading.backend.pingMs !== null) this.#ping.observe(reading.backend.pingMs / 1000);
    }
    for (const g of reading.groups ?? []) {
      const labels = { stream: g.stream, group: g.group };
      this.#length.set({ stream: g.stream }, g.length);
      if (g.lag !== null) this.#lag.set(labels, g.lag);
      if (g.lagSeconds !== null) this.#lagSeconds.set(labels, g.lagSeconds);
      this.#pending.set(labels, g.pending);
      this.#oldestIdle.set(labels, (g.oldestPendingIdleMs ?? 0) / 1000);
      this.#consumers.set(labels, g.consumers);
      this.#dlqLength.set({ stream: g.deadLetterStream }, g.deadLetters);
      const p = g.partition;
      if (p) {
        const at = { ...labels, partition: String(p.index) };
        if (p.owner !== null) this.#partitionOwner.set({ ...at, owner: p.owner }, 1);
        this.#leaseTtl.set(at, p.leaseTtlMs / 1000);
        if (p.ownedForMs !== null) this.#ownedFor.set(at, p.ownedForMs / 1000);
      }
    }
  }

  /** Adds a cumulative figure's growth since the last scrape (a figure that went down restarted from 0). */
  #grow<L extends string>(
    counter: Counter<L>,
    labels: Partial<Record<L, string>>,
    key: string,
    value: number,
  ): void {
    const previous = this.#seen.get(key) ?? 0;
    const growth = value >= previous ? value - previous : value;
    this.#seen.set(key, value);
    counter.inc(labels, growth);
  }

  #counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.#r] });
  }

  #gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.#r] });
  }
}

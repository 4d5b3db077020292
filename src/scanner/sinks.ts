/**
 * The alert sinks besides the alerts stream itself: JSON lines (stdout or a file) and a webhook. Each reads
 * the alerts stream through its own consumer group, so every alert reaches every sink at least once, shared
 * across processes, and an undeliverable one ends in the alerts dead-letter stream.
 */
import type { Alert } from "../detection/alert.ts";
import type { StreamBackend } from "../streams/backend.ts";
import { Pump } from "../streams/pump.ts";
import type { PumpOptions } from "../streams/pump-options.ts";
import { JsonlSink } from "./jsonl-sink.ts";
import type { Topology } from "./topology.ts";
import { WebhookSink, type WebhookSinkOptions } from "./webhook-sink.ts";

export interface SinksOptions {
  backend: StreamBackend;
  topology: Topology;
  consumer: string;
  /** JSONL destination: a path, or "-" for stdout; null for none. */
  alertsFile: string | null;
  webhookUrl: string | null;
  webhook?: WebhookSinkOptions;
  pump?: Partial<PumpOptions<Alert, void>>;
}

export interface RunningSinks {
  readonly pumps: ReadonlyMap<string, Pump<Alert, void>>;
  stop(): Promise<void>;
}

export async function startSinks(options: SinksOptions): Promise<RunningSinks> {
  const { backend, topology } = options;
  const pumps = new Map<string, Pump<Alert, void>>();
  const jsonl = options.alertsFile ? new JsonlSink(options.alertsFile) : null;
  const targets: Array<[string, JsonlSink | WebhookSink]> = [];
  if (jsonl) targets.push([topology.sinkGroups.jsonl, jsonl]);
  const webhook = options.webhookUrl ? new WebhookSink(options.webhookUrl, options.webhook) : null;
  if (webhook) targets.push([topology.sinkGroups.webhook, webhook]);
  for (const [group, target] of targets) {
    const pump = new Pump<Alert, void>(backend, target, {
      stream: topology.alerts,
      group,
      consumer: options.consumer,
      deadLetterStream: topology.alertDeadLetters,
      ...options.pump,
    });
    pumps.set(group, pump);
    await pump.start();
  }
  return {
    pumps,
    async stop() {
      // A post under way may wait out its timeout, retries their backoff: they end now, their alerts pending.
      webhook?.close();
      await Promise.all([...pumps.values()].map((pump) => pump.stop()));
      await jsonl?.close();
    },
  };
}

/**
 * `troupe_alerts_total{detector,severity}`: the alerts this process's analyzers emitted. The runtime's
 * metrics know nothing of alerts, so the scanner registers this counter in the control API's registry
 * itself. An entry handled again after a crash emits its alerts again and counts them again (the alerts
 * stream keeps one of each): a counter of work done, like `troupe_messages_processed_total`.
 */
import { Counter, type Registry } from "prom-client";
import type { Alert } from "../detection/alert.ts";

export class AlertMetrics {
  readonly #counter = new Counter({
    name: "troupe_alerts_total",
    help: "Alerts emitted by this process's analyzers, by detector and severity.",
    labelNames: ["detector", "severity"] as const,
    registers: [],
  });

  /** Adds the counter to `registry` (the control API's, created after the analyzers start). */
  register(registry: Registry): void {
    registry.registerMetric(this.#counter);
  }

  count(alert: Alert): void {
    this.#counter.inc({ detector: alert.detector, severity: alert.severity });
  }
}

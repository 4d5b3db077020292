/**
 * What every route module of the control API shares: the resolved options, the system, one reader of
 * the streams layer, the live feed, the metrics, and the readiness assessment (health.ts) built from them.
 */
import type { ActorSystem } from "../runtime/system.ts";
import type { Assessment } from "./health.ts";
import type { History } from "./history.ts";
import type { LiveFeed } from "./live.ts";
import type { ControlMetrics } from "./metrics.ts";
import type { ResolvedControlApiOptions } from "./options.ts";
import type { StreamsReader } from "./streams/reading.ts";

export interface ApiContext {
  readonly options: ResolvedControlApiOptions;
  readonly system: ActorSystem;
  readonly reader: StreamsReader;
  readonly feed: LiveFeed;
  readonly metrics: ControlMetrics;
  /** Samples of the charted figures, for `GET /history`. */
  readonly history: History;
  /** True once `beginShutdown()` ran: readiness answers 503, no new event streams. */
  readonly shuttingDown: boolean;
  /** One reading of the streams layer and the readiness it implies. */
  assess(): Promise<Assessment>;
}

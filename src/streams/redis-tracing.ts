/**
 * ioredis 6 traces every command through `diagnostics_channel` unless its tracing channel says it has no
 * subscribers (`TracingChannel#hasSubscribers`, Node ≥ 20.13). Bun 1.4.5's TracingChannel lacks that getter,
 * so ioredis traces every command for nobody: it builds each command's context and turns every argument
 * into a string, a checkpoint's whole segment (hundreds of KB) included. Profiled on the durable scanner,
 * that was half the time of a state commit on the main thread. This defines the getter as Node does (any
 * of the five channels has a subscriber), once, where Bun lacks it; the Redis backend calls it when built.
 */
import diagnosticsChannel from "node:diagnostics_channel";

const STAGES = ["start", "end", "asyncStart", "asyncEnd", "error"] as const;

type Stages = Record<(typeof STAGES)[number], { readonly hasSubscribers: boolean }>;

export function ensureTracingChannelSubscribersGetter(): void {
  const prototype = Object.getPrototypeOf(diagnosticsChannel.tracingChannel("troupe:probe")) as object;
  if ("hasSubscribers" in prototype) return;
  Object.defineProperty(prototype, "hasSubscribers", {
    configurable: true,
    get(this: Stages): boolean {
      return STAGES.some((stage) => this[stage]?.hasSubscribers === true);
    },
  });
}

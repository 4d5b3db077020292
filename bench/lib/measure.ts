/**
 * In-process measuring helpers shared by the ceilings and the runtime benches, so that a runtime figure and
 * its ceiling are timed the same way.
 */
import { build } from "hdr-histogram-js";
import Redis from "ioredis";
import type { Measurement } from "./report.ts";

/**
 * CPU seconds used so far by this process (every thread: main, workers) and by the Redis servers at
 * `servers` (`redis://host:port` each, read from INFO cpu): the cost of a run, which a loaded machine
 * distorts far less than its wall time.
 */
export async function cpuSeconds(servers: readonly string[] = []): Promise<number> {
  const { process: own, servers: theirs } = await costCounters(servers);
  return own + theirs;
}

export interface CostCounters {
  /** CPU seconds of this process so far (every thread). */
  process: number;
  /** CPU seconds of the servers so far. */
  servers: number;
  /** Calls of each command so far, summed over the servers (INFO commandstats: `xreadgroup`, `xack`…). */
  calls: Map<string, number>;
}

/** This process's CPU and the servers' CPU and command calls so far: a run's cost, split, by difference. */
export async function costCounters(servers: readonly string[] = []): Promise<CostCounters> {
  const usage = process.cpuUsage();
  const counters: CostCounters = {
    process: (usage.user + usage.system) / 1e6,
    servers: 0,
    calls: new Map(),
  };
  for (const server of servers) {
    const admin = new Redis(server, { protocol: 2 });
    const [cpu, stats] = await Promise.all([admin.info("cpu"), admin.info("commandstats")]).finally(() =>
      admin.disconnect(),
    );
    for (const field of ["used_cpu_user", "used_cpu_sys"])
      counters.servers += Number(new RegExp(`${field}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
    for (const [, command, calls] of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
      counters.calls.set(command as string, (counters.calls.get(command as string) ?? 0) + Number(calls));
  }
  return counters;
}

/** `count` items in `elapsedMs` as a rate per second. */
export function throughput(
  bench: string,
  metric: string,
  count: number,
  elapsedMs: number,
  unit = "msg/s",
): Measurement {
  return { bench, metric, value: (count * 1000) / elapsedMs, unit };
}

/**
 * Runs `once` on a tenth of `count` to warm the JIT and the link up, then on `count`, and returns the
 * elapsed milliseconds of the second run. `once` reports its own elapsed time so it can leave its set-up
 * (pre-filling a stream, say) out of the timing.
 */
export async function warmThenTime(count: number, once: (count: number) => Promise<number>): Promise<number> {
  await once(Math.max(1, Math.floor(count / 10)));
  return once(count);
}

/** Starts a timer; the returned function gives the elapsed milliseconds. */
export function stopwatch(): () => number {
  const start = Bun.nanoseconds();
  return () => (Bun.nanoseconds() - start) / 1e6;
}

export interface LatencyOptions {
  bench: string;
  /** Prefix of the metrics; ` p50` and ` p99` are appended. */
  metric: string;
  /** Recorded round trips. */
  samples: number;
  /** Unrecorded round trips first, to warm up. */
  warmup?: number;
  /**
   * Pause between round trips, so each one finds the other side idle (parked in its event loop) as a
   * lone request would; 0 measures back-to-back round trips instead.
   */
  gapMs?: number;
}

/** Times `samples` sequential calls of `roundTrip` and returns their p50 and p99 in µs. */
export async function sampleLatency(
  { bench, metric, samples, warmup = 100, gapMs = 1 }: LatencyOptions,
  roundTrip: () => Promise<unknown>,
): Promise<Measurement[]> {
  // Nanosecond integers up to 60 s at 3 significant digits: a stalled round trip is still recorded.
  const histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60e9,
    numberOfSignificantValueDigits: 3,
  });
  for (let i = 0; i < warmup + samples; i++) {
    if (gapMs > 0) await Bun.sleep(gapMs);
    const start = Bun.nanoseconds();
    await roundTrip();
    if (i >= warmup) histogram.recordValue(Bun.nanoseconds() - start);
  }
  return [50, 99].map((p) => ({
    bench,
    metric: `${metric} p${p}`,
    value: histogram.getValueAtPercentile(p) / 1000,
    unit: "µs",
  }));
}

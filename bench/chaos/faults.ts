/**
 * The faults of the chaos run, drawn from RELIABILITY.md scenarios 1, 5, 6, 7 and 8. Each injects one
 * fault, heals it, and measures how long recovery took, from the consumers' own event lines (stamped
 * with their clock, the same machine's) or from the group's pending list:
 *
 * - worker-crash (1): SIGUSR2 makes the next message of one process exit its worker mid-batch; the
 *   runtime restarts it. Measures the worker's downtime and the time to that process's next ack.
 * - kill-restart (5): SIGKILL one process. Half the time it is started again at once under the same
 *   name and replays its pending entries; otherwise the survivors claim them after `claimIdleMs` and
 *   it is started again after. Measures the takeover: until the dead consumer owns nothing.
 * - zombie (6): SIGSTOP one process until the others claimed everything it owned, then SIGCONT.
 * - client-kill (7): CLIENT KILL TYPE normal drops every connection. Measures the time to each live
 *   process's next ack.
 * - redis-stall (8): SIGSTOP redis-server for `stallMs`. Measures how soon each process reported the
 *   stall (health probe) and its first ack after the thaw.
 */
import type Redis from "ioredis";
import type { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import type { ConsumerProcess } from "../../test/fixtures/faults/consumer-process.ts";
import type { RedisServer } from "../../test/support/redis-server.ts";
import type { Cluster } from "./cluster.ts";

export const FAULT_KINDS = ["worker-crash", "kill-restart", "zombie", "client-kill", "redis-stall"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One recovery time of a fault, by what was measured (e.g. "takeover by claim"). */
export interface Measure {
  readonly name: string;
  readonly ms: number;
}

export interface FaultRecord {
  readonly kind: FaultKind;
  /** Seconds since the run began. */
  readonly at: number;
  readonly target: string;
  readonly measures: Measure[];
  /** Waits that timed out (a recovery not seen in time): reported, and a failed run. */
  readonly timeouts: string[];
  readonly note: string;
}

export interface FaultContext {
  readonly cluster: Cluster;
  readonly server: RedisServer;
  readonly admin: Redis;
  readonly observer: RedisStreamBackend;
  readonly stream: string;
  readonly group: string;
  readonly claimIdleMs: number;
  readonly stallMs: number;
  readonly random: () => number;
}

const WAIT_MS = 20_000;

type Injector = (ctx: FaultContext, record: Recorder) => Promise<void>;

class Recorder {
  readonly measures: Measure[] = [];
  readonly timeouts: string[] = [];
  target = "";
  note = "";

  add(name: string, ms: number): void {
    this.measures.push({ name, ms });
  }

  /** Records `name` as the time from `from` to when `wait` resolves with a stamp (or a timeout). */
  async time(name: string, from: number, wait: Promise<number>): Promise<void> {
    try {
      this.measures.push({ name, ms: Math.max(0, (await wait) - from) });
    } catch (error) {
      this.timeouts.push(`${name}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
}

const pick = <T>(items: readonly T[], random: () => number): T => items[Math.floor(random() * items.length)]!;

/** The next ack of `process` after `mark`, as its timestamp. */
function nextAck(process: ConsumerProcess, from: number): Promise<number> {
  return process.waitFor("acked", { from, timeoutMs: WAIT_MS }).then((e) => e.t);
}

/** Ids pending under `consumer` now. */
async function owned(ctx: FaultContext, consumer: string): Promise<Set<string>> {
  const rows = await ctx.observer.pending(ctx.stream, ctx.group, { count: 100_000, consumer });
  return new Set(rows.map((row) => row.id));
}

/**
 * Resolves with the time at which none of `ids` was pending under `consumer` any more: claimed by
 * another consumer, or finished by a restarted process of that name (checked every 20 ms).
 */
async function released(ctx: FaultContext, consumer: string, ids: Set<string>): Promise<number> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const still = [...(await owned(ctx, consumer))].filter((id) => ids.has(id));
    if (still.length === 0) return Date.now();
    await Bun.sleep(20);
  }
  throw new Error(`consumer ${consumer} still owns its entries after ${WAIT_MS} ms`);
}

const INJECTORS: Record<FaultKind, Injector> = {
  "worker-crash": async (ctx, r) => {
    const victim = pick(ctx.cluster.live, ctx.random);
    r.target = victim.name;
    const mark = victim.mark();
    const at = Date.now();
    victim.signal("SIGUSR2");
    try {
      const restarted = await victim.waitFor("workerRestarted", { from: mark, timeoutMs: WAIT_MS });
      r.add("worker restart downtime", restarted.downtimeMs);
      await r.time("worker crash to next ack", at, nextAck(victim, victim.events.indexOf(restarted)));
    } catch (error) {
      r.timeouts.push(`worker restart: ${(error as Error).message.split("\n")[0]}`);
    }
  },

  "kill-restart": async (ctx, r) => {
    const victim = pick(ctx.cluster.live, ctx.random);
    r.target = victim.name;
    await victim.kill();
    const at = Date.now();
    const pending = await owned(ctx, victim.name);
    const replay = ctx.random() < 0.5;
    r.note = `${pending.size} pending, ${replay ? "restarted at once: replays them" : "survivors claim them"}`;
    // With nothing pending there is nothing to take over: no figure, only the restart.
    if (replay) {
      await ctx.cluster.restart(victim.name);
      if (pending.size > 0)
        await r.time("takeover by restart + replay", at, released(ctx, victim.name, pending));
    } else {
      if (pending.size > 0) await r.time("takeover by claim", at, released(ctx, victim.name, pending));
      await ctx.cluster.restart(victim.name);
    }
  },

  zombie: async (ctx, r) => {
    const victim = pick(ctx.cluster.live, ctx.random);
    r.target = victim.name;
    victim.signal("SIGSTOP");
    const at = Date.now();
    const pending = await owned(ctx, victim.name);
    r.note = `${pending.size} pending when frozen`;
    if (pending.size > 0) await r.time("zombie takeover by claim", at, released(ctx, victim.name, pending));
    // Frozen past claimIdleMs either way, so its late commits meet entries others finished.
    else await Bun.sleep(ctx.claimIdleMs);
    victim.signal("SIGCONT");
  },

  "client-kill": async (ctx, r) => {
    r.target = "all connections";
    const live = ctx.cluster.live;
    const marks = live.map((p) => p.mark());
    const at = Date.now();
    const killed = await ctx.admin.call("CLIENT", "KILL", "TYPE", "normal");
    r.note = `${killed} connections killed`;
    await Promise.all(live.map((p, i) => r.time("resume after CLIENT KILL", at, nextAck(p, marks[i]!))));
  },

  "redis-stall": async (ctx, r) => {
    r.target = "redis-server";
    const live = ctx.cluster.live;
    const marks = live.map((p) => p.mark());
    const at = Date.now();
    await ctx.server.kill("SIGSTOP");
    const noticed = live.map((p, i) =>
      p.waitFor("backendStalled", { from: marks[i], timeoutMs: ctx.stallMs }).then((e) => e.t),
    );
    await Bun.sleep(ctx.stallMs);
    await ctx.server.kill("SIGCONT");
    const thawed = Date.now();
    const after = live.map((p) => p.mark());
    r.note = `frozen ${ctx.stallMs} ms`;
    await Promise.all([
      ...noticed.map((n) => r.time("redis stall detected", at, n)),
      ...live.map((p, i) => r.time("resume after redis stall", thawed, nextAck(p, after[i]!))),
    ]);
  },
};

export async function injectFault(
  kind: FaultKind,
  ctx: FaultContext,
  startedAt: number,
): Promise<FaultRecord> {
  const recorder = new Recorder();
  const at = (Date.now() - startedAt) / 1000;
  await INJECTORS[kind](ctx, recorder);
  const { target, measures, timeouts, note } = recorder;
  return { kind, at, target, measures, timeouts, note };
}

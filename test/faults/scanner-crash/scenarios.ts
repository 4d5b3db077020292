/**
 * The crash-consistency scenarios of issue 13, each a full scanner run of one workload through real
 * processes (`--role ingest` + `--role analyze` on a Redis, or `--role all` in memory), returning the
 * alerts it wrote: a crash-free run, SIGKILLs at seeded random points with restarts under the same
 * consumer name and one under another name (the claim path), actor restarts through the control API, a
 * frozen-then-thawed zombie, and restarts in memory mode. Shared by the test and bench/crash-soak.ts.
 */
import { randomUUID } from "node:crypto";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { topology } from "../../../src/scanner/topology.ts";
import { type AlertRecord, readSinkFiles } from "./alert-records.ts";
import { until } from "./poll.ts";
import { type ScannerConfig, ScannerProcess } from "./scanner-process.ts";
import { ScannerRedis } from "./scanner-redis.ts";
import type { WrittenWorkload } from "./workload.ts";

/**
 * The analyzer actors (and their tx groups), as the scanner's topology names them: with TROUPE_PARTITIONS,
 * no pattern analyzer (its detectors run in the wallet stage and the mint partitions).
 */
function analyzerActors(lab: { partitions?: number }): readonly string[] {
  return topology("", { keyed: lab.partitions !== undefined }).analyzers.map((a) => a.actor);
}
/**
 * A tx group per analyzer, the mint analyzer's group on each partition of the keyed tx stream (none without
 * TROUPE_PARTITIONS), the sybil analyzer's findings group and the JSONL sink's group.
 */
const groupCount = (lab: { partitions?: number }) => analyzerActors(lab).length + 2 + (lab.partitions ?? 0);
const API_TOKEN = "crash-consistency-token";
/** The stream prefix of memory runs (their streams live in their process). */
const MEMORY_PREFIX = "troupe:";
/**
 * The lines an analyze process logs when it takes an analyzer over or gives one up, or finds another process
 * gone (src/scanner/app.ts).
 */
const ANALYZER_MOVE =
  / runs here from now | runs here again | paused: | no longer runs here | connections closed\): /;
/** The lease generations under which a process's log says it took `actor` (an analyzer or a partition). */
export function leaseGenerations(log: string, actor: string): number[] {
  const taken = new RegExp(` ${actor} runs here from now \\(lease generation (\\d+)`, "g");
  return [...log.matchAll(taken)].map((match) => Number(match[1]));
}

const INGEST_DONE = /replay of .* done: [\d,]+ lines read, [\d,]+ events in, [\d,]+ rejected/;

export interface CrashLab {
  /** A Redis these runs may break (SIGKILL their clients, fill it): never the shared one. */
  redisUrl: string;
  /** A Redis Cluster's seed nodes instead of `redisUrl` (the keys then carry a hash tag per run). */
  clusterNodes?: readonly string[];
  /** TROUPE_PARTITIONS of every process: the mint analyzer's partitions. Unset: no mint analyzer. */
  partitions?: number;
  /** Where sink files go. */
  dir: string;
  workload: WrittenWorkload;
  /** TROUPE_CLAIM_IDLE_MS of every analyze process; unset, the scanner's default (30 s). */
  claimIdleMs?: number;
  /** TROUPE_ANALYZER_LEASE_MS of every analyze process; unset, the scanner's default (10 s). */
  analyzerLeaseMs?: number;
  /** TROUPE_DURABLE_STATE of every process; unset, the scanner's default (on). */
  durableState?: "on" | "off";
  /** For each wait on progress or drain. */
  timeoutMs: number;
}

export interface RunOutcome {
  scenario: string;
  /** The alerts stream's entries in order; null in memory mode (only its length is visible). */
  stream: AlertRecord[] | null;
  streamLength: number;
  /** Every line of every JSONL sink file of the run. */
  sink: AlertRecord[];
  /** Exit codes of the processes stopped with SIGTERM at the end, by consumer name. */
  exits: Record<string, number>;
  /** What was done when, for the report of a failing check. */
  steps: string[];
  ms: number;
  /** Entries of each dead-letter stream (Redis runs; null in memory mode). */
  deadLetters: Record<string, number> | null;
}

/** `count` points in [from, to) of the workload, sorted, drawn from `seed` alone (reproducible). */
export function seededPoints(seed: number, count: number, from = 0.1, to = 0.9): number[] {
  return Array.from({ length: count }, (_, i) => {
    const draw = Number(BigInt(Bun.hash.wyhash(`crash-point:${seed}:${i}`)) % 1_000_000n) / 1_000_000;
    return from + (to - from) * draw;
  }).sort((a, b) => a - b);
}

/**
 * TROUPE_CLAIM_IDLE_MS of the runs with a takeover, and of the second crash-free run; the first one keeps
 * the default (30 s), so no claim sweep ever runs into it.
 */
export const TAKEOVER_CLAIM_IDLE_MS = 500;
/** TROUPE_ANALYZER_LEASE_MS of the runs with a takeover: a dead process's analyzers move after 2 s. */
export const TAKEOVER_LEASE_MS = 2_000;

export const RUN_NAMES = [
  "clean",
  "clean-again",
  "sigkill",
  "api-restart",
  "zombie",
  "zombie-thawed-mid-run",
  "placement",
  "memory-restart",
] as const;
export type RunName = (typeof RUN_NAMES)[number];

/**
 * Every run of the checks, not started yet, with its crash points drawn from `seed` (`crashes` of them
 * where a run takes several). A takeover's victim is taken over early, holding a few hundred entries per
 * group, so the run stays short.
 */
export function crashRuns(
  lab: CrashLab,
  seed: number,
  crashes = 3,
): Record<RunName, () => Promise<RunOutcome>> {
  const takeover: CrashLab = {
    ...lab,
    claimIdleMs: TAKEOVER_CLAIM_IDLE_MS,
    analyzerLeaseMs: TAKEOVER_LEASE_MS,
  };
  const early = (n: number) => seededPoints(n, 1, 0.01, 0.03)[0]!;
  return {
    clean: () => cleanRun(lab),
    "clean-again": () => cleanRun(takeover, "clean-again"),
    sigkill: () => killRun(takeover, early(seed), seededPoints(seed, crashes)),
    "api-restart": () => apiRestartRun(takeover, seededPoints(seed + 2, crashes)),
    zombie: () => zombieRun(takeover, early(seed + 1), seededPoints(seed + 1, 1, 0.4, 0.7)[0]!),
    "zombie-thawed-mid-run": () => {
      const [freezeAt, thawAt] = seededPoints(seed + 5, 2, 0.05, 0.6) as [number, number];
      return thawedZombieRun(takeover, freezeAt, thawAt);
    },
    placement: () => {
      const [killAt, joinAt] = seededPoints(seed + 4, 2, 0.2, 0.7) as [number, number];
      return placementRun(takeover, killAt, joinAt);
    },
    "memory-restart": () => memoryRestartRun(takeover, seededPoints(seed + 3, crashes)),
  };
}

/** A crash-free run: the baseline. */
export function cleanRun(lab: CrashLab, scenario = "clean"): Promise<RunOutcome> {
  return redisRun(lab, scenario, async () => {});
}

/**
 * SIGKILL the analyze process at `claimAt` (a fraction of the workload read by every analyzer group) and
 * start one under another consumer name, which must claim the dead one's pending entries (once idle for
 * TROUPE_CLAIM_IDLE_MS, at its next claim sweep); then SIGKILL that one at each of `points` and restart it
 * under the same name, which replays its own pending entries first.
 */
export function killRun(lab: CrashLab, claimAt: number, points: readonly number[]): Promise<RunOutcome> {
  return redisRun(lab, "sigkill", async (run) => {
    const first = run.analyzers[0]!;
    await run.untilProgress(claimAt, first);
    await first.kill();
    run.step(`SIGKILL ${first.consumer} (pid ${first.pid}), restart under another name`);
    let current = await run.startAnalyze("analyze-2");
    for (const at of points) {
      await run.untilProgress(at, current);
      await current.kill();
      run.step(`SIGKILL ${current.consumer} (pid ${current.pid})`);
      current = await run.startAnalyze(current.consumer);
    }
  });
}

/**
 * A zombie thawed while entries flow. The analyze process is frozen at `freezeAt`; a successor takes its
 * analyzers over once their leases expire; at `thawAt` (entries still unread) the zombie is thawed. Its
 * pumps ask their lease before every read and read nothing; its next round gives its analyzers up as lost,
 * and it joins again as a member with a share of its own, taken over from the successor with their state.
 */
export function thawedZombieRun(lab: CrashLab, freezeAt: number, thawAt: number): Promise<RunOutcome> {
  return redisRun(lab, "zombie-thawed-mid-run", async (run) => {
    const zombie = await run.freezeFirst(freezeAt);
    const successor = await run.startAnalyze("analyze-successor");
    await run.untilProgress(thawAt, successor);
    // Entries still undelivered to the groups: what a thawed zombie used to read before its first refusal.
    const read = await run.redis.progress();
    if (read >= run.total) throw new Error("every entry was read before the thaw: nothing flows");
    zombie.signal("SIGCONT");
    run.step(`SIGCONT ${zombie.consumer} with ${read} of ${run.total} entries read by every group`);
    const ran = await run.untilShared([zombie, successor]);
    run.step(
      `${zombie.consumer} runs ${ran[0]!.join(", ")}; ${successor.consumer} runs ${ran[1]!.join(", ")}`,
    );
  });
}

/**
 * Two analyze processes share the three analyzers by lease; the one running more of them is SIGKILLed at
 * `killAt`, the other takes them over (with their state) once their leases expire, and a third process
 * joins at `joinAt` and takes its share from the survivor: the dead process's analyzers move once, the
 * third's share once more.
 */
export function placementRun(lab: CrashLab, killAt: number, joinAt: number): Promise<RunOutcome> {
  return redisRun(lab, "placement", async (run) => {
    const second = await run.startAnalyze("analyze-2");
    const [first] = run.analyzers;
    // One process's control API names the process running each analyzer (from the leases). The actors
    // and the leases are read in one round, again until they agree: a lease that lapsed under load between
    // two reads moves its analyzer, and both views must then show the move.
    let ran: string[][] = [];
    let disagreement = "";
    await until(
      "/streams naming the process running each analyzer",
      async () => {
        const [actors, { groups }] = await Promise.all([
          Promise.all([first!, second].map((p) => run.analyzersOf(p))),
          first!.api<{ groups: PlacedGroup[] }>("GET", "/streams"),
        ]);
        ran = actors;
        disagreement = [first!, second]
          .flatMap((process, i) =>
            actors[i]!.map((actor) => {
              const group = groups.find((g) => g.stream === run.redis.tx && g.group === actor);
              const owner = group?.partition?.owner;
              return owner === process.consumer
                ? ""
                : `${actor} runs in ${process.consumer}, /streams says ${owner}`;
            }),
          )
          .filter(Boolean)
          .join("; ");
        const all = actors.flat().length === analyzerActors(run.lab).length;
        return disagreement === "" && all && actors.every((names) => names.length > 0);
      },
      {
        timeoutMs: run.lab.timeoutMs,
        abort: () => (first!.alive && second.alive ? null : "an analyze process died"),
      },
    ).catch((error: Error) => {
      throw new Error(`${error.message} (last: ${disagreement})`);
    });
    run.step(`analyze-1 runs ${ran[0]!.join(", ")}; analyze-2 runs ${ran[1]!.join(", ")}`);
    run.step("analyze-1's /streams names the process running each analyzer");
    await run.untilProgress(killAt, second);
    const victim = ran[0]!.length >= ran[1]!.length ? first! : second;
    await victim.kill();
    run.step(`SIGKILL ${victim.consumer} (pid ${victim.pid})`);
    const survivor = victim === second ? first! : second;
    await run.untilProgress(joinAt, survivor);
    const runs = await run.analyzersOf(survivor);
    run.step(`${survivor.consumer} runs ${runs.join(", ")}`);
    // It found the victim gone (its connections closed with it), not only its leases lapsed.
    await survivor.waitFor(
      new RegExp(` ${victim.consumer} gone \\(its connections closed\\): its analyzers move at once`),
      run.lab.timeoutMs,
    );
    await run.untilTakenOver(survivor, victim, ran[victim === first ? 0 : 1]!);
    await run.startAnalyze("analyze-3");
  });
}

/**
 * Two analyze processes from the start: they share the three analyzers and the mint analyzer's partitions
 * (`lab.partitions`) by lease, each running at least one partition's actor, until the run is drained.
 */
export function sharedPartitionsRun(lab: CrashLab): Promise<RunOutcome> {
  return redisRun(lab, "shared-partitions", async (run) => {
    const second = await run.startAnalyze("analyze-2");
    const [first] = run.analyzers;
    let shares: string[][] = [];
    await until(
      "the mint partitions shared",
      async () => {
        shares = await Promise.all([first!, second].map((p) => run.mintPartitionsOf(p)));
        return shares.every((s) => s.length > 0) && shares.flat().length === (lab.partitions ?? 1);
      },
      {
        timeoutMs: lab.timeoutMs,
        abort: () => (first!.alive && second.alive ? null : "an analyze process died"),
      },
    );
    run.step(`analyze-1 runs ${shares[0]!.join(", ")}; analyze-2 runs ${shares[1]!.join(", ")}`);
  });
}

/**
 * Two analyze processes that share the analyzers by lease before the first entry is written, as `lab`
 * configures them (without durable state, too: a moved analyzer would start from nothing, but none moves).
 * Each analyzer sees its whole stream in one process, so the alerts are one process's.
 */
export function sharedFromTheStartRun(lab: CrashLab, scenario: string): Promise<RunOutcome> {
  return redisRun(
    lab,
    scenario,
    async () => {},
    async (run) => {
      const second = await run.startAnalyze("analyze-2");
      const ran = await run.untilShared([run.analyzers[0]!, second]);
      run.step(`analyze-1 runs ${ran[0]!.join(", ")}; analyze-2 runs ${ran[1]!.join(", ")}`);
    },
  );
}

/**
 * Two analyze processes share the analyzers; the one running more of them is SIGKILLed at `killAt` with
 * entries pending in its analyzers' tx groups. The survivor takes those analyzers over and takes over what
 * they held at once (`adoptWithinMs`, well below `lab.claimIdleMs`, after which a claim sweep would take
 * them anyway); without durable state that is the pumps' adoption at start, with it the durable pumps'.
 */
export function takeoverRun(lab: CrashLab, scenario: string, killAt: number, adoptWithinMs: number) {
  return redisRun(lab, scenario, async (run) => {
    const second = await run.startAnalyze("analyze-2");
    const processes = [run.analyzers[0]!, second];
    const ran = await run.untilShared(processes);
    await run.untilProgress(killAt, second);
    const victimAt = ran[0]!.length >= ran[1]!.length ? 0 : 1;
    const [victim, survivor] = [processes[victimAt]!, processes[1 - victimAt]!];
    // Each analyzer's tx group bears its actor's name (topology.ts).
    const groups = ran[victimAt]!;
    const held = async () => {
      let count = 0;
      for (const group of groups)
        count += (await run.redis.pendingIds(run.redis.tx, group, victim.consumer)).length;
      return count;
    };
    await victim.kill();
    run.step(
      `SIGKILL ${victim.consumer} (pid ${victim.pid}) holding ${await held()} entries of ${groups.join(", ")}`,
    );
    await run.untilTakenOver(survivor, victim, groups);
    const taken = Date.now();
    run.step(`${survivor.consumer} runs ${groups.join(", ")}`);
    await until(
      `the entries ${victim.consumer} held in ${groups.join(", ")} taken over`,
      async () => (await held()) === 0,
      {
        timeoutMs: adoptWithinMs,
        abort: () => (survivor.alive ? null : died(survivor)),
      },
    );
    run.step(
      `${survivor.consumer} holds the victim's entries ${Date.now() - taken} ms after taking its analyzers`,
    );
  });
}

/**
 * Redis stops answering (`stall`: SIGSTOP of its server, then SIGCONT) at `stallAt` for longer than three
 * quarters of the analyzers' lease, so the one analyze process's leases lapse on its side and expire in
 * Redis. Nobody else holds them meanwhile, so once Redis answers again the process takes each analyzer
 * again under the next generation and goes on with it where it paused: the log says so for each, and no
 * analyzer is started afresh (before, each was stopped and started again, restored or from nothing).
 */
export function redisStallRun(
  lab: CrashLab,
  stallAt: number,
  stall: () => Promise<void>,
): Promise<RunOutcome> {
  return redisRun(lab, "redis-stalled", async (run) => {
    const analyze = run.analyzers[0]!;
    await run.untilProgress(stallAt, analyze);
    const started = Date.now();
    await stall();
    run.step(`Redis stalled for ${Date.now() - started} ms`);
    for (const actor of analyzerActors(lab))
      await analyze.waitFor(new RegExp(` ${actor} runs here again \\(lease generation`), lab.timeoutMs);
    run.step("every analyzer taken again, kept");
    const afresh = analyze.log.split("\n").filter((line) => / runs here from now /.test(line));
    if (afresh.length !== analyzerActors(lab).length)
      throw new Error(`analyzers started afresh after the stall:\n${afresh.join("\n")}`);
  });
}

/** Restart each analyzer actor through `POST /actors/:name/restart` at its point, in one analyze process. */
export function apiRestartRun(lab: CrashLab, points: readonly number[]): Promise<RunOutcome> {
  return redisRun(lab, "api-restart", async (run) => {
    const analyze = run.analyzers[0]!;
    const actors = analyzerActors(lab);
    for (const [i, at] of points.entries()) {
      const actor = actors[i % actors.length]!;
      await run.untilProgress(at, analyze);
      await analyze.api("POST", `/actors/${actor}/restart`);
      run.step(`POST /actors/${actor}/restart`);
    }
  });
}

/**
 * A zombie. The analyze process is frozen (SIGSTOP) at `freezeAt` while it holds entries; another one
 * (another consumer name) takes them over and carries on until the whole workload is written and done.
 * Then the frozen one is thawed and stopped: its SIGTERM drains, so its late checkpoint, outputs and acks
 * are attempted by the time it exits, and must all be refused. The successor is then SIGKILLed and
 * restarted under its name, so it restores whatever the store holds (which the zombie must not have
 * overwritten).
 *
 * The ingest is not frozen: a SIGSTOP in the middle of a pipelined append makes ioredis time the appends
 * out on thawing although Redis wrote them, and the writer sends them again (a producer that is not
 * idempotent on an ambiguous failure: docs/reliability.md). The zombie is thawed once nothing new is
 * written, so it finds no work; a zombie thawed while entries flow is {@link thawedZombieRun}. `holdAt` is
 * kept in the signature for the soak's seeds.
 */
export function zombieRun(lab: CrashLab, freezeAt: number, _holdAt: number): Promise<RunOutcome> {
  return redisRun(lab, "zombie", async (run) => {
    const zombie = await run.freezeFirst(freezeAt);
    let successor = await run.startAnalyze("analyze-successor");
    await run.ingestDone();
    await run.untilDrained([successor]);
    run.step(`${successor.consumer} took over the zombie's entries and finished the workload`);
    zombie.signal("SIGCONT");
    const zombieExit = await zombie.stop();
    run.step(`SIGCONT, then SIGTERM ${zombie.consumer}: exit code ${zombieExit}`);
    await successor.kill();
    run.step(`SIGKILL ${successor.consumer} (pid ${successor.pid})`);
    successor = await run.startAnalyze(successor.consumer);
  });
}

/**
 * `--role all` on the in-memory backend: restart the analyzer actors through the control API at `points`
 * (the supervisor terminates the worker and starts a new one, as after a crash), `actors` in turn. In memory the analyzers
 * outrun the control API (a full-speed replay keeps the event loop busy), so the replay reads a FIFO that
 * the run fills up to each point in turn: each restart comes once the workload up to its point is written
 * (wherever the actor is in it then) and before the rest is, so the actor always has work ahead of it. The
 * alerts come from the JSONL sink; the alerts stream's length (GET /streams) says whether any was written
 * twice.
 */
export async function memoryRestartRun(
  lab: CrashLab,
  points: readonly number[],
  scenario = "memory-restart",
  actors: readonly string[] = analyzerActors(lab),
): Promise<RunOutcome> {
  const started = Date.now();
  const steps: string[] = [];
  const sinkFile = join(lab.dir, `memory-${randomUUID()}.jsonl`);
  const fifo = join(lab.dir, `memory-${randomUUID()}.fifo`);
  if (Bun.spawnSync(["mkfifo", fifo]).exitCode !== 0) throw new Error(`mkfifo ${fifo} failed`);
  const scanner = await ScannerProcess.start(
    "all",
    {
      prefix: MEMORY_PREFIX,
      consumer: "memory",
      alertsFile: sinkFile,
      apiToken: API_TOKEN,
      ...(lab.partitions === undefined ? {} : { partitions: lab.partitions }),
    },
    // Kept running after the replay: the run reads the drained streams through the API.
    ["--replay", fifo, "--pace", "full", "--keep-running"],
  );
  const replay = await open(fifo, "w");
  try {
    const total = lab.workload.events + 1;
    const workload = await Bun.file(lab.workload.path).bytes();
    const ends = lineEnds(
      workload,
      points.map((at) => Math.round(at * lab.workload.events)),
    );
    let written = 0;
    for (const [i, at] of points.entries()) {
      const actor = actors[i % actors.length]!;
      await replay.write(workload.subarray(written, ends[i]));
      written = ends[i]!;
      const { totals } = await scanner.api<MemoryActor>("GET", `/actors/${actor}`);
      await scanner.api("POST", `/actors/${actor}/restart`);
      steps.push(
        `${ms(started)} workload written up to ${pct(at)}, ${actor} at ${totals.processed} of ${total}: POST /actors/${actor}/restart`,
      );
    }
    await replay.write(workload.subarray(written));
    await replay.close();
    await scanner.waitFor(INGEST_DONE, lab.timeoutMs);
    steps.push(`${ms(started)} ingest done`);
    let streamLength = 0;
    await until(
      "a drained memory run",
      async () => {
        const { groups } = await scanner.api<{ groups: MemoryGroup[] }>("GET", "/streams");
        streamLength = groups.find((g) => g.stream === `${MEMORY_PREFIX}alerts`)?.length ?? 0;
        return groups.length === groupCount(lab) && groups.every((g) => g.pending === 0 && g.lag === 0);
      },
      { timeoutMs: lab.timeoutMs, abort: () => (scanner.alive ? null : died(scanner)) },
    );
    steps.push(`${ms(started)} drained; ${await actorTotals(scanner)}`);
    const exit = await scanner.stop();
    steps.push(`${ms(started)} stopped`);
    return {
      scenario,
      stream: null,
      streamLength,
      sink: await readSinkFiles([sinkFile]),
      exits: { memory: exit },
      steps,
      ms: Date.now() - started,
      deadLetters: null,
    };
  } finally {
    await scanner.kill();
    await replay.close().catch(() => {});
  }
}

/** Byte offsets just past line `n` for each of `counts` (sorted). */
function lineEnds(bytes: Uint8Array, counts: readonly number[]): number[] {
  const ends: number[] = [];
  let line = 0;
  let at = 0;
  for (const count of counts) {
    while (line < count) {
      at = bytes.indexOf(0x0a, at) + 1;
      line++;
    }
    ends.push(at);
  }
  return ends;
}

/** An analyzer group as `GET /streams` shows it with the analyzers placed by lease. */
interface PlacedGroup {
  stream: string;
  group: string;
  partition?: { owner: string | null };
}

interface MemoryActor {
  totals: { processed: number };
}

interface MemoryGroup {
  stream: string;
  group: string;
  length: number;
  /** The memory backend always knows it. */
  lag: number;
  pending: number;
}

/** One scanner run on Redis under its own key prefix: an ingest process and the scenario's analyze processes. */
class RedisRun {
  readonly lab: CrashLab;
  readonly scenario: string;
  readonly prefix: string;
  readonly redis: ScannerRedis;
  readonly analyzers: ScannerProcess[] = [];
  readonly sinkFiles: string[] = [];
  readonly steps: string[] = [];
  readonly exits: Record<string, number> = {};
  readonly started = Date.now();
  ingest: ScannerProcess | null = null;

  constructor(lab: CrashLab, scenario: string) {
    this.lab = lab;
    this.scenario = scenario;
    // On a cluster the scanner's streams share one slot (a sybil checkpoint acks two of them in one script).
    this.prefix = lab.clusterNodes
      ? `{troupe-test-crash:${randomUUID()}}:`
      : `troupe-test-crash:${randomUUID()}:`;
    this.redis = new ScannerRedis(lab.clusterNodes ?? lab.redisUrl, this.prefix, lab.partitions ?? 0);
  }

  get total(): number {
    return this.lab.workload.events + 1;
  }

  step(what: string): void {
    this.steps.push(`${ms(this.started)} ${what}`);
  }

  config(consumer: string, alertsFile?: string): ScannerConfig {
    return {
      ...(this.lab.clusterNodes ? { clusterNodes: this.lab.clusterNodes } : { redisUrl: this.lab.redisUrl }),
      ...(this.lab.partitions === undefined ? {} : { partitions: this.lab.partitions }),
      prefix: this.prefix,
      consumer,
      apiToken: API_TOKEN,
      ...(this.lab.claimIdleMs === undefined ? {} : { claimIdleMs: this.lab.claimIdleMs }),
      ...(this.lab.analyzerLeaseMs === undefined ? {} : { analyzerLeaseMs: this.lab.analyzerLeaseMs }),
      ...(alertsFile ? { alertsFile } : {}),
      ...(this.lab.durableState === undefined ? {} : { durableState: this.lab.durableState }),
    };
  }

  async startAnalyze(consumer: string): Promise<ScannerProcess> {
    // One sink file per run, as an operator keeps TROUPE_ALERTS_FILE across restarts: a restarted process
    // appends to it and must not write again an alert its predecessor wrote.
    const sinkFile = join(this.lab.dir, `${this.prefix.replaceAll(":", "_")}.jsonl`);
    if (!this.sinkFiles.includes(sinkFile)) this.sinkFiles.push(sinkFile);
    const analyze = await ScannerProcess.start("analyze", this.config(consumer, sinkFile));
    this.analyzers.push(analyze);
    this.step(`started ${consumer} (pid ${analyze.pid})`);
    return analyze;
  }

  async startIngest(): Promise<void> {
    this.ingest = await ScannerProcess.start("ingest", this.config("ingest"), [
      "--replay",
      this.lab.workload.path,
      "--pace",
      "full",
    ]);
  }

  /** Until the ingest process has written `fraction` of the workload to the tx stream. */
  async untilWritten(fraction: number): Promise<void> {
    const ingest = this.ingest!;
    let written = 0;
    await until(
      `${pct(fraction)} of the workload written`,
      async () => {
        written = await this.redis.written();
        return written >= fraction * this.total;
      },
      { timeoutMs: this.lab.timeoutMs, abort: () => (ingest.alive ? null : died(ingest)) },
    );
    this.step(`${written} of ${this.total} entries written (${pct(fraction)} wanted)`);
  }

  /** Until every analyzer group has read `fraction` of the workload (while `working` is alive). */
  async untilProgress(fraction: number, working: ScannerProcess): Promise<void> {
    let read = 0;
    await until(
      `${pct(fraction)} of the workload read`,
      async () => {
        read = await this.redis.progress();
        return read >= fraction * this.total;
      },
      { timeoutMs: this.lab.timeoutMs, abort: () => (working.alive ? null : died(working)) },
    );
    this.step(`${read} of ${this.total} entries read (${pct(fraction)} wanted)`);
  }

  async untilDrained(working: readonly ScannerProcess[]): Promise<void> {
    await until("every group drained", () => this.redis.drained(groupCount(this.lab)), {
      timeoutMs: this.lab.timeoutMs,
      abort: () => (working.some((p) => p.alive) ? null : working.map(died).join("\n")),
    });
  }

  /** Freezes (SIGSTOP) the first analyze process once `fraction` of the workload is read; returns it. */
  async freezeFirst(fraction: number): Promise<ScannerProcess> {
    const zombie = this.analyzers[0]!;
    await this.untilProgress(fraction, zombie);
    zombie.signal("SIGSTOP");
    this.step(`SIGSTOP ${zombie.consumer} holding ${await this.pendingOf(zombie.consumer)} pending entries`);
    return zombie;
  }

  /**
   * Until `survivor` logs taking each of `actors` over under a later lease generation than `victim`'s (it
   * may have run one of them before).
   */
  async untilTakenOver(
    survivor: ScannerProcess,
    victim: ScannerProcess,
    actors: readonly string[],
  ): Promise<void> {
    for (const actor of actors) {
      const before = Math.max(...leaseGenerations(victim.log, actor));
      await until(
        `${survivor.consumer} taking ${actor} over under a lease generation above ${before}`,
        async () => leaseGenerations(survivor.log, actor).some((generation) => generation > before),
        { timeoutMs: this.lab.timeoutMs, abort: () => (survivor.alive ? null : died(survivor)) },
      );
    }
  }

  /** Until `processes` run every analyzer between them, each at least one; what each runs then. */
  async untilShared(processes: readonly ScannerProcess[]): Promise<string[][]> {
    let ran: string[][] = [];
    await until(
      "the analyzers shared",
      async () => {
        ran = await Promise.all(processes.map((p) => this.analyzersOf(p)));
        return (
          ran.every((names) => names.length > 0) && ran.flat().length === analyzerActors(this.lab).length
        );
      },
      {
        timeoutMs: this.lab.timeoutMs,
        abort: () => {
          const dead = processes.find((p) => !p.alive);
          return dead ? died(dead) : null;
        },
      },
    );
    return ran;
  }

  /** The analyzer actors running in `scanner` now (its share of them), by name. */
  async analyzersOf(scanner: ScannerProcess): Promise<string[]> {
    const { actors } = await scanner.api<{ actors: Array<{ name: string }> }>("GET", "/actors");
    const analyzers = analyzerActors(this.lab);
    return actors.map((a) => a.name).filter((name) => analyzers.includes(name));
  }

  /** The mint analyzer's partition actors running in `scanner` now. */
  async mintPartitionsOf(scanner: ScannerProcess): Promise<string[]> {
    const { actors } = await scanner.api<{ actors: Array<{ name: string }> }>("GET", "/actors");
    return actors.map((a) => a.name).filter((name) => /^mint-analyzer-p\d+$/.test(name));
  }

  async pendingOf(consumer: string): Promise<number> {
    let held = 0;
    for (const stream of [this.redis.tx, this.redis.findings, this.redis.alerts]) {
      for (const group of await this.redis.groups(stream))
        held += (await this.redis.pendingIds(stream, group.name, consumer)).length;
    }
    return held;
  }

  /** Waits until the ingest process has written the whole workload, then stops it. */
  async ingestDone(): Promise<void> {
    const ingest = this.ingest!;
    if (this.exits.ingest !== undefined) return;
    await ingest.waitFor(INGEST_DONE, this.lab.timeoutMs);
    this.step("ingest done");
    this.exits.ingest = await ingest.stop();
    this.step("ingest stopped");
  }

  /** Ingest done, every group drained, every analyze process stopped (SIGTERM): the run's alerts. */
  async finish(): Promise<RunOutcome> {
    await this.ingestDone();
    await this.untilDrained(this.analyzers);
    this.step("drained");
    for (const analyze of this.analyzers) {
      if (!analyze.alive) continue;
      this.step(`${analyze.consumer}: ${await actorTotals(analyze)}`);
      this.exits[analyze.consumer] = await analyze.stop();
    }
    this.step("analyzers stopped");
    // Where each analyzer ran when, as each process logged it: what a failing check needs first.
    for (const analyze of this.analyzers) {
      const moves = analyze.log.split("\n").filter((line) => ANALYZER_MOVE.test(line));
      if (moves.length > 0) this.step(`${analyze.consumer} (pid ${analyze.pid}) logged: ${moves.join("; ")}`);
    }
    const stream = await this.redis.alertEntries();
    return {
      scenario: this.scenario,
      stream,
      streamLength: stream.length,
      sink: await readSinkFiles(this.sinkFiles),
      exits: this.exits,
      steps: this.steps,
      ms: Date.now() - this.started,
      deadLetters: await this.redis.deadLetters(),
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.ingest, ...this.analyzers].map((p) => p?.kill()));
    await this.redis.close();
  }
}

/** `beforeIngest` runs once the first analyze process is up, before the first entry is written. */
async function redisRun(
  lab: CrashLab,
  scenario: string,
  drive: (run: RedisRun) => Promise<void>,
  beforeIngest: (run: RedisRun) => Promise<void> = async () => {},
): Promise<RunOutcome> {
  const run = new RedisRun(lab, scenario);
  try {
    // The analyze process first: its groups exist before the first entry, as in production.
    await run.startAnalyze("analyze-1");
    await beforeIngest(run);
    await run.startIngest();
    await drive(run);
    return await run.finish();
  } finally {
    await run.close();
  }
}

/** `wallet-analyzer processed 29459 restarts 0 failed 0 deadLettered 0 | ...`: what a failing check prints. */
async function actorTotals(scanner: ScannerProcess): Promise<string> {
  const { actors } = await scanner.api<{ actors: Array<{ name: string; totals: Record<string, unknown> }> }>(
    "GET",
    "/actors",
  );
  return actors
    .map(({ name, totals }) =>
      [name, ...["processed", "restarts", "failed", "deadLettered"].map((k) => `${k} ${totals[k]}`)].join(
        " ",
      ),
    )
    .join(" | ");
}

function died(scanner: ScannerProcess): string {
  return `${scanner.consumer} (pid ${scanner.pid}) exited:\n${scanner.log.slice(-2000)}`;
}

function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(0)}%`;
}

function ms(since: number): string {
  return `+${Date.now() - since} ms`;
}

/**
 * One `bun src/main.ts` process of the real scanner, configured through its environment only, with its
 * stderr collected as it comes (so a chatty child never blocks on a full pipe) and its control API at
 * hand. Signals go to this one process, by its pid.
 */
import type { Subprocess } from "bun";

const ROOT = new URL("../../..", import.meta.url).pathname;
const READY = /control API (http:\/\/\S+)/;

export type Role = "all" | "ingest" | "analyze";

export interface ScannerConfig {
  /** Absent (and no `clusterNodes`): the in-memory backend (role "all" only). */
  redisUrl?: string;
  /** REDIS_CLUSTER_NODES: a Redis Cluster's seed nodes (`host:port`). */
  clusterNodes?: readonly string[];
  /** TROUPE_PARTITIONS: the mint analyzer's partitions. */
  partitions?: number;
  prefix: string;
  consumer: string;
  claimIdleMs?: number;
  /** TROUPE_ANALYZER_LEASE_MS: how soon analyze processes take over a dead one's analyzers. */
  analyzerLeaseMs?: number;
  /** TROUPE_DURABLE_STATE; unset, the scanner's default (on). */
  durableState?: "on" | "off";
  /** JSONL alert sink: give every process its own file (a second writer on a path overwrites it). */
  alertsFile?: string;
  apiToken?: string;
}

export class ScannerProcess {
  readonly role: Role;
  readonly consumer: string;
  /** Everything the process wrote on stderr so far. */
  log = "";
  #url = "";
  readonly #child: Subprocess<"ignore", "ignore", "pipe">;
  readonly #token: string | undefined;
  readonly #waiters = new Set<() => void>();
  #ended = false;

  private constructor(role: Role, config: ScannerConfig, args: string[]) {
    this.role = role;
    this.consumer = config.consumer;
    this.#token = config.apiToken;
    this.#child = Bun.spawn(["bun", "src/main.ts", "--role", role, ...args], {
      cwd: ROOT,
      env: childEnv(config),
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    void this.#collect();
  }

  /** Starts the process and resolves once its control API is up (its pumps and groups exist by then). */
  static async start(role: Role, config: ScannerConfig, args: string[] = []): Promise<ScannerProcess> {
    const scanner = new ScannerProcess(role, config, args);
    const [, url] = (await scanner.waitFor(READY)).match(READY) ?? [];
    scanner.#url = url ?? "";
    return scanner;
  }

  get pid(): number {
    return this.#child.pid;
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Resolves with the log once `pattern` appears in it; rejects if the process ends first. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.log)) {
      if (this.#ended) throw new Error(`${this.#name()} ended before ${pattern}:\n${this.log.slice(-2000)}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`${this.#name()}: no ${pattern} in ${timeoutMs} ms:\n${this.log.slice(-2000)}`);
      await this.#nextOutput(left);
    }
    return this.log;
  }

  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** SIGKILL (a frozen process too), and wait until it is gone. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.#child.kill("SIGCONT");
    this.#child.kill("SIGKILL");
    await this.#child.exited;
  }

  /** SIGTERM (drain, flush, close) and the exit code. */
  async stop(): Promise<number> {
    if (this.alive) this.#child.kill("SIGTERM");
    return this.#child.exited;
  }

  /** A control API call; the bearer token goes with every request. */
  async api<T>(method: "GET" | "POST", path: string): Promise<T> {
    const headers: Record<string, string> = this.#token ? { authorization: `Bearer ${this.#token}` } : {};
    const response = await fetch(new URL(path, this.#url), { method, headers });
    const body = await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(body)}`);
    return body as T;
  }

  #name(): string {
    return `${this.role} ${this.consumer} (pid ${this.pid})`;
  }

  #nextOutput(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiters = this.#waiters;
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  async #collect(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.#child.stderr) {
      // Keep the tail only: a long soak prints a progress line every second.
      this.log = (this.log + decoder.decode(chunk, { stream: true })).slice(-200_000);
      for (const wake of [...this.#waiters]) wake();
    }
    this.#ended = true;
    for (const wake of [...this.#waiters]) wake();
  }
}

/** This process's environment without any scanner setting, then exactly the given ones. */
function childEnv(config: ScannerConfig): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (
      value !== undefined &&
      name !== "REDIS_URL" &&
      name !== "REDIS_CLUSTER_NODES" &&
      !name.startsWith("TROUPE_") &&
      name !== "ALERT_WEBHOOK_URL"
    )
      env[name] = value;
  }
  env.TROUPE_STREAM_PREFIX = config.prefix;
  env.TROUPE_CONSUMER = config.consumer;
  env.TROUPE_HTTP_HOST = "127.0.0.1";
  env.TROUPE_HTTP_PORT = "0";
  if (config.redisUrl) env.REDIS_URL = config.redisUrl;
  if (config.clusterNodes) env.REDIS_CLUSTER_NODES = config.clusterNodes.join(",");
  if (config.partitions !== undefined) env.TROUPE_PARTITIONS = String(config.partitions);
  if (config.claimIdleMs !== undefined) env.TROUPE_CLAIM_IDLE_MS = String(config.claimIdleMs);
  if (config.analyzerLeaseMs !== undefined) env.TROUPE_ANALYZER_LEASE_MS = String(config.analyzerLeaseMs);
  if (config.durableState) env.TROUPE_DURABLE_STATE = config.durableState;
  if (config.alertsFile) env.TROUPE_ALERTS_FILE = config.alertsFile;
  if (config.apiToken) env.TROUPE_API_TOKEN = config.apiToken;
  return env;
}

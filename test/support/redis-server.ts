/**
 * A private `redis-server` for tests that need their own Redis (or that break it). It runs in a temp dir
 * on a port picked before start (`--port 0` would disable TCP), so a test can stop, kill, pause or
 * restart it on the same address. Never point these helpers at the shared server on 6379.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export interface RedisServerOptions {
  /** Turn on AOF persistence. @defaultValue false */
  appendonly?: boolean;
  /** AOF fsync policy when `appendonly` is on. @defaultValue "everysec" */
  appendfsync?: "always" | "everysec" | "no";
  /** `maxmemory` (bytes or "64mb"); with the default `noeviction` policy, writes are refused past it. */
  maxmemory?: number | string;
  /** Allow DEBUG SLEEP / DEBUG SEGFAULT from localhost. @defaultValue false */
  enableDebugCommand?: boolean;
  /** Run as a Redis Cluster node (its `nodes.conf` in the server's dir); see redis-cluster.ts. @defaultValue false */
  cluster?: boolean;
  /** How long to wait for "Ready to accept connections". @defaultValue 10000 */
  startTimeoutMs?: number;
}

const READY_LINE = "Ready to accept connections";

/** Asks the OS for a free port, then releases it for redis-server to bind (retried on a lost race). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function redisServerInstalled(): boolean {
  return Bun.which("redis-server") !== null;
}

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly options: RedisServerOptions;
  #process: Subprocess<"ignore", "pipe", "pipe"> | null = null;

  private constructor(port: number, dir: string, options: RedisServerOptions) {
    this.port = port;
    this.dir = dir;
    this.options = options;
  }

  /** Starts a fresh server in a new temp dir; retries on another port if the picked one was taken. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = await mkdtemp(join(tmpdir(), "troupe-redis-"));
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = new RedisServer(await freePort(), dir, options);
      try {
        await server.#spawn();
        return server;
      } catch (error) {
        lastError = error;
      }
    }
    await rm(dir, { recursive: true, force: true });
    throw lastError;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  get running(): boolean {
    return this.#process !== null && this.#process.exitCode === null && this.#process.signalCode === null;
  }

  #args(): string[] {
    const o = this.options;
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", ""];
    args.push("--appendonly", o.appendonly ? "yes" : "no", "--appendfsync", o.appendfsync ?? "everysec");
    if (o.maxmemory !== undefined) args.push("--maxmemory", String(o.maxmemory));
    if (o.enableDebugCommand) args.push("--enable-debug-command", "local");
    if (o.cluster) args.push("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf");
    return args;
  }

  /** Spawns redis-server and resolves once it logs that it accepts connections (no polling). */
  async #spawn(): Promise<void> {
    const child = Bun.spawn(["redis-server", ...this.#args()], { stdout: "pipe", stderr: "pipe" });
    this.#process = child;
    const timeoutMs = this.options.startTimeoutMs ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis-server not ready in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([waitForLine(child.stdout, READY_LINE, child.exited), timeout]);
    } catch (error) {
      child.kill("SIGKILL");
      await child.exited;
      this.#process = null;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Graceful stop (SIGTERM; with `save ""` nothing is written except the AOF). */
  async stop(): Promise<void> {
    await this.kill("SIGTERM");
  }

  /** Sends a signal and, unless it only pauses/resumes the process, waits for it to exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.#process;
    if (!child) return;
    child.kill(signal);
    if (signal === "SIGSTOP" || signal === "SIGCONT") return;
    await child.exited;
    this.#process = null;
  }

  /** Starts the server again on the same port and dir (AOF, if enabled, is replayed). */
  async restart(): Promise<void> {
    if (this.#process) await this.stop();
    await this.#spawn();
  }

  /** Stops the server and removes its temp dir. */
  async cleanup(): Promise<void> {
    if (this.#process) {
      this.#process.kill("SIGCONT");
      await this.kill("SIGKILL");
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function waitForLine(stream: ReadableStream<Uint8Array>, needle: string, exited: Promise<number>) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const exit = exited.then((code) => {
    throw new Error(`redis-server exited with code ${code} before ready: ${seen.slice(-500)}`);
  });
  try {
    for (;;) {
      const chunk = await Promise.race([reader.read(), exit]);
      if (chunk.done) throw new Error(`redis-server closed stdout before ready: ${seen.slice(-500)}`);
      seen = (seen + decoder.decode(chunk.value)).slice(-4096);
      if (seen.includes(needle)) break;
    }
  } finally {
    exit.catch(() => {});
    reader.releaseLock();
  }
  // Keep draining the log so a chatty server never blocks on a full pipe.
  void stream.pipeTo(new WritableStream()).catch(() => {});
}

/** The Redis a suite runs against: REDIS_URL when set, else a private server it owns. */
export interface TestRedis {
  url: string;
  /** Present only when the suite started its own server (so faults may be injected into it). */
  server: RedisServer | null;
  close(): Promise<void>;
}

/**
 * Whether a Redis suite can run: REDIS_URL is set or redis-server is installed. Outside CI a suite
 * without either is skipped; under CI=true this throws, so a missing Redis fails the run.
 */
export function redisAvailable(): boolean {
  if (process.env.REDIS_URL || redisServerInstalled()) return true;
  if (process.env.CI === "true")
    throw new Error("CI=true: REDIS_URL is not set and redis-server is not installed");
  return false;
}

/** REDIS_URL if set (shared: never flushed, never restarted), else a fresh private server. */
export async function startTestRedis(): Promise<TestRedis> {
  const url = process.env.REDIS_URL;
  if (url) return { url, server: null, close: async () => {} };
  return startPrivateRedis();
}

/** A fresh private server even when REDIS_URL is set: for tests that break Redis. */
export async function startPrivateRedis(options: RedisServerOptions = {}): Promise<TestRedis> {
  const server = await RedisServer.start(options);
  return { url: server.url, server, close: () => server.cleanup() };
}

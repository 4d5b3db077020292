/**
 * A stand-in for the token APIs the enrichment actor calls: a local Bun HTTP server whose answers come
 * after a configurable latency, and which fails or hangs on purpose. It counts what a test wants to see:
 * requests in flight (and the most at once), and connections the client closed before an answer (an
 * aborted fetch).
 *
 * `GET /check/:name?mint=…` answers `{ check, mint, score }` (score 0–99, fixed per mint and check).
 * Per request, query parameters override the server's settings: `ms` (latency), `fail=1` (a 503),
 * `hang=1` (no answer until the client gives up), `gate=1` (held until `openGate()`). Mints named for it
 * misbehave on purpose: `flaky-…` gets a 503 on the first call of each check and answers the retry,
 * `hang-…` never gets an answer from the honeypot check. Other mints fail or hang when the hash of
 * (check, mint, attempt) falls under `errorRate` / `hangRate`, so runs are reproducible.
 */

export interface ApiServerOptions {
  /** Delay before each answer. @defaultValue 50 */
  latencyMs?: number;
  /** Share of (mint, check) pairs answered with a 503. @defaultValue 0 */
  errorRate?: number;
  /** Share of (mint, check) pairs never answered. @defaultValue 0 */
  hangRate?: number;
  /** Port to listen on (0: any free one). @defaultValue 0 */
  port?: number;
}

export interface ApiServer {
  readonly url: string;
  /** Requests being answered now. */
  readonly inFlight: number;
  /** The most requests in flight at once since the start (or the last `resetCounts`). */
  readonly maxInFlight: number;
  readonly requests: number;
  /** Requests whose client closed the connection before an answer. */
  readonly aborted: number;
  /** Resolves once `n` requests are in flight at the same time. */
  inFlightReached(n: number): Promise<void>;
  /** Resolves once `n` requests have been aborted by their client in total. */
  abortedReached(n: number): Promise<void>;
  /** Answers every request held at the gate, and lets later gated ones through at once. */
  openGate(): void;
  closeGate(): void;
  resetCounts(): void;
  stop(): Promise<void>;
}

export const API_DEFAULTS = { latencyMs: 50, errorRate: 0, hangRate: 0, port: 0 } satisfies ApiServerOptions;

export function startApiServer(options: ApiServerOptions = {}): ApiServer {
  const settings = { ...API_DEFAULTS, ...options };
  let inFlight = 0;
  let maxInFlight = 0;
  let requests = 0;
  let aborted = 0;
  let gateOpen = false;
  let gated: Array<() => void> = [];
  const attempts = new Map<string, number>();
  let watchers: Array<() => void> = [];
  const notify = () => {
    const current = watchers;
    watchers = [];
    for (const watch of current) watch();
  };
  const until = (done: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = () => (done() ? resolve() : watchers.push(check));
      check();
    });

  const server = Bun.serve({
    port: settings.port,
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const match = /^\/check\/([\w-]+)$/.exec(url.pathname);
      if (!match) return new Response("not found", { status: 404 });
      const check = match[1] as string;
      const mint = url.searchParams.get("mint") ?? "";
      const pair = `${check}:${mint}`;
      const attempt = (attempts.get(pair) ?? 0) + 1;
      attempts.set(pair, attempt);
      const roll = hash(`${pair}:${attempt}`) / 0x100000000;
      const hang =
        url.searchParams.get("hang") === "1" ||
        (mint.startsWith("hang-") && check === "honeypot") ||
        roll < settings.hangRate;
      const fail =
        url.searchParams.get("fail") === "1" ||
        (mint.startsWith("flaky-") && attempt === 1) ||
        (!hang && roll < settings.hangRate + settings.errorRate);
      const ms = Number(url.searchParams.get("ms") ?? settings.latencyMs);
      requests++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      notify();
      let answered = false;
      const closed = new Promise<void>((resolve) =>
        request.signal.addEventListener("abort", () => {
          if (!answered) aborted++;
          notify();
          resolve();
        }),
      );
      try {
        if (url.searchParams.get("gate") === "1" && !gateOpen) {
          await Promise.race([new Promise<void>((resolve) => gated.push(resolve)), closed]);
        }
        if (hang) await closed;
        else if (ms > 0) await Promise.race([Bun.sleep(ms), closed]);
        if (request.signal.aborted) return new Response(null, { status: 499 });
        answered = true;
        if (fail) return Response.json({ error: `${check} unavailable` }, { status: 503 });
        return Response.json({ check, mint, score: hash(`${mint}/${check}`) % 100 });
      } finally {
        inFlight--;
        notify();
      }
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get requests() {
      return requests;
    },
    get aborted() {
      return aborted;
    },
    inFlightReached: (n) => until(() => inFlight >= n),
    abortedReached: (n) => until(() => aborted >= n),
    openGate() {
      gateOpen = true;
      for (const release of gated) release();
      gated = [];
    },
    closeGate() {
      gateOpen = false;
    },
    resetCounts() {
      maxInFlight = inFlight;
      requests = 0;
      aborted = 0;
    },
    stop: () => server.stop(true),
  };
}

/** FNV-1a: the server's reproducible dice. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** `bun examples/enrichment/api-server.ts [latencyMs]`: serves until killed; prints its URL first. */
if (import.meta.main) {
  const server = startApiServer({ latencyMs: Number(process.argv[2] ?? API_DEFAULTS.latencyMs) });
  console.log(server.url);
}

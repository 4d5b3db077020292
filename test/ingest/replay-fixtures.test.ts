/**
 * The real-payload fixtures (DETECTORS.md §D, written in those shapes: test/fixtures/solana-tx,
 * test/fixtures/pumpportal/old-format.jsonl) through `bun run start --replay`, as a user would feed a
 * recording: what lands on the tx stream is the expected canonical events, what cannot be read is in the
 * dead-letter stream with its reason, and the alerts the rules call for fire (and no others).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Alert } from "../../src/detection/alert.ts";
import type { ChainEvent, Trade } from "../../src/detection/schema.ts";
import { mapSolanaTx } from "../../src/ingest/solana-tx.ts";
import { topology } from "../../src/scanner/topology.ts";
import { parseDeadLetter } from "../../src/streams/dead-letters.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { key } from "../fixtures/solana-tx/encoder.ts";
import {
  BUNDLE,
  CROWD,
  DEV,
  LAUNCH_FILE,
  MINT,
  recordings,
  TRANSFERS_FILE,
  UNKNOWN_PROGRAM,
} from "../fixtures/solana-tx/recordings.ts";
import { reaper, runToEnd } from "../support/reaper.ts";
import { redisServerInstalled, startPrivateRedis, type TestRedis } from "../support/redis-server.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const OLD_PUMPPORTAL = new URL("../fixtures/pumpportal/old-format.jsonl", import.meta.url).pathname;
const track = reaper();

interface Run {
  code: number;
  alerts: Alert[];
  stderr: string;
  prefix: string;
  /** The tx stream's events, without the replay's closing tick. */
  events: ChainEvent[];
  deadLetters: { entry: string; error: string | null }[];
}

describe.skipIf(!redisServerInstalled())("bun run start --replay on the real-payload fixtures", () => {
  let redis: TestRedis;
  let backend: RedisStreamBackend;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    backend = new RedisStreamBackend(redis.url);
  });
  afterAll(async () => {
    await backend?.close();
    await redis?.close();
  });

  async function replay(file: string): Promise<Run> {
    const prefix = `fixtures-${crypto.randomUUID()}:`;
    const { code, stdout, stderr } = await runToEnd(track, ["bun", "src/main.ts", "--replay", file], {
      cwd: ROOT,
      env: {
        ...process.env,
        TROUPE_HTTP_PORT: "0",
        REDIS_URL: redis.url,
        TROUPE_STREAM_PREFIX: prefix,
        TROUPE_ALERTS_FILE: "",
      },
    });
    const names = topology(prefix);
    const entries = await backend.range(names.tx, { count: 10_000 });
    const events = entries
      .map((entry) => defaultCodec.decode(entry.fields!) as ChainEvent | { kind: "tick" })
      .filter((event): event is ChainEvent => event.kind !== "tick");
    const deadLetters = (await backend.range(names.txDeadLetters, { count: 100 })).flatMap((entry) => {
      const letter = parseDeadLetter(entry);
      return letter ? [{ entry: letter.entryId, error: letter.error }] : [];
    });
    const alerts = stdout
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Alert);
    return { code, alerts, stderr, prefix, events, deadLetters };
  }

  test("launch.json (a JSON array of getTransaction responses): the events, then launch_bundle and fresh_sniper on the bundle", async () => {
    const run = await replay(LAUNCH_FILE);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      `replay of ${LAUNCH_FILE} done: 7 elements read, 11 events in, 0 rejected, 2 alerts (in ${run.prefix}alerts)`,
    );
    const expected = recordings().launch.flatMap((response) => {
      const mapped = mapSolanaTx(response);
      return mapped.ok ? mapped.events : [];
    });
    expect(run.events).toEqual(expected);
    const trades = run.events.filter((e): e is Trade => e.kind === "trade");
    expect(run.events[0]).toMatchObject({
      kind: "create",
      mint: key(MINT),
      creator: key(DEV),
      slot: 380_000_000,
    });
    expect(trades.map((t) => `${t.side}${t.inCreateTx ? " in the create tx" : ""}`)).toEqual([
      "buy in the create tx",
      ...BUNDLE.map(() => "buy"),
      ...CROWD.map(() => "buy"),
      "sell",
      "sell",
    ]);
    // The four bundle buys (12.2% of supply, one slot after the create, from wallets never seen before)
    // meet P1 (non-creator buys within Δslot 0–1 holding >= 10% -> med) and W2 (fresh wallets within
    // 5 slots holding >= 10% -> med). Nothing else: the dev keeps its 1.8%, the crowd buys small and late,
    // two crowd sells are 50% and 100% of small positions.
    const bundle = BUNDLE.map(key).sort();
    expect(run.alerts.map((a) => [a.detector, a.severity, a.mint, [...a.wallets].sort()]).sort()).toEqual([
      ["fresh_sniper", "med", key(MINT), bundle],
      ["launch_bundle", "med", key(MINT), bundle],
    ]);
  }, 60_000);
  test("transfers.jsonl (JSON lines): SOL and token transfers in; an unknown program and a failed tx in the dead letters with their reasons", async () => {
    const run = await replay(TRANSFERS_FILE);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      `replay of ${TRANSFERS_FILE} done: 5 lines read, 3 events in, 2 rejected (in ${run.prefix}tx:dlq, source ${TRANSFERS_FILE}), 0 alerts (in ${run.prefix}alerts)`,
    );
    expect(
      run.events.map(
        (e) => e.kind === "transfer" && [e.asset === "SOL" ? "SOL" : e.asset, e.from, e.to, e.amount],
      ),
    ).toEqual([
      ["SOL", key("whale"), key("friend"), 2_000_000_000],
      [key(MINT), key("crowd-3"), key("friend"), 1_000_000_000_000],
      [key(MINT), key("bundle-2"), key("friend"), 2_000_000_000_000],
    ]);
    expect(run.deadLetters.map((d) => [d.entry, d.error])).toEqual([
      [
        "line-4",
        `unknown_kind transaction.message.instructions: no pump.fun event, SOL transfer or token transfer in the transaction (programs: ${key(UNKNOWN_PROGRAM)})`,
      ],
      [
        "line-5",
        'out_of_range meta.err: the transaction failed on chain ({"InstructionError":[0,{"Custom":6003}]}): it changed nothing',
      ],
    ]);
    // One 2 SOL transfer and two token gifts: below every rule (W1 wants >= 5 SOL in, S1 five recipients).
    expect(run.alerts).toEqual([]);
  }, 60_000);

  test("PumpPortal's old message format (no solAmount, pool or time): SOL recovered from the curve, stamped on receipt", async () => {
    const messages = (await Bun.file(OLD_PUMPPORTAL).text())
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { txType: string; vSolInBondingCurve: number; solAmount?: number });
    expect(messages.every((m) => m.solAmount === undefined)).toBe(true);
    const started = Date.now();
    const run = await replay(OLD_PUMPPORTAL);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      `replay of ${OLD_PUMPPORTAL} done: 12 lines read, 12 events in, 0 rejected, 0 alerts (in ${run.prefix}alerts)`,
    );
    const trades = run.events as Trade[];
    expect(trades.map((t): string => t.side)).toEqual(messages.map((m) => m.txType));
    expect(
      trades.every((t) => t.solDerived && t.slot === null && t.tsSrc === "recv" && t.pool === "pump"),
    ).toBe(true);
    expect(trades.every((t) => t.ts >= started && t.ts <= Date.now())).toBe(true);
    // The SOL each trade moved is what the curve's SOL reserve moved by (what criterias.py computes from
    // consecutive messages), to the lamport, up to the 1e-9 rounding of the reported reserves.
    for (let i = 1; i < messages.length; i++) {
      const moved = Math.abs(messages[i]!.vSolInBondingCurve - messages[i - 1]!.vSolInBondingCurve) * 1e9;
      expect(Math.abs(trades[i]!.sol - moved)).toBeLessThanOrEqual(2);
    }
    // A stretch of small trades on a mint whose launch the recording does not hold: nothing to flag.
    expect(run.alerts).toEqual([]);
  }, 60_000);
});

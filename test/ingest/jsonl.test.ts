import { describe, expect, test } from "bun:test";
import { PatternAnalyzer } from "../../src/detection/pattern-analyzer.ts";
import type { ChainEvent } from "../../src/detection/schema.ts";
import { SybilAnalyzer } from "../../src/detection/sybil-analyzer.ts";
import { WalletAnalyzer } from "../../src/detection/wallet-analyzer.ts";
import { type LineResult, parseJsonl, replayJsonl } from "../../src/ingest/jsonl.ts";
import { buy, T0 } from "../detection/events.ts";

const FIXTURE = new URL("../fixtures/pumpportal/sample.jsonl", import.meta.url).pathname;

function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  // Two chunks split mid-line, to exercise line reassembly.
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes.slice(0, 101));
      controller.enqueue(bytes.slice(101));
      controller.close();
    },
  });
}

async function collect(source: AsyncIterable<LineResult>): Promise<LineResult[]> {
  const out: LineResult[] = [];
  for await (const r of source) out.push(r);
  return out;
}

describe("JSONL replay", () => {
  test("the PumpPortal fixture yields a launch bundle, fresh snipers and a dev dump", async () => {
    const results = await collect(replayJsonl(Bun.file(FIXTURE).stream()));
    expect(results.every((r) => r.ok)).toBe(true);
    const events = results.flatMap((r) => (r.ok ? r.events : []));
    expect(events.filter((e) => e.kind === "create")).toHaveLength(2);
    const derived = events.filter((e) => e.kind === "trade" && e.solDerived);
    expect(derived.length).toBe(9);
    for (const e of derived) if (e.kind === "trade") expect(e.sol).toBeGreaterThan(0);
    const analyzers = [new WalletAnalyzer(), new PatternAnalyzer(), new SybilAnalyzer()];
    const alerts = events.flatMap((e) => analyzers.flatMap((a) => a.handle(e)));
    // Four snipers in receive buckets 0–1 take ~22% of supply: med, raised once (5-min window).
    expect(alerts.map((a) => [a.detector, a.severity, a.timing, a.wallets.length])).toEqual([
      ["fresh_sniper", "med", "approx", 2],
      ["launch_bundle", "med", "approx", 2],
      ["dev_dump", "high", "approx", 1],
    ]);
  });

  test("bad lines are reported with line numbers and reasons; good lines keep flowing", async () => {
    const good = JSON.stringify(buy("M", "w", T0, { supply: 0.01 }));
    const text = [
      good,
      "{oops",
      "",
      JSON.stringify({ hello: 1 }),
      JSON.stringify({ ...JSON.parse(good), tok: 2 ** 60 }),
      good,
    ].join("\n");
    const results = await collect(replayJsonl(streamOf(text)));
    expect(results.map((r) => (r.ok ? [r.line, "ok"] : [r.line, r.reason.code]))).toEqual([
      [1, "ok"],
      [2, "bad_json"],
      [4, "unknown_kind"],
      [5, "unsafe_integer"],
      [6, "ok"],
    ]);
    expect([...parseJsonl(text)].map((r) => r.ok)).toEqual([true, false, false, false, true]);
  });

  test("a line whose bytes are not UTF-8 is refused, not altered; others with any UTF-8 pass, split anywhere", async () => {
    const event = buy("M", "wé", T0, { supply: 0.01 });
    const good = new TextEncoder().encode(`${JSON.stringify(event)}\n`);
    // The trader's "é" as a lone Latin-1 byte: decoded as one stream it became U+FFFD, an address altered.
    const latin1 = Uint8Array.from(
      [...good].flatMap((b, i, all) =>
        b === 0xc3 && all[i + 1] === 0xa9 ? [0xe9] : b === 0xa9 && all[i - 1] === 0xc3 ? [] : [b],
      ),
    );
    const bytes = new Uint8Array([...good, ...latin1, ...good]);
    // One byte a chunk: every line spans chunks, the two-byte "é" split in two.
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const b of bytes) controller.enqueue(Uint8Array.of(b));
        controller.close();
      },
    });
    const results = await collect(replayJsonl(source));
    expect(results.map((r) => (r.ok ? [r.line, "ok"] : [r.line, r.reason.code]))).toEqual([
      [1, "ok"],
      [2, "bad_encoding"],
      [3, "ok"],
    ]);
    expect(results[0]?.ok && results[0].events[0]).toMatchObject({ trader: "wé" });
  });

  test("in a JSON array, an element whose bytes are not UTF-8 is refused, not altered; the others pass", async () => {
    const [good, bad, last] = ["wé", "wé", "wè"].map((trader, i) =>
      buy("M", trader, T0 + i, { supply: 0.01 }),
    );
    const text = `[\n${JSON.stringify(good)},\n${JSON.stringify(bad)},\n${JSON.stringify(last)}\n]\n`;
    const bytes = new TextEncoder().encode(text);
    // The second element's "é" (C3 A9) as a lone Latin-1 byte (E9): not UTF-8.
    const second = text.indexOf(JSON.stringify(bad));
    const at = second + Buffer.byteLength(text.slice(second, text.indexOf("é", second)));
    const latin1 = new Uint8Array([...bytes.subarray(0, at), 0xe9, ...bytes.subarray(at + 2)]);
    const results = await collect(replayJsonl(new Blob([latin1]).stream()));
    expect(results.map((r) => (r.ok ? [r.line, "ok"] : [r.line, r.reason.code]))).toEqual([
      [1, "ok"],
      [2, "bad_encoding"],
      [3, "ok"],
    ]);
    expect(results.map((r) => r.ok && r.events[0]?.kind === "trade" && r.events[0].trader)).toEqual([
      "wé",
      false,
      "wè",
    ]);
  });

  test("a PumpPortal line that maps to an event outside the schema is reported like a bad canonical line", async () => {
    const [create] = (await Bun.file(FIXTURE).text()).split("\n");
    // A dev buy of 40 SOL out of a curve holding 31 SOL after it: the create's reserves would be negative.
    const results = [...parseJsonl(JSON.stringify({ ...JSON.parse(create!), solAmount: 40 }))];
    expect(results.map((r) => (r.ok ? "ok" : [r.reason.code, r.reason.field]))).toEqual([
      ["out_of_range", "vSol"],
    ]);
  });

  test("recorded pace sleeps the event-time gaps, scaled by speed", async () => {
    const events: ChainEvent[] = [0, 1_000, 1_000, 4_000].map((d, i) =>
      buy("M", `w${i}`, T0 + d, { supply: 0.01 }),
    );
    const sleeps: number[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
    };
    const text = events.map((e) => JSON.stringify(e)).join("\n");
    await collect(replayJsonl(streamOf(text), { pace: "recorded", speed: 2, sleep }));
    expect(sleeps).toEqual([500, 1_500]);
    sleeps.length = 0;
    await collect(replayJsonl(streamOf(text), { sleep }));
    expect(sleeps).toEqual([]);
  });

  test("bad replay options are named", () => {
    expect(() => replayJsonl(streamOf(""), { speed: 0 }).next()).toThrow("speed: must be a number > 0");
  });
});

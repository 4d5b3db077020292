/**
 * Zombie consumer (RELIABILITY.md scenario 6): a process frozen with SIGSTOP past `claimIdleMs` holds
 * entries in flight while another consumer claims and finishes them. Resumed with SIGCONT, it finishes
 * them too: its outputs find their dedup markers and write nothing, and its late XACK (which names no
 * consumer, so it would remove an entry someone else had claimed) finds nothing left to ack. Lines a
 * wrote just before the freeze can reach the test after the thaw, so "after" is judged by their stamps.
 */
import { describe, expect, test } from "bun:test";
import { ConsumerProcess } from "../fixtures/faults/consumer-process.ts";
import { TaggedProducer } from "../fixtures/faults/tagged-producer.ts";
import { canBreakRedis, consumerConfig, faultSuite, names, untilDrained, verdict } from "./support.ts";

const ENTRIES = 600;
const pump = { claimIdleMs: 300, sweepIntervalMs: 100 };

describe.skipIf(!canBreakRedis())("a consumer frozen past claimIdleMs, then resumed", () => {
  const suite = faultSuite();
  const { running } = suite;

  test("its entries are claimed and finished by another; resumed, it writes no output twice", async () => {
    const n = names();
    const producer = new TaggedProducer(suite.redis.url, n.stream);
    await producer.sendAll(ENTRIES, 100);
    await producer.close();
    const a = await ConsumerProcess.start(
      consumerConfig(suite.redis, n, "a", { workMs: 3, capacity: 32, pump }),
    );
    running.push(a);
    await a.waitFor("acked", { match: () => a.acked >= 100 });
    a.signal("SIGSTOP");
    const frozen = await suite.redis.backend.pending(n.stream, n.group, { count: ENTRIES, consumer: "a" });
    expect(frozen.length).toBeGreaterThan(0);

    const b = await ConsumerProcess.start(consumerConfig(suite.redis, n, "b", { pump }));
    running.push(b);
    await b.waitFor("claimed", { match: () => b.claimed >= frozen.length });
    await untilDrained(suite.redis, n, [b]);
    // Everything is done (by b) while a still holds its in-flight entries.
    const resumedAt = Date.now();
    a.signal("SIGCONT");
    // Stamped by a after it resumed (lines it wrote before the freeze may still be on their way).
    await a.waitFor("acked", { match: (e) => e.t >= resumedAt });
    await untilDrained(suite.redis, n, [a, b]);
    await a.kill();

    // a acked entries that b had already finished and acked: processed twice, yet one output each.
    const late = a.events.filter((e) => e.e === "acked" && e.t >= resumedAt);
    expect(late.length).toBeGreaterThan(0);
    expect(await suite.redis.backend.length(n.outputs)).toBe(ENTRIES);
    const result = await verdict(suite.redis, n, producer.history);
    expect(result).toMatchObject({
      processed: ENTRIES,
      lost: 0,
      unexpected: 0,
      duplicated: 0,
      deadLettered: 0,
    });
    expect(await suite.redis.backend.pending(n.stream, n.group, { count: 10 })).toEqual([]);
  }, 30_000);
});

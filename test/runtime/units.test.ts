import { afterEach, beforeEach, expect, jest, test } from "bun:test";
import { systemClock } from "../../src/index.ts";
import { Deque } from "../../src/runtime/deque.ts";
import { progressTag } from "../../src/runtime/protocol.ts";
import { instanceForKey } from "../../src/runtime/router.ts";
import { LatencyRing, RateWindow } from "../../src/runtime/stats.ts";

beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
afterEach(() => jest.useRealTimers());

test("rates over the last 1 s / 10 s / 60 s follow the clock", () => {
  const rate = new RateWindow(systemClock);
  for (let s = 0; s < 20; s++) {
    rate.add(s < 10 ? 100 : 1000);
    jest.advanceTimersByTime(1000);
  }
  expect(rate.perSecond(1)).toBe(1000);
  expect(rate.perSecond(10)).toBe(1000);
  expect(rate.perSecond(60)).toBe((10 * 100 + 10 * 1000) / 60);
  jest.advanceTimersByTime(120_000);
  expect(rate.perSecond(60)).toBe(0);
});

test("latency percentiles come from the most recent samples only", () => {
  const ring = new LatencyRing();
  for (let i = 1; i <= 100; i++) ring.add(i);
  expect(ring.percentiles()).toEqual({ p50: 51, p99: 100, samples: 100 });
  for (let i = 0; i < 2000; i++) ring.add(5);
  expect(ring.percentiles()).toEqual({ p50: 5, p99: 5, samples: 2100 });
});

test("the deque keeps FIFO order through compaction and front insertion", () => {
  const deque = new Deque<number>();
  for (let i = 0; i < 5000; i++) deque.push(i);
  for (let i = 0; i < 3000; i++) expect(deque.shift()).toBe(i);
  expect(deque.takeFront(2)).toEqual([3000, 3001]);
  deque.dropFront(2);
  expect(deque.at(0)).toBe(3004);
  expect(deque.length).toBe(1996);
  expect(deque.drain()).toEqual(Array.from({ length: 1996 }, (_, i) => 3004 + i));
  expect(deque.shift()).toBeUndefined();
});

test("key routing is stable and spreads keys", () => {
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[instanceForKey(`wallet-${i}`, 4)]!++;
  for (const count of counts) expect(count).toBeGreaterThan(800);
  expect(instanceForKey("abc", 4)).toBe(instanceForKey("abc", 4));
  expect(instanceForKey(7, 4)).toBe(3);
});

test("progress tags never collide inside a window and are never idle", () => {
  expect(progressTag(1)).toBe(2);
  expect(progressTag(0x3fffffff)).toBe(1);
  const window = new Set<number>();
  for (let seq = 0x3fffff00; seq < 0x3fffff00 + 4096; seq++) window.add(progressTag(seq));
  expect(window.size).toBe(4096);
  expect(window.has(0)).toBe(false);
});

/**
 * The in-process channel of the findings stream (findings-hand-over.ts): a record goes to the sybil actor's
 * pump only from a producer that may read now, so a producer whose lease lapsed (a thawed process, taken
 * over meanwhile) feeds nothing to the sybil actor running beside it.
 */
import { expect, test } from "bun:test";
import { analyzerCodec } from "../../src/detection/tx-entry.ts";
import { findingsHandOver } from "../../src/scanner/findings-hand-over.ts";
import type { EntryFields } from "../../src/streams/backend.ts";

const FINDINGS = "t:findings";
const mark = { kind: "progress", from: "pattern", position: 7, seq: 2 };

function recording() {
  const received: unknown[] = [];
  const target = {
    handOver: (fields: EntryFields) => {
      received.push(analyzerCodec.decode(fields));
      return true;
    },
  };
  return { received, target };
}

test("a producer that may read hands its findings-stream records over, decodable as written", () => {
  const { received, target } = recording();
  const handOver = findingsHandOver(FINDINGS, () => target);
  handOver({ stream: FINDINGS, dedupId: "pattern:p:7:2", scope: "global", payload: mark }, () => true);
  handOver({ stream: "t:alerts", dedupId: "a1", scope: "global", payload: { alertId: "a1" } }, () => true);
  expect(received).toEqual([mark]);
});

test("a producer whose lease lapsed hands nothing over", () => {
  const { received, target } = recording();
  const handOver = findingsHandOver(FINDINGS, () => target);
  let holds = true;
  const mayRead = () => holds;
  handOver({ stream: FINDINGS, dedupId: "pattern:p:7:2", scope: "global", payload: mark }, mayRead);
  holds = false;
  handOver(
    { stream: FINDINGS, dedupId: "pattern:p:8:2", scope: "global", payload: { ...mark, position: 8 } },
    mayRead,
  );
  expect(received).toEqual([mark]);
});

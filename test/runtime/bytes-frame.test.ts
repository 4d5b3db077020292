import { describe, expect, test } from "bun:test";
import { Packr, Unpackr } from "msgpackr";
import { allBytes, encodeBytesFrame } from "../../src/runtime/bytes-frame.ts";
import type { Frame } from "../../src/runtime/protocol.ts";

const unpackr = new Unpackr();
const bytes = (length: number, fill: number) => new Uint8Array(length).fill(fill);

describe("bytes frame", () => {
  test("is byte for byte what msgpackr writes, at every integer, array and bin width", () => {
    const packr = new Packr();
    const messages = [bytes(0, 0), bytes(5, 1), bytes(255, 2), bytes(256, 3), bytes(70_000, 4)];
    const many = Array.from({ length: 70_000 }, (_, i) => bytes(1, i & 0xff));
    const cases: Frame[] = [
      [1, messages, 1, 0],
      [200, messages, [1, 2, 300, 70_000, 5], [0, 1, 0, 1, 1]],
      [70_000, many.slice(0, 20), 4_000_000_000, 1],
      [2 ** 40 + 3, many, 2, 1],
      // Order keys (a worker with concurrency): one for the frame, or one per message.
      [7, messages, 1, 1, 0xfffffffe],
      [9, messages, 1, 0, [1, 0, 70_000, 4_000_000_000, 12]],
    ];
    for (const frame of cases) {
      const keys = frame.length === 5 ? frame[4] : null;
      const mine = new Uint8Array(
        encodeBytesFrame(frame[0], frame[1] as Uint8Array[], frame[2], frame[3], keys),
      );
      expect(unpackr.unpack(mine)).toEqual(unpackr.unpack(packr.pack(frame)));
      if (frame[0] < 2 ** 32) expect(mine).toEqual(new Uint8Array(packr.pack(frame)));
    }
  });

  test("applies to Uint8Arrays and Buffers only", () => {
    expect(allBytes([bytes(1, 0), Buffer.from("x")])).toBe(true);
    expect(allBytes([bytes(1, 0), "x"])).toBe(false);
    expect(allBytes([new Uint16Array(1)])).toBe(false);
  });
});

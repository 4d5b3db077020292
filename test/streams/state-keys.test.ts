/**
 * State key names: every key of a scope's state sits in its anchor stream's Redis Cluster hash slot, with
 * or without a hash tag in the anchor, checked on the keys a real commit leaves in Redis.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { InvalidOptionError } from "../../src/errors.ts";
import { hashTag, keySlot } from "../../src/streams/key-slot.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import { epochsKey, scopeKeys, stateBase } from "../../src/streams/state-keys.ts";
import { redisAvailable, startTestRedis, type TestRedis } from "../support/redis-server.ts";
import { seg } from "../support/state.ts";
import { deleteKeys, testPrefix } from "./harness.ts";

describe("state keys", () => {
  test("the slot function agrees with Redis' documented examples", () => {
    expect(keySlot("123456789")).toBe(0x31c3); // the CRC16-XMODEM check value, below 16384
    expect(keySlot("somekey")).toBe(11058);
    expect(keySlot("foo{hash_tag}")).toBe(2515);
    expect(keySlot("{hash_tag}")).toBe(2515);
  });

  test("hash tags: the first {...} with something inside", () => {
    expect(hashTag("tx")).toBeNull();
    expect(hashTag("a{b}c{d}")).toBe("b");
    expect(hashTag("a{}b{c}")).toBeNull();
    expect(hashTag("{x}")).toBe("x");
  });

  test("every state key shares its anchor's slot", () => {
    const scope = { actor: "wallet-analyzer", instance: 3 };
    for (const anchor of ["scanner:tx", "{scanner}:tx", "p:{tenant-7}:tx", "{a}b}", "x{"]) {
      const base = stateBase(anchor);
      const keys = scopeKeys(base, scope);
      for (const key of [keys.meta, keys.log, keys.base("7.1"), keys.base("{odd}"), epochsKey(base, "a{b}")])
        expect(keySlot(key)).toBe(keySlot(anchor));
    }
    expect(scopeKeys(stateBase("scanner:tx"), scope).meta).toBe("{scanner:tx}:state:wallet-analyzer:3:meta");
    expect(scopeKeys(stateBase("{s}:tx"), scope).base("2.5")).toBe("{s}:tx:state:wallet-analyzer:3:base:2.5");
  });

  test("an anchor whose '}' would break the tag is refused", () => {
    expect(() => stateBase("a}b")).toThrow(InvalidOptionError);
    expect(() => stateBase("a{}b")).toThrow(InvalidOptionError);
    expect(() => stateBase("")).toThrow(InvalidOptionError);
  });
});

describe.skipIf(!redisAvailable())("state keys in Redis", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  test("a restore and a commit leave only keys in the anchor's slot", async () => {
    const prefix = testPrefix();
    const anchor = `${prefix}:tx`;
    const backend = new RedisStreamBackend(redis.url);
    const admin = new Redis(redis.url, { protocol: 2 });
    try {
      const store = backend.stateStore({ anchor });
      const scope = { actor: "counter", instance: 0 };
      const { epoch } = await store.restore(scope);
      await store.commit({
        scope,
        epoch,
        segments: seg(["a", "k", new Uint8Array([1]), "b", "k", null]),
        covers: [],
      });
      const [, keys] = await admin.scan("0", "MATCH", `{${prefix}*`, "COUNT", 1000);
      expect(keys.sort()).toEqual([
        `{${anchor}}:state:counter:0:log`,
        `{${anchor}}:state:counter:0:meta`,
        `{${anchor}}:state:counter:epochs`,
      ]);
      for (const key of keys) expect(keySlot(key)).toBe(keySlot(anchor));
      // A compaction's base too: every commit compacts with no minimum size.
      const compacting = backend.stateStore({ anchor, compactMinBytes: 0 });
      const again = await compacting.restore(scope);
      await compacting.commit({
        scope,
        epoch: again.epoch,
        segments: seg(["a", "j", new Uint8Array([2])]),
        covers: [],
      });
      await compacting.idle();
      const [, after] = await admin.scan("0", "MATCH", `{${prefix}*`, "COUNT", 1000);
      expect(after.map((key) => key.replace(/:base:[0-9.]+$/, ":base:*")).sort()).toEqual([
        `{${anchor}}:state:counter:0:base:*`,
        `{${anchor}}:state:counter:0:meta`,
        `{${anchor}}:state:counter:epochs`,
      ]);
      for (const key of after) expect(keySlot(key)).toBe(keySlot(anchor));
      const meta = await admin.hgetall(`{${anchor}}:state:counter:0:meta`);
      expect(meta).toMatchObject({
        epoch: String(again.epoch),
        checkpoints: "2",
        keys: "1",
        compactions: "1",
      });
    } finally {
      admin.disconnect();
      await backend.close();
      await deleteKeys(redis.url, `{${prefix}`);
    }
  });
});

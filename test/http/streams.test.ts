/**
 * Streams and dead-letter routes over the real adapter, run against the embedded backend and a private
 * redis-server: the same assertions on both. Dead letters are made the real way: a pump feeds an actor
 * whose handler always throws, and the runtime gives up after one delivery.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import {
  type ControlApi,
  createControlApi,
  createStreamsSource,
  type DeadLetterView,
  type PendingEntryInfo,
  type StreamGroupInfo,
} from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import type { StreamBackend } from "../../src/streams/backend.ts";
import { deadLetterWrite } from "../../src/streams/dead-letters.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { Pump } from "../../src/streams/pump.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { RedisServer, redisAvailable } from "../support/redis-server.ts";
import { SCRIPTED } from "../support/runtime.ts";
import { call, failure, TOKEN } from "./support.ts";

type Page<T> = { entries: T[]; next: string | null };

function streamsSuite(name: string, backendFactory: () => StreamBackend) {
  describe(`streams API on ${name}`, () => {
    let system: ActorSystem;
    let backend: StreamBackend;
    let api: ControlApi;
    let stream: string;
    let dlq: string;

    beforeAll(async () => {
      backend = backendFactory();
      stream = `troupe-test-http:${randomUUID()}:tx`;
      dlq = `${stream}:dlq`;
      system = createSystem();
      const worker = await system.spawn<ScriptedMessage>(SCRIPTED, { name: "worker", maxDeliveries: 1 });
      await backend.ensureGroup(stream, "inspect");
      const pump = new Pump(backend, worker, { stream, group: "workers", sweepIntervalMs: 0, blockMs: 50 });
      let deadLettered = 0;
      const allDead = new Promise<void>((resolve) =>
        pump.on("deadLettered", () => {
          if (++deadLettered === 3) resolve();
        }),
      );
      for (let id = 1; id <= 3; id++)
        await backend.append(stream, defaultCodec.encode({ id, op: "throw-always" }));
      await backend.append(stream, defaultCodec.encode({ id: 4 }));
      await pump.start();
      await allDead;
      await pump.stop();
      // A consumer of another group holds three entries: they are pending there.
      await backend.readNew(stream, "inspect", "inspector-1", { count: 3 });
      api = createControlApi({
        system,
        token: TOKEN,
        streams: createStreamsSource({ backend, pumps: [pump] }),
        defaultMetrics: false,
      });
    });
    afterAll(async () => {
      api.close();
      await system.stop({ deadlineMs: 1000 });
      await backend.close();
    });

    const list = (query = "") => call<Page<DeadLetterView>>(api, "GET", `/dead-letters${query}`);

    test("GET /streams: every group with length, lag, pending, oldest idle, consumers, dead letters, watermark", async () => {
      const { status, body } = await call<{ groups: StreamGroupInfo[]; backend: { up: boolean } }>(
        api,
        "GET",
        "/streams",
      );
      expect(status).toBe(200);
      expect(body.backend.up).toBe(true);
      const byGroup = Object.fromEntries(body.groups.map((g) => [g.group, g]));
      expect(Object.keys(byGroup).sort()).toEqual(["inspect", "workers"]);
      expect(byGroup.inspect).toMatchObject({
        stream,
        length: 4,
        lag: 1,
        pending: 3,
        consumers: 1,
        deadLetterStream: dlq,
        deadLetters: 3,
        watermark: "ok",
      });
      expect(byGroup.inspect?.oldestPendingIdleMs).toBeGreaterThanOrEqual(0);
      expect(byGroup.workers).toMatchObject({ length: 4, lag: 0, pending: 0, oldestPendingIdleMs: null });
    });

    test("pending entries, paged: owner consumer, idle ms, delivery count", async () => {
      const path = `/streams/${encodeURIComponent(stream)}/groups/inspect/pending`;
      const first = await call<Page<PendingEntryInfo>>(api, "GET", `${path}?count=2`);
      expect(first.status).toBe(200);
      expect(first.body.entries).toHaveLength(2);
      expect(first.body.entries[0]).toMatchObject({ consumer: "inspector-1", deliveries: 1 });
      expect(first.body.entries[0]?.idleMs).toBeGreaterThanOrEqual(0);
      expect(first.body.next).toBe(first.body.entries[1]?.id ?? "missing");
      const second = await call<Page<PendingEntryInfo>>(
        api,
        "GET",
        `${path}?count=2&cursor=${first.body.next}`,
      );
      expect(second.body.entries).toHaveLength(1);
      expect(second.body.next).toBeNull();
    });

    test("pending: bad paging is 400, an unknown group 404", async () => {
      const path = `/streams/${encodeURIComponent(stream)}/groups/inspect/pending`;
      expect(await call(api, "GET", `${path}?count=0`)).toMatchObject({
        status: 400,
        body: failure("ERR_VALIDATION", "query.count: must be an integer from 1 to 500"),
      });
      expect(await call(api, "GET", `${path}?count=501`)).toMatchObject({ status: 400 });
      expect(await call(api, "GET", `${path}?cursor=abc`)).toMatchObject({
        status: 400,
        body: failure(
          "ERR_VALIDATION",
          "query.cursor: must be a stream entry id like 1719000000000-0 (each part below 2^64)",
        ),
      });
      // Shaped like ids, past what Redis takes (it refused them: a 503 from the backend).
      for (const cursor of [
        "18446744073709551616-0",
        "0-18446744073709551616",
        "18446744073709551615-18446744073709551615",
      ])
        expect(await call(api, "GET", `${path}?cursor=${cursor}`)).toMatchObject({ status: 400 });
      expect(
        await call(api, "GET", `${path}?cursor=18446744073709551615-18446744073709551614`),
      ).toMatchObject({
        status: 200,
        body: { entries: [], next: null },
      });
      expect(await call(api, "GET", `${path}?page=2`)).toMatchObject({
        status: 400,
        body: failure("ERR_VALIDATION", "query.page: unknown field"),
      });
      const unknown = await call(api, "GET", `/streams/${encodeURIComponent(stream)}/groups/nope/pending`);
      expect(unknown.status).toBe(404);
      expect(unknown.body).toMatchObject({ error: { code: "ERR_NOGROUP" } });
      // A key the API does not show (here its dead-letter stream; on Redis it read any key: WRONGTYPE, 503).
      const other = await call(api, "GET", `/streams/${encodeURIComponent(dlq)}/groups/inspect/pending`);
      expect(other).toMatchObject({ status: 404, body: { error: { code: "ERR_NOGROUP" } } });
    });

    test("GET /dead-letters: reason, deliveries, error and a payload preview; filters; pages", async () => {
      const { status, body } = await list();
      expect(status).toBe(200);
      expect(body.next).toBeNull();
      expect(body.entries).toHaveLength(3);
      expect(body.entries[0]).toMatchObject({
        source: stream,
        group: "workers",
        reason: "handler-failed",
        deliveries: 1,
        preview: '{"id":1,"op":"throw-always"}',
        replayable: true,
      });
      expect(body.entries[0]?.id).toStartWith(`${dlq}:`);
      expect(body.entries[0]?.error).toContain("handler failed on 1");
      expect((await list("?group=workers&reason=handler-failed")).body.entries).toHaveLength(3);
      expect((await list("?group=other")).body.entries).toHaveLength(0);
      expect((await list("?reason=malformed")).body.entries).toHaveLength(0);
      const first = await list("?count=2");
      expect(first.body.entries).toHaveLength(2);
      const rest = await list(`?count=2&cursor=${encodeURIComponent(first.body.next ?? "")}`);
      expect(rest.body.entries.map((d) => d.preview)).toEqual(['{"id":3,"op":"throw-always"}']);
    });

    test("GET /dead-letters: one order by time across dead-letter streams, whatever the page size or filter", async () => {
      const base = `troupe-test-http:${randomUUID()}`;
      const [sa, sb, sc] = ["a", "b", "c"].map((s) => `${base}:${s}`) as [string, string, string];
      // [stream, record id, reason]: ties on an id go by stream name; c's records are all filtered out below.
      const records: [string, string, "rejected" | "malformed"][] = [
        [sb, "1000-0", "rejected"],
        [sa, "1000-0", "rejected"],
        [sc, "1000-1", "malformed"],
        [sa, "1001-0", "malformed"],
        [sb, "1001-5", "rejected"],
        [sc, "1002-0", "malformed"],
        [sa, "1002-0", "rejected"],
        [sa, "1002-1", "rejected"],
        [sc, "1003-0", "malformed"],
        [sb, "1004-0", "rejected"],
        [sa, "1005-0", "rejected"],
      ];
      const byStream = (s: string) =>
        records.filter(([at]) => at === s).sort((x, y) => (x[1] < y[1] ? -1 : 1));
      for (const s of [sa, sb, sc])
        for (const [, id, reason] of byStream(s)) {
          const write = deadLetterWrite(
            `${s}:dlq`,
            { source: s, group: "g", entryId: id, deliveries: 1, reason, fields: null },
            0,
            60_000,
          );
          await backend.appendAt(`${s}:dlq`, id, write.fields);
        }
      const merged = createControlApi({
        system,
        streams: createStreamsSource({ backend, streams: [sc, sb, sa] }),
        defaultMetrics: false,
      });
      try {
        const walk = async (filter: string, count: number): Promise<string[]> => {
          const ids: string[] = [];
          let cursor: string | null = null;
          for (let pages = 0; pages < 50; pages++) {
            const at: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
            const { status, body } = (await call(
              merged,
              "GET",
              `/dead-letters?count=${count}${filter}${at}`,
            )) as {
              status: number;
              body: Page<DeadLetterView>;
            };
            expect(status).toBe(200);
            expect(body.entries.length).toBeLessThanOrEqual(count);
            ids.push(...body.entries.map((d) => d.id));
            cursor = body.next;
            if (cursor === null) return ids;
          }
          throw new Error("paging did not end");
        };
        const expected = (reason?: string) =>
          records
            .filter(([, , r]) => reason === undefined || r === reason)
            .sort((x, y) => (x[1] === y[1] ? (x[0] < y[0] ? -1 : 1) : x[1] < y[1] ? -1 : 1))
            .map(([s, id]) => `${s}:dlq:${id}`);
        for (const count of [1, 2, 3, 4, 11, 500]) {
          expect(await walk("", count)).toEqual(expected());
          expect(await walk("&reason=rejected", count)).toEqual(expected("rejected"));
        }
      } finally {
        merged.close();
      }
    });

    test("GET /dead-letters: bad filters, counts and cursors are 400", async () => {
      expect(await list("?reason=boredom")).toMatchObject({
        status: 400,
        body: failure(
          "ERR_VALIDATION",
          "query.reason: must be one of malformed, max-deliveries, handler-failed, rejected, deleted-while-pending, invalid-outputs, output-failed",
        ),
      });
      expect(await list("?count=x")).toMatchObject({
        status: 400,
        body: failure("ERR_VALIDATION", "query.count: must be an integer from 1 to 500"),
      });
      expect(await list("?cursor=nope")).toMatchObject({
        status: 400,
        body: failure(
          "ERR_VALIDATION",
          "query.cursor: must be <dead-letter stream>:<entry id>, e.g. tx:dlq:1719000000000-0",
        ),
      });
      expect(await list(`?cursor=${encodeURIComponent(`${dlq}:18446744073709551616-0`)}`)).toMatchObject({
        status: 400,
      });
      expect(await list("?cursor=elsewhere:1-0")).toMatchObject({
        status: 400,
        body: failure("ERR_INVALID_OPTION", "cursor: names no dead-letter stream of this source"),
      });
    });

    test("replay one, delete one, 404 for unknown ids, 400 for malformed ones, 409 when there is nothing to replay", async () => {
      const [first, second] = (await list()).body.entries;
      const length = await backend.length(stream);
      const replay = (id: string) =>
        call(api, "POST", `/dead-letters/${encodeURIComponent(id)}/replay`, { token: true });
      const remove = (id: string) =>
        call(api, "DELETE", `/dead-letters/${encodeURIComponent(id)}`, { token: true });

      expect(await replay(first!.id)).toMatchObject({ status: 200, body: { id: first!.id, replayed: true } });
      expect(await backend.length(stream)).toBe(length + 1);
      expect(await replay(first!.id)).toMatchObject({
        status: 404,
        body: failure("ERR_NOT_FOUND", `no dead letter ${first!.id}`),
      });
      expect(await remove(second!.id)).toMatchObject({
        status: 200,
        body: { id: second!.id, deleted: true },
      });
      expect(await remove(second!.id)).toMatchObject({ status: 404 });
      expect(await remove(`${dlq}:1-0`)).toMatchObject({ status: 404 });
      expect(await remove("elsewhere:1-0")).toMatchObject({ status: 404 });
      expect(await replay("nope")).toMatchObject({
        status: 400,
        body: failure(
          "ERR_VALIDATION",
          "param.id: must be <dead-letter stream>:<entry id>, e.g. tx:dlq:1719000000000-0",
        ),
      });

      // An entry deleted while pending leaves a record without a payload: it can only be deleted.
      const gone = deadLetterWrite(
        dlq,
        {
          source: stream,
          group: "workers",
          entryId: "9-0",
          deliveries: 2,
          reason: "deleted-while-pending",
          fields: null,
        },
        Date.now(),
        60_000,
      );
      const { id } = await backend.appendUnique(dlq, gone.dedupId, gone.fields, gone.ttlMs);
      const goneId = `${dlq}:${id}`;
      expect((await list("?reason=deleted-while-pending")).body.entries).toMatchObject([
        { id: goneId, preview: null, replayable: false },
      ]);
      expect(await replay(goneId)).toMatchObject({
        status: 409,
        body: failure(
          "ERR_NOT_REPLAYABLE",
          `dead letter ${goneId} cannot be replayed (its entry was deleted while pending, or it is input rejected before it reached a stream): it is kept; delete it once dealt with`,
        ),
      });
      expect((await remove(goneId)).status).toBe(200);
    });

    test("POST /dead-letters/replay replays every match in batches and returns the count", async () => {
      const before = (await list()).body.entries.length;
      expect(before).toBe(1);
      const length = await backend.length(stream);
      const none = await call(api, "POST", "/dead-letters/replay", {
        token: true,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ group: "other" }),
      });
      expect(none).toMatchObject({ status: 200, body: { replayed: 0, filter: { group: "other" } } });
      const all = await call(api, "POST", "/dead-letters/replay", { token: true });
      expect(all).toMatchObject({ status: 200, body: { replayed: 1 } });
      expect(await backend.length(stream)).toBe(length + 1);
      expect((await list()).body.entries).toHaveLength(0);
    });
  });
}

streamsSuite("the embedded backend", () => new MemoryStreamBackend());

let server: RedisServer | null = null;
if (redisAvailable()) {
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server?.cleanup();
  });
  streamsSuite("a private redis-server", () => new RedisStreamBackend((server as RedisServer).url));
}

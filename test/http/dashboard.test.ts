/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core, headless, with a fresh
 * profile. It watches a running system, sees the throughput figure move while work flows, restarts an
 * actor from its button and sees the restart arrive, pauses live updates while the tab is hidden, and
 * says so plainly (no spinner) when Redis is down. It also saves docs/dashboard.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { createStreamsSource, type ServedControlApi, serveControlApi } from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { Pump } from "../../src/streams/pump.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { RedisServer, redisAvailable } from "../support/redis-server.ts";
import { ECHO, SCRIPTED } from "../support/runtime.ts";
import { TOKEN } from "./support.ts";

const CHROMIUM = "/usr/bin/chromium";

/**
 * The little of the DOM the in-page checks touch. They run in the browser (Bun strips the types when it
 * serializes them), and this test compiles without the DOM lib.
 */
interface Dom {
  document: {
    getElementById(id: string): { textContent: string | null } | null;
    querySelector(selector: string): { textContent: string | null } | null;
    dispatchEvent(event: Event): boolean;
  };
}
const SCREENSHOT = new URL("../../docs/dashboard.png", import.meta.url).pathname;

function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === "true")
    throw new Error(`CI=true: ${CHROMIUM} is missing (apt-get install chromium)`);
  return false;
}

describe.skipIf(!chromiumAvailable())("dashboard in chromium", () => {
  let profile: string;
  let browser: BrowserContext;
  let system: ActorSystem;
  let served: ServedControlApi;
  let pump: Pump;
  let producer: ReturnType<typeof setInterval>;

  beforeAll(async () => {
    profile = await mkdtemp(join(tmpdir(), "troupe-chromium-"));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1400, height: 1000 },
    });
    system = createSystem({ supervisor: { backoff: { minMs: 5, maxMs: 10 } } });
    const worker = await system.spawn<ScriptedMessage>(SCRIPTED, {
      name: "worker",
      instances: 2,
      maxDeliveries: 1,
    });
    await system.spawn(ECHO, { name: "echo" });
    const backend = new MemoryStreamBackend();
    await backend.ensureGroup("tx", "audit");
    pump = new Pump(backend, worker, { stream: "tx", group: "workers", sweepIntervalMs: 0, blockMs: 50 });
    await backend.append("tx", defaultCodec.encode({ id: 0, op: "throw-always" }));
    await pump.start();
    // Work flows for as long as the test runs: 40 entries every 20 ms, 1 ms of work each.
    let id = 1;
    producer = setInterval(() => {
      const batch = Array.from({ length: 40 }, () => defaultCodec.encode({ id: id++, op: "sleep", ms: 1 }));
      void backend.appendBatch("tx", batch);
    }, 20);
    served = serveControlApi({
      system,
      streams: createStreamsSource({ backend, pumps: [pump] }),
      token: TOKEN,
      port: 0,
      liveIntervalMs: 250,
    });
  });

  afterAll(async () => {
    clearInterval(producer);
    await browser?.close();
    await served?.shutdown({ deadlineMs: 1000, drain: () => pump.stop() });
    await system?.stop({ deadlineMs: 1000 });
    await rm(profile, { recursive: true, force: true });
  });

  const text = (page: Page, selector: string) => page.locator(selector).textContent();

  test("live figures move, a restart from its button shows up, the screenshot is saved", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(served.url);
    await page.fill("#token", TOKEN);

    await page.waitForFunction(() =>
      /^[\d,.]+$/.test(
        (globalThis as unknown as Dom).document.getElementById("c-throughput")?.textContent ?? "",
      ),
    );
    const first = await text(page, "#c-throughput");
    await page.waitForFunction(
      (before) =>
        (globalThis as unknown as Dom).document.getElementById("c-throughput")?.textContent !== before,
      first,
    );
    const processed = await text(page, "tr[data-actor=worker] td[data-field=processed]");
    await page.waitForFunction(
      (before) =>
        (globalThis as unknown as Dom).document.querySelector(
          "tr[data-actor=worker] td[data-field=processed]",
        )?.textContent !== before,
      processed,
    );
    expect(await text(page, "#health")).toBe("health: ok");
    expect(await text(page, "#backend")).toStartWith("memory: up, ping ");
    await page.waitForSelector("#dead-letters tr[data-id]");
    expect(await text(page, "#dead-letters tr[data-id] td.preview")).toBe('{"id":0,"op":"throw-always"}');

    await page.click("button[data-action=restart][data-actor=echo]");
    await page.waitForSelector("#alerts li[data-kind=restarted]");
    expect(await text(page, "#alerts li[data-kind=restarted]")).toContain("echo#0 restarted after");
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Dom).document.querySelector("tr[data-actor=echo] td[data-field=restarts]")
          ?.textContent === "1",
    );

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(errors).toEqual([]);
  });

  test("a button without the token says why it failed; live updates pause while the tab is hidden", async () => {
    const page = await browser.newPage();
    await page.goto(served.url);
    await page.fill("#token", "");
    await page.click("button[data-action=pause][data-actor=echo]");
    await page.waitForSelector("#message:not([hidden])");
    expect(await text(page, "#message")).toBe(
      "pause failed: missing bearer token (Authorization: Bearer <token>)",
    );
    await page.waitForFunction(() =>
      (globalThis as unknown as Dom).document
        .getElementById("live")
        ?.textContent?.startsWith("live: updated"),
    );
    await page.evaluate(() => {
      Object.defineProperty((globalThis as unknown as Dom).document, "hidden", {
        value: true,
        configurable: true,
      });
      (globalThis as unknown as Dom).document.dispatchEvent(new Event("visibilitychange"));
    });
    expect(await text(page, "#live")).toBe("live: paused (tab hidden)");
    await page.evaluate(() => {
      Object.defineProperty((globalThis as unknown as Dom).document, "hidden", {
        value: false,
        configurable: true,
      });
      (globalThis as unknown as Dom).document.dispatchEvent(new Event("visibilitychange"));
    });
    await page.waitForFunction(() =>
      (globalThis as unknown as Dom).document
        .getElementById("live")
        ?.textContent?.startsWith("live: updated"),
    );
  });

  test.skipIf(!redisAvailable())("Redis down: the header says so at once, no spinner", async () => {
    const server = await RedisServer.start();
    const backend = new RedisStreamBackend(server.url, { commandTimeoutMs: 500 });
    await backend.ensureGroup("troupe-test-http:dash:tx", "g");
    const down = serveControlApi({
      system,
      streams: createStreamsSource({ backend, streams: ["troupe-test-http:dash:tx"], probeTimeoutMs: 300 }),
      port: 0,
      defaultMetrics: false,
    });
    try {
      await server.stop();
      const page = await browser.newPage();
      await page.goto(down.url);
      await page.waitForFunction(() =>
        (globalThis as unknown as Dom).document
          .getElementById("backend")
          ?.textContent?.startsWith("redis: down"),
      );
      expect(await text(page, "#health")).toBe("health: unhealthy");
      expect(await text(page, "#streams-note")).toBe("stream figures unavailable: backend down");
      expect(await text(page, "#streams tbody")).toBe("unavailable");
    } finally {
      await down.shutdown({ deadlineMs: 500 });
      await backend.close();
      await server.cleanup();
    }
  });
});

/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core, headless, with a fresh
 * profile. It watches a running system, sees the throughput figure move while work flows, restarts an
 * actor from its button and sees the restart arrive, sees an alert written to the alerts stream appear on
 * top of the alerts table and opens its evidence, filters the table, reads the consumer-group view, draws
 * the charts from history at load, pauses live updates while the tab is hidden, shows who holds an actor
 * paused, and says so plainly (no spinner) when Redis is down. It also saves docs/dashboard.png.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import {
  createDetectionsSource,
  createStreamsSource,
  type ServedControlApi,
  serveControlApi,
} from "../../src/http/index.ts";
import { type ActorSystem, createSystem } from "../../src/index.ts";
import { defaultCodec } from "../../src/streams/entry-codec.ts";
import { MemoryStreamBackend } from "../../src/streams/memory-backend.ts";
import { PartitionedConsumer } from "../../src/streams/partitioned-consumer.ts";
import { PartitionedStream } from "../../src/streams/partitions.ts";
import { Pump } from "../../src/streams/pump.ts";
import { RedisStreamBackend } from "../../src/streams/redis-backend.ts";
import type { ScriptedMessage } from "../fixtures/scripted.actor.ts";
import { TestTarget } from "../streams/test-target.ts";
import { RedisServer, redisAvailable } from "../support/redis-server.ts";
import { ECHO, SCRIPTED } from "../support/runtime.ts";
import { TOKEN } from "./support.ts";

// A test that times out has bun 1.4.5 kill every process the file spawned (chromium and redis-server too),
// so one slow test on a loaded box fails the rest of the file: 30 s each, not bun's 5 s.
setDefaultTimeout(30_000);

const CHROMIUM = "/usr/bin/chromium";

/**
 * The little of the DOM the in-page checks touch. They run in the browser (Bun strips the types when it
 * serializes them), and this test compiles without the DOM lib.
 */
interface Dom {
  document: {
    getElementById(id: string): { textContent: string | null } | null;
    querySelector(selector: string): { textContent: string | null } | null;
    querySelectorAll(selector: string): { length: number };
    dispatchEvent(event: Event): boolean;
  };
}

const DETECTORS = ["fresh_sniper", "dev_dump", "funding_hub", "whale_dominance"];
const MINT = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU";
const wallet = (i: number) => `Wa11et${String(i).padStart(3, "0")}kheTqA83TZRuJosgAsUxyz`;

/** An alert as the scanner's analyzers write it to the alerts stream. */
function alertRecord(i: number, detector: string, severity: "low" | "med" | "high") {
  return {
    alertId: (0xa1e70000 + i).toString(16).padStart(16, "0"),
    groupId: (0xb0000 + i).toString(16).padStart(16, "0"),
    detector,
    analyzer: "wallet",
    severity,
    score: 0.5 + (i % 5) / 10,
    mint: MINT,
    key: MINT,
    wallets: [wallet(i), wallet(i + 1), wallet(i + 2)],
    windowStart: Date.now(),
    detectedAt: Date.now(),
    triggerId: `5sig${i}:0`,
    timing: "exact",
    evidence: { buyShare: 0.62, buys: 4 + i, supplyFraction: 0.31 },
    events: [`5sig${i}:0`, `5sig${i - 1}:2`, `5sig${i - 2}:1`],
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
  let backend: MemoryStreamBackend;
  let orders: PartitionedConsumer;
  let producer: ReturnType<typeof setInterval>;

  // Launching chromium can take longer than bun's 5 s hook timeout on a loaded machine.
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
    backend = new MemoryStreamBackend();
    await backend.ensureGroup("tx", "audit");
    // Alerts written before the page opens: the table and the alerts chart start from them.
    const severities = ["low", "med", "high"] as const;
    for (let i = 1; i <= 12; i++) {
      const record = alertRecord(i, DETECTORS[i % DETECTORS.length] as string, severities[i % 3] ?? "low");
      await backend.append("alerts", defaultCodec.encode(record));
    }
    pump = new Pump(backend, worker, { stream: "tx", group: "workers", sweepIntervalMs: 0, blockMs: 50 });
    await backend.append("tx", defaultCodec.encode({ id: 0, op: "throw-always" }));
    await pump.start();
    // Work flows for as long as the test runs: 40 entries every 20 ms, 1 ms of work each.
    let id = 1;
    producer = setInterval(() => {
      const batch = Array.from({ length: 40 }, () => defaultCodec.encode({ id: id++, op: "sleep", ms: 1 }));
      void backend.appendBatch("tx", batch);
    }, 20);
    // A member of a partitioned group: its two partitions' rows say who owns them.
    orders = new PartitionedConsumer(
      backend,
      await PartitionedStream.open(backend, "orders", { partitions: 2 }),
      () => ({
        target: new TestTarget<unknown, unknown>({
          instances: 1,
          window: 8,
          key: () => "",
          handler: async () => undefined,
        }),
        options: { blockMs: 50, sweepIntervalMs: 0 },
      }),
      { group: "tally", member: "host-a" },
    );
    await orders.start();
    served = serveControlApi({
      system,
      streams: createStreamsSource({ backend, pumps: [pump], partitioned: [orders] }),
      detections: createDetectionsSource({
        backend,
        stream: "alerts",
        detectors: DETECTORS,
        severities: ["low", "med", "high"],
        pollMs: 50,
      }),
      token: TOKEN,
      port: 0,
      liveIntervalMs: 250,
      historyIntervalMs: 100,
    });
  }, 30_000);

  afterAll(async () => {
    clearInterval(producer);
    await browser?.close();
    await served?.shutdown({ deadlineMs: 1000, drain: () => pump.stop() });
    await orders?.stop();
    await system?.stop({ deadlineMs: 1000 });
    await rm(profile, { recursive: true, force: true });
  });

  const text = (page: Page, selector: string) => page.locator(selector).textContent();
  /** The dashboard in a new tab, the token typed in, its page errors collected. */
  const openWithToken = async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(served.url);
    await page.fill("#token", TOKEN);
    return { page, errors };
  };

  test("live figures move, a restart from its button shows up", async () => {
    const { page, errors } = await openWithToken();

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
    expect(errors).toEqual([]);
  });

  test("an alert appears live on top of the table and opens its evidence; the groups view and the charts from history; the screenshot is saved", async () => {
    const { page, errors } = await openWithToken();

    // The charts were drawn from the history the server kept before the page opened (a sample every 100 ms
    // since the suite started), not from one live point.
    await page.waitForSelector("#chart-alerts[data-history]");
    const history = Number(await page.locator("#chart-alerts").getAttribute("data-history"));
    expect(history).toBeGreaterThanOrEqual(2);
    expect(
      Number(await page.locator("#chart-throughput").getAttribute("data-points")),
    ).toBeGreaterThanOrEqual(history);
    await page.waitForSelector("#detections tr[data-entry]");
    expect(await page.locator("#detections tr[data-entry]").count()).toBe(12);
    await page.waitForFunction(
      () => (globalThis as unknown as Dom).document.getElementById("c-alerts")?.textContent === "12",
    );

    const live = alertRecord(99, "dev_dump", "high");
    await backend.append("alerts", defaultCodec.encode(live));
    await page.waitForSelector(`#detections tr[data-alert="${live.alertId}"]`);
    const first = page.locator("#detections tbody tr").first();
    expect(await first.getAttribute("data-alert")).toBe(live.alertId);
    expect(await first.locator("td").nth(2).textContent()).toBe("dev_dump");
    expect(await first.locator("td").nth(3).textContent()).toBe("7xKXt…gAsU");
    expect(await first.locator("td").nth(4).textContent()).toBe("Wa11e…Uxyz +2");

    await first.click();
    await page.waitForSelector("#evidence [data-field=evidence] tbody tr");
    expect(await text(page, "#evidence h3")).toStartWith("dev_dump · high · score 0.9");
    expect(await page.locator("#evidence [data-field=evidence] tbody tr").allTextContents()).toEqual([
      "buyShare0.62",
      "buys103",
      "supplyFraction0.31",
    ]);
    expect(await page.locator("#evidence [data-field=events] li").allTextContents()).toEqual(live.events);
    expect(await page.locator("#evidence [data-field=wallets] li").allTextContents()).toEqual(live.wallets);
    await page.waitForFunction(
      () => (globalThis as unknown as Dom).document.getElementById("c-alerts")?.textContent === "13",
    );

    // The consumer-group view: status in the seed's words, lag in entries and seconds, the delivery rate.
    const workers = "#streams tr[data-group=workers]";
    await page.waitForFunction(
      (selector) =>
        /^[\d,.]+$/.test(
          (globalThis as unknown as Dom).document.querySelector(`${selector} td[data-field=rate]`)
            ?.textContent ?? "",
        ),
      workers,
    );
    expect(["healthy", "warning", "critical"]).toContain(
      (await text(page, `${workers} td[data-field=status]`)) ?? "",
    );
    expect(await text(page, `${workers} td[data-field=lag-seconds]`)).toMatch(/^[\d,.]+ s$/);
    // A partition's row: its place in the stream, its owner and the time left on its lease.
    const partition = "#streams tr[data-group=tally] [data-field=partition]";
    await page.waitForSelector(partition);
    expect(await page.locator(partition).allTextContents()).toEqual([
      expect.stringMatching(/^orders 1\/2 · owner host-a · lease [\d.]+ s$/),
      expect.stringMatching(/^orders 2\/2 · owner host-a · lease [\d.]+ s$/),
    ]);

    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Filters: only high-severity alerts of one detector, and the live table keeps to them.
    await page.selectOption("#f-severity", "high");
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Dom).document.querySelectorAll(
          "#detections tr[data-entry]:not([data-severity=high])",
        ).length === 0,
    );
    await page.selectOption("#f-detector", "dev_dump");
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Dom).document.querySelectorAll("#detections tr[data-entry]").length === 2,
    );
    await backend.append("alerts", defaultCodec.encode(alertRecord(100, "funding_hub", "high")));
    const another = alertRecord(101, "dev_dump", "high");
    await backend.append("alerts", defaultCodec.encode(another));
    await page.waitForSelector(`#detections tr[data-alert="${another.alertId}"]`);
    expect(await page.locator("#detections tr[data-entry]").count()).toBe(3);
    expect(errors).toEqual([]);
  }, 30_000);

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

  test("an actor held paused by its lease says so; the operator's pause and resume from the buttons leave that hold", async () => {
    const { page, errors } = await openWithToken();
    const status = (expected: string) =>
      page.waitForFunction(
        (want) =>
          (globalThis as unknown as Dom).document.querySelector("tr[data-actor=echo] td[data-field=status]")
            ?.textContent === want,
        expected,
      );
    system.pause("echo", "lease");
    await status("paused (lease)");
    // Nothing of the operator's to resume: the row offers a pause.
    await page.click("button[data-action=pause][data-actor=echo]");
    await status("paused (lease, operator)");
    await page.click("button[data-action=resume][data-actor=echo]");
    await status("paused (lease)");
    system.resume("echo", "lease");
    await status("running");
    expect(errors).toEqual([]);
  });

  test("reads that need the token: the alerts and the charts load once it is typed", async () => {
    const guarded = serveControlApi({
      system,
      detections: createDetectionsSource({ backend, stream: "alerts", detectors: DETECTORS, pollMs: 50 }),
      token: TOKEN,
      requireTokenForReads: true,
      port: 0,
      defaultMetrics: false,
      historyIntervalMs: 100,
    });
    try {
      const page = await browser.newPage();
      await page.goto(guarded.url);
      await page.waitForFunction(() =>
        (globalThis as unknown as Dom).document
          .querySelector("#detections td.empty")
          ?.textContent?.startsWith("alerts unavailable: missing bearer token"),
      );
      await page.fill("#token", TOKEN);
      await page.waitForSelector("#detections tr[data-entry]");
      await page.waitForSelector("#chart-alerts[data-history]");
      expect(await page.locator("#chart-alerts .uplot").count()).toBe(1);
    } finally {
      await guarded.shutdown({ deadlineMs: 500 });
    }
  });

  /** A control API of its own over `stream` (fresh alerts), its live feed carrying 5 events a 100 ms. */
  function alertsApi(stream: string): ServedControlApi {
    return serveControlApi({
      system,
      detections: createDetectionsSource({ backend, stream, detectors: DETECTORS, pollMs: 20 }),
      port: 0,
      defaultMetrics: false,
      liveIntervalMs: 100,
      maxEventsPerInterval: 5,
    });
  }

  /** The alert ids of the table's rows, top first. */
  const tableIds = (page: Page) =>
    page
      .locator("#detections tr[data-entry]")
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-alert")));

  test("alerts the live feed did not carry (past its budget, written while the tab was hidden) are read into the table, in order", async () => {
    const stream = `alerts-gaps-${crypto.randomUUID()}`;
    const gaps = alertsApi(stream);
    try {
      const page = await browser.newPage();
      await page.goto(gaps.url);
      await page.waitForSelector("#detections td.empty");
      await page.waitForFunction(() =>
        (globalThis as unknown as Dom).document.getElementById("live")?.textContent?.startsWith("live:"),
      );
      // 30 at once: the feed carries 5 of them in its interval and counts the rest as suppressed.
      const burst = Array.from({ length: 30 }, (_, i) => alertRecord(200 + i, "dev_dump", "med"));
      await backend.appendBatch(
        stream,
        burst.map((a) => defaultCodec.encode(a)),
      );
      const newestFirst = burst.map((a) => a.alertId).reverse();
      await page.waitForFunction(
        (count) =>
          (globalThis as unknown as Dom).document.querySelectorAll("#detections tr[data-entry]").length ===
          count,
        newestFirst.length,
      );
      expect(await tableIds(page)).toEqual(newestFirst);

      const setHidden = (hidden: boolean) =>
        page.evaluate((value) => {
          Object.defineProperty((globalThis as unknown as Dom).document, "hidden", {
            value,
            configurable: true,
          });
          (globalThis as unknown as Dom).document.dispatchEvent(new Event("visibilitychange"));
        }, hidden);
      await setHidden(true);
      const meanwhile = [alertRecord(300, "funding_hub", "high"), alertRecord(301, "dev_dump", "low")];
      await backend.appendBatch(
        stream,
        meanwhile.map((a) => defaultCodec.encode(a)),
      );
      await setHidden(false);
      await page.waitForSelector(`#detections tr[data-alert="${meanwhile[1]?.alertId}"]`);
      expect(await tableIds(page)).toEqual([...meanwhile.map((a) => a.alertId).reverse(), ...newestFirst]);
    } finally {
      await gaps.shutdown({ deadlineMs: 500 });
    }
  });

  test("filters changed quickly: the table shows the last choice's alerts, whatever order the answers come in", async () => {
    const stream = `alerts-filters-${crypto.randomUUID()}`;
    await backend.appendBatch(stream, [
      defaultCodec.encode(alertRecord(400, "dev_dump", "high")),
      defaultCodec.encode(alertRecord(401, "funding_hub", "med")),
      defaultCodec.encode(alertRecord(402, "funding_hub", "low")),
    ]);
    const filtered = alertsApi(stream);
    try {
      const page = await browser.newPage();
      await page.goto(filtered.url);
      await page.waitForSelector("#detections tr[data-entry]");
      // The first choice's answer is held until the second's has been drawn.
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      await page.route(/\/alerts\?.*detector=dev_dump/, async (route) => {
        await held;
        await route.continue();
      });
      const late = page.waitForResponse(/\/alerts\?.*detector=dev_dump/);
      await page.selectOption("#f-detector", "dev_dump");
      await page.selectOption("#f-detector", "funding_hub");
      await page.waitForFunction(
        () =>
          (globalThis as unknown as Dom).document.querySelectorAll("#detections tr[data-entry]").length === 2,
      );
      release();
      await late;
      // The late answer has been read once the page's next task runs.
      await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
      expect(
        await page
          .locator("#detections tr[data-entry]")
          .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-detector"))),
      ).toEqual(["funding_hub", "funding_hub"]);
    } finally {
      await filtered.shutdown({ deadlineMs: 500 });
    }
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

import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, baseUrl, launch, watchErrors } from "./browser";

/**
 * The SDK's promise, in a real browser against the real Worker and D1: 1 000 events tracked while
 * tabs reload, close and go offline at random moments arrive exactly once each. The moments come
 * from a seeded generator, so a failing run can be replayed with NUDGE_SEED=<seed>.
 */

const TOTAL = 1000;
const EVENT = "Durability Probe";
const SEED = Number(process.env.NUDGE_SEED ?? Date.now() % 1_000_000);

/** mulberry32: a tiny seeded PRNG. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Nudge = (command: string, ...args: unknown[]) => unknown;
interface Stored {
  messageId: string;
  properties: { i: number };
}

let browser: Awaited<ReturnType<typeof launch>>;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

describe("SDK durability, in Chromium", () => {
  it(`should store exactly ${TOTAL} distinct events through offline periods, reloads and closed tabs (seed ${SEED})`, async () => {
    const rnd = random(SEED);
    const pick = <T>(list: T[]): T => list[Math.floor(rnd() * list.length)] as T;
    const context: BrowserContext = await browser.newContext();
    const errors: string[] = [];
    const tabs: Page[] = [];
    let offline = false;
    let next = 0;
    const log: string[] = [];

    const open = async () => {
      const tab = await context.newPage();
      const seen = watchErrors(tab);
      tab.on("close", () => errors.push(...seen));
      await tab.goto(`${baseUrl()}/`);
      // The stub queues in memory until the SDK arrives; track once the real SDK runs.
      await tab.waitForFunction(() => !("q" in ((window as unknown as { nudge: object }).nudge ?? { q: 1 })));
      tabs.push(tab);
    };
    const burst = async (tab: Page) => {
      const n = Math.min(TOTAL - next, 1 + Math.floor(rnd() * 40));
      const from = next;
      next += n;
      log.push(`track ${from}..${next - 1}`);
      await tab.evaluate(
        ({ from, n, name }) => {
          const nudge = (window as unknown as { nudge: Nudge }).nudge;
          for (let i = from; i < from + n; i++) nudge("track", name, { i });
        },
        { from, n, name: EVENT },
      );
    };

    await open();
    while (next < TOTAL) {
      const r = rnd();
      const tab = pick(tabs);
      if (r < 0.5) await burst(tab);
      else if (r < 0.6) {
        offline = !offline;
        log.push(offline ? "offline" : "online");
        await context.setOffline(offline);
      } else if (r < 0.75) {
        // Close right after tracking: the events may be only in memory, mid-write or mid-request.
        log.push("close");
        tabs.splice(tabs.indexOf(tab), 1);
        await tab.close();
        if (!tabs.length) {
          if (offline) {
            offline = false;
            await context.setOffline(false);
          }
          await open();
        }
      } else if (r < 0.9 && !offline) {
        log.push("reload");
        await tab.reload();
        await tab.waitForFunction(() => !("q" in (window as unknown as { nudge: object }).nudge));
      } else if (!offline && tabs.length < 4) {
        log.push("open");
        await open();
      }
      // Sometimes let the queue work (write, send, back off), sometimes not at all.
      if (rnd() < 0.5) await new Promise((r) => setTimeout(r, rnd() * 250));
    }

    // Back online: any open tab delivers what every tab left in the shared outbox.
    await context.setOffline(false);
    if (!tabs.length) await open();
    const last = tabs[0] as Page;
    const anonymousId = await last.evaluate(() => localStorage.getItem("nudge_aid"));
    const stored = async () => {
      await last.evaluate(() => (window as unknown as { nudge: Nudge }).nudge("flush"));
      const query = new URLSearchParams({ anonymousId: anonymousId ?? "", event: EVENT });
      return (await api<{ events: Stored[] }>(`/v1/dev/events?${query}`)).events;
    };
    // Generous: under CPU load the Worker applies 1 000 events slowly; correctness, not speed, is tested here.
    await expect.poll(async () => (await stored()).length, { timeout: 60_000, interval: 500 }).toBe(TOTAL);

    const events = await stored();
    const indices = events.map((e) => e.properties.i).sort((a, b) => a - b);
    expect(indices, `seed ${SEED}: ${log.join(", ")}`).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    expect(new Set(events.map((e) => e.messageId)).size).toBe(TOTAL);
    await context.close();
    expect(errors).toEqual([]);
  }, 180_000);

  it("should keep calls made before nudge.js arrives when the tab closes or navigates away, and store them once from the next page", async () => {
    const context = await browser.newContext();
    const marker = `closed-early-${SEED}`;
    const errors: string[] = [];
    /** A tab where nudge.js does not arrive — it failed, or is still loading: only the stub runs. */
    const stubOnly = async (tracked: string, failed: boolean) => {
      const tab = await context.newPage();
      errors.push(...watchErrors(tab));
      await tab.route("**/sdk/nudge.js", (route) => (failed ? route.abort() : undefined)); // else never answered
      await tab.goto(`${baseUrl()}/`, { waitUntil: failed ? "load" : "domcontentloaded" });
      await tab.evaluate(
        (m) => (window as unknown as { nudge: Nudge }).nudge("track", "Closed Early", { marker: m }),
        tracked,
      );
      return tab;
    };
    // nudge.js failed (a network error), then the tab is closed. (Not a still-loading tab:
    // Playwright's close() of one runs none of the page's unload events, unlike a browser.)
    await (await stubOnly(`${marker}-closed`, true)).close();
    // Still loading, the shopper goes on to the next page: it replays both pages' kept calls.
    const tab = await stubOnly(`${marker}-left`, false);
    await tab.unroute("**/sdk/nudge.js");
    await tab.goto(`${baseUrl()}/`);
    await tab.waitForFunction(() => !("q" in (window as unknown as { nudge: object }).nudge));
    const anonymousId = await tab.evaluate(async () => {
      await (window as unknown as { nudge: Nudge }).nudge("flush");
      return localStorage.getItem("nudge_aid");
    });
    const query = new URLSearchParams({ anonymousId: anonymousId ?? "", event: "Closed Early" });
    const stored = async () => (await api<{ events: Stored[] }>(`/v1/dev/events?${query}`)).events;
    await expect.poll(async () => (await stored()).length, { timeout: 20_000 }).toBe(2);
    const markers = (await stored()).map((e) => (e.properties as unknown as { marker: string }).marker);
    expect(markers.sort()).toEqual([`${marker}-closed`, `${marker}-left`]);
    // Nothing left behind for a later page to send again.
    expect(await tab.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("nudge_q")))).toEqual([]);
    await context.close();
    expect(errors).toEqual([]);
  });
});

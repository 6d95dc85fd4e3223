import { describe, expect, it } from "vitest";
import { advance, api, baseUrl, flush, useBrowser, watchErrors } from "./browser";
import type { Mail } from "./browser";

/**
 * Issue 13, items 1 and 2, from a real browser on the demo store: what a stranger can do with the
 * public key the store prints, through the store's own snippet and widgets.
 */

const browser = useBrowser();

const outbox = async () => (await api<{ messages: Mail[] }>("/v1/admin/outbox?limit=200")).messages;

describe("a stranger's browser on the store", () => {
  it("should text and mail nobody with Callback Requested and Product Shared sent through the snippet", async () => {
    const page = await browser().newPage();
    const errors = watchErrors(page);
    await page.goto(`${baseUrl()}/`);
    const tag = Date.now();
    const numbers = Array.from({ length: 50 }, (_, i) => `+88216${3_000_000 + i}`);
    const friends = Array.from({ length: 20 }, (_, i) => `victim-${tag}-${i}@example.com`);
    await page.evaluate(
      ({ numbers, friends }) => {
        const nudge = (window as unknown as { nudge: (...a: unknown[]) => void }).nudge;
        for (const phone of numbers)
          nudge("track", "Callback Requested", { phone, window: "pay the fee at http://evil.test" });
        for (const recipient_email of friends)
          nudge("track", "Product Shared", {
            product_id: "E7247",
            recipient_email,
            share_via: "email",
            sender_name: "Your bank",
          });
      },
      { numbers, friends },
    );
    await flush(page);
    // Stored, as the visitor's behaviour…
    const anonymousId = (await page.evaluate(() => localStorage.getItem("nudge_aid"))) ?? "";
    const stored = async (event: string) =>
      (await api<{ events: unknown[] }>(`/v1/dev/events?${new URLSearchParams({ anonymousId, event })}`)).events;
    expect(await stored("Callback Requested")).toHaveLength(50);
    expect(await stored("Product Shared")).toHaveLength(20);
    // …and nothing sent, a scheduler run later.
    await advance(60_000);
    const sent = (await outbox()).filter((m) => numbers.includes(m.to) || friends.includes(m.to));
    expect(sent).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("should refuse a premium-range number in the callback widget, next to the field", async () => {
    const page = await browser().newPage();
    const errors = watchErrors(page);
    await page.goto(`${baseUrl()}/`);
    await page.waitForSelector("html[data-nudge-onsite=ready]", { state: "attached" });
    await page.getByRole("button", { name: "Request a callback" }).click();
    const dialog = page.getByRole("dialog", { name: "Request a callback" });
    await expect.poll(() => dialog.isVisible(), { timeout: 15_000 }).toBe(true);
    const phone = "+882163000999";
    await page.getByLabel("Phone number with country code").fill(phone);
    await page.getByLabel("Best time to call").selectOption("evening");
    await page.getByLabel("Call me about my request").check();
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/v1/onsite/callback")),
      page.getByRole("button", { name: "Call me back" }).click(),
    ]);
    expect(response.status()).toBe(400);
    await expect.poll(() => dialog.textContent(), { timeout: 15_000 }).toContain("We can only call numbers in GB.");
    const { callbacks } = await api<{ callbacks: { phone: string }[] }>("/v1/admin/callbacks");
    expect(callbacks.filter((c) => c.phone === phone)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { advance, api, baseUrl, launch, mailsTo, watchErrors } from "./browser";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

describe("abandoned cart, end to end", () => {
  it("should remind a shopper who left, restore the cart from the mail, and stop once they order", async () => {
    const email = `ada-${Date.now()}@example.com`;

    // A shopper signs in, adds the E7247 speaker, looks at the cart, and leaves.
    const shop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await shop.newPage();
    const errors = watchErrors(page);
    await page.goto(`${baseUrl()}/`);
    await page.fill("#signin input[name=email]", email);
    await page.fill("#signin input[name=name]", "Ada");
    await page.click("#signin button[type=submit]");
    await expect.poll(() => page.textContent("#signed-in")).toContain(email);
    await page.click('a[data-product="E7247"]');
    await page.click("#add-to-cart");
    await expect.poll(() => page.textContent("#cart-count")).toBe("1");
    await page.click("#cart-link");
    await expect.poll(() => page.locator(".cart-line").count()).toBe(1);
    await page.screenshot({ path: "demo-store/screenshots/cart.png" });
    await page.evaluate(() => (window as unknown as { nudge: (c: string) => Promise<void> }).nudge("flush"));
    expect(errors).toEqual([]);
    await shop.close();

    // Nothing yet. In the mailbox, the demo panel moves the clock a day ahead: the reminder arrives.
    expect(await mailsTo(email)).toHaveLength(0);
    const mailbox = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await mailbox.goto(`${baseUrl()}/mailbox`);
    await expect.poll(() => mailbox.textContent("#devpanel-time")).not.toBe("…");
    await mailbox.click(`#devpanel button[data-advance="${DAY}"]`);
    await expect.poll(() => mailbox.textContent("#devpanel-status")).toMatch(/Scheduler ran: [1-9]\d* sent/);
    await mailbox.click("#refresh");
    await expect
      .poll(() => mailbox.locator(".message", { hasText: "You left something in your cart" }).count())
      .toBeGreaterThan(0);
    await mailbox.screenshot({ path: "demo-store/screenshots/mailbox.png" });
    await mailbox.close();
    const [reminder, ...more] = await mailsTo(email);
    expect(more).toHaveLength(0);
    expect(reminder?.subject).toBe("You left something in your cart");
    expect(reminder?.text).toContain("E7247 speaker");

    // On another device, the link in the mail brings the cart back; the shopper orders.
    const restoreUrl = reminder?.text.match(/Return to your cart: (\S+)/)?.[1] ?? "";
    const phone = await browser.newContext();
    const checkout = await phone.newPage();
    const checkoutErrors = watchErrors(checkout);
    await checkout.goto(restoreUrl);
    await expect.poll(() => checkout.locator(".cart-line").count()).toBe(1);
    expect(await checkout.textContent(".cart-line")).toContain("E7247 speaker");
    await checkout.click("#checkout");
    await checkout.fill("#checkout-form input[name=email]", email);
    await checkout.click("#place-order");
    await expect.poll(() => checkout.isVisible("#order-confirmation")).toBe(true);
    await checkout.evaluate(() => (window as unknown as { nudge: (c: string) => Promise<void> }).nudge("flush"));
    expect(checkoutErrors).toEqual([]);
    await phone.close();

    // The second reminder (due a day after the first) is cancelled by the order.
    await advance(3 * DAY);
    // (The order itself brings the post-purchase confirmation, a different campaign.)
    expect((await mailsTo(email)).filter((m) => m.campaign === "abandoned_cart")).toHaveLength(1);
    const { messages } = await api<{ messages: { step: number; status: string; reason: string | null }[] }>(
      "/v1/admin/messages",
    );
    expect(messages.filter((m) => m.step === 2)).toContainEqual(
      expect.objectContaining({ status: "cancelled", reason: "ordered" }),
    );
  });
});

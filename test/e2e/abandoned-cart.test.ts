import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { advance, api, baseUrl, flush, mailsTo, signIn, useBrowser, watchErrors } from "./browser";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

const browser = useBrowser();

/** The shopper signs in on `page`, puts the E7247 speaker in the cart and sends what was tracked. */
async function leaveCart(page: Page, email: string) {
  await signIn(page, email, "Ada");
  await page.click('a[data-product="E7247"]');
  await page.click("#add-to-cart");
  await expect.poll(() => page.textContent("#cart-count")).toBe("1");
}

/**
 * On another device, the link in a reminder brings the cart back; the shopper checks out with
 * `email` (and a code, if given, checking the total it gives), and the order is sent.
 */
async function restoreAndOrder(restoreUrl: string, email: string, coupon?: { code: string; total: string }) {
  const phone = await browser().newContext();
  const checkout = await phone.newPage();
  const errors = watchErrors(checkout);
  await checkout.goto(restoreUrl);
  await expect.poll(() => checkout.locator(".cart-line").count()).toBe(1);
  expect(await checkout.textContent(".cart-line")).toContain("E7247 speaker");
  await checkout.click("#checkout");
  await checkout.fill("#checkout-form input[name=email]", email);
  if (coupon) {
    await checkout.fill("#coupon-code", coupon.code);
    await checkout.click("#apply-coupon");
    await expect.poll(() => checkout.textContent("#coupon-message")).toContain(coupon.code);
    await expect.poll(() => checkout.textContent("#order-total")).toBe(coupon.total);
  }
  await checkout.click("#place-order");
  await expect.poll(() => checkout.isVisible("#order-confirmation")).toBe(true);
  await flush(checkout);
  expect(errors).toEqual([]);
  await phone.close();
}

const restoreLink = (text = "") => text.match(/Return to your cart: (\S+)/)?.[1] ?? "";
const cartMails = async (email: string) => (await mailsTo(email)).filter((m) => m.campaign === "abandoned_cart");

describe("abandoned cart, end to end", () => {
  it("should remind a shopper who left, restore the cart from the mail, and stop once they order", async () => {
    const email = `ada-${Date.now()}@example.com`;

    // A shopper signs in, adds the E7247 speaker, looks at the cart, and leaves.
    const shop = await browser().newContext({ viewport: { width: 1280, height: 800 } });
    const page = await shop.newPage();
    const errors = watchErrors(page);
    await leaveCart(page, email);
    await page.click("#cart-link");
    await expect.poll(() => page.locator(".cart-line").count()).toBe(1);
    await page.screenshot({ path: "demo-store/screenshots/cart.png" });
    await flush(page);
    expect(errors).toEqual([]);
    await shop.close();

    // Nothing yet. In the mailbox, the demo panel moves the clock a day ahead: the reminder arrives.
    expect(await mailsTo(email)).toHaveLength(0);
    const mailbox = await browser().newPage({ viewport: { width: 1280, height: 800 } });
    await mailbox.goto(`${baseUrl()}/mailbox`);
    await expect.poll(() => mailbox.textContent("#devpanel-time")).not.toBe("…");
    await mailbox.click(`#devpanel button[data-advance="${DAY}"]`);
    await expect.poll(() => mailbox.textContent("#devpanel-status")).toMatch(/Scheduler ran: [1-9]\d* sent/);
    await mailbox.click("#refresh");
    await expect
      .poll(() => mailbox.locator(".message", { hasText: "You left 1 item in your cart" }).count())
      .toBeGreaterThan(0);
    await mailbox.screenshot({ path: "demo-store/screenshots/mailbox.png" });
    await mailbox.close();
    const [reminder, ...more] = await mailsTo(email);
    expect(more).toHaveLength(0);
    expect(reminder?.subject).toBe("You left 1 item in your cart");
    expect(reminder?.text).toContain("E7247 speaker");

    // On another device, the link in the mail brings the cart back; the shopper orders.
    await restoreAndOrder(restoreLink(reminder?.text), email);

    // The second reminder (due a day after the first) is cancelled by the order.
    await advance(3 * DAY);
    // (The order itself brings the post-purchase confirmation, a different campaign.)
    expect(await cartMails(email)).toHaveLength(1);
    const { messages } = await api<{ messages: { step: number; status: string; reason: string | null }[] }>(
      "/v1/admin/messages",
    );
    expect(messages.filter((m) => m.step === 2)).toContainEqual(
      expect.objectContaining({ status: "cancelled", reason: "ordered" }),
    );
  });

  it("should put a code in the second reminder that restores the cart and prices at checkout, then stop", async () => {
    const email = `cy-${Date.now()}@example.com`;
    const shop = await browser().newContext();
    const page = await shop.newPage();
    await leaveCart(page, email);
    await flush(page);
    await shop.close();

    // First reminder after the hour, the second (with a code) a day after that.
    await advance(2 * HOUR);
    await advance(DAY + HOUR);
    const mails = await cartMails(email);
    expect(mails.map((m) => m.step).sort()).toEqual([1, 2]);
    const second = mails.find((m) => m.step === 2);
    const code = second?.text.match(/[2-9A-Z]{4}(?:-[2-9A-Z]{4}){3}/)?.[0] ?? "";
    expect(code).not.toBe("");

    // Restore from that mail on another device, apply the code, order at the discounted total:
    // £79 less 10 % (£7.90), plus £4.95 delivery.
    await restoreAndOrder(restoreLink(second?.text), email, { code, total: "£76.05" });

    // The SMS step that followed the second mail is cancelled by the order; nothing more is sent.
    await advance(7 * DAY);
    expect(await cartMails(email)).toHaveLength(2);
    const { coupons } = await api<{ coupons: { code: string; uses: number }[] }>("/v1/admin/coupons");
    expect(coupons.find((c) => c.code === code)?.uses).toBe(1);
  });
});

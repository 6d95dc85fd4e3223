import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { api, baseUrl, flush, signIn, useBrowser, watchErrors } from "./browser";

const browser = useBrowser();

/** Puts the E7247 speaker in the cart through the shop's own pages and opens the checkout. */
async function checkoutWithSpeaker(page: Page, email: string) {
  await signIn(page, email);
  await page.click('a[data-product="E7247"]');
  await page.click("#add-to-cart");
  await expect.poll(() => page.textContent("#cart-count")).toBe("1");
  await page.goto(`${baseUrl()}/checkout`);
}

/** Serious or critical accessibility violations axe-core finds in `selector`. */
async function axeViolations(page: Page, selector: string): Promise<string[]> {
  await page.addScriptTag({ content: readFileSync("node_modules/axe-core/axe.min.js", "utf8") });
  return page.evaluate(async (include) => {
    const axe = (
      window as unknown as { axe: { run: (c: unknown) => Promise<{ violations: { id: string; impact: string }[] }> } }
    ).axe;
    const { violations } = await axe.run({ include: [include] });
    return violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id);
  }, selector);
}

async function applyCode(page: Page, code: string) {
  await page.fill("#coupon-code", code);
  await page.click("#apply-coupon");
}

describe("checkout with a coupon, end to end", () => {
  it("should price the checkout through Nudge, apply a code, order at the discounted total, and refuse the used code", async () => {
    const { coupons } = await api<{ coupons: { code: string }[] }>("/v1/admin/coupons", {
      promotionId: "exit-intent-10",
    });
    const code = coupons[0]?.code ?? "";

    const shop = await browser().newContext();
    const page = await shop.newPage();
    const errors = watchErrors(page);
    await checkoutWithSpeaker(page, `ada-${Date.now()}@example.com`);
    // £79 + £4.95 delivery (free delivery starts at £100).
    await expect.poll(() => page.textContent("#order-total")).toBe("£83.95");
    expect(await page.textContent("#offer-hints")).toBe(
      "Free delivery on orders of £100 or more: Spend £21.00 more to use this offer (minimum £100.00).",
    );

    await applyCode(page, "WRONG-CODE-2345");
    await expect.poll(() => page.textContent("#coupon-message")).toContain("We don't recognise this code");

    await applyCode(page, code.toLowerCase());
    await expect.poll(() => page.textContent("#coupon-message")).toBe(`Code ${code} applied: 10% off your order.`);
    expect(await page.textContent("#applied-promotions")).toContain("10% off your order");
    expect(await page.textContent("#applied-promotions")).toContain("−£7.90");
    expect(await page.textContent("#order-total")).toBe("£76.05");
    expect(await page.textContent("#place-order")).toBe("Place order · £76.05");
    await page.screenshot({ path: "demo-store/screenshots/checkout.png" });
    expect(await axeViolations(page, ".summary")).toEqual([]);

    await page.click("#place-order");
    await expect.poll(() => page.isVisible("#order-confirmation")).toBe(true);
    expect(await page.textContent("#paid-total")).toBe("£76.05");
    await flush(page);
    expect(errors).toEqual([]);
    await shop.close();

    // The Order Completed event carried the code: it is redeemed once…
    await expect
      .poll(async () => (await api<{ coupon: { uses: number } }>(`/v1/admin/coupons/${code}`)).coupon.uses)
      .toBe(1);

    // …so another shopper typing it is told why it no longer works.
    const other = await browser().newContext();
    const second = await other.newPage();
    await checkoutWithSpeaker(second, `bob-${Date.now()}@example.com`);
    await applyCode(second, code);
    await expect.poll(() => second.textContent("#coupon-message")).toBe(`${code}: This code has already been used.`);
    expect(await second.textContent("#order-total")).toBe("£83.95");
    await other.close();
  });
});

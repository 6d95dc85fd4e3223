import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { advanceToLocal, baseUrl, flush, mailsTo, signIn, useBrowser, watchErrors } from "./browser";

/**
 * Issue 18's personal offers as a shopper meets them in the demo store: the browse-abandonment
 * code works on the product they looked at and nothing else, typed into the shop's own checkout.
 * The loyalty mail's size showcase is checked in scenarios.test.ts, on the order that earns it.
 */

const DAY = 24 * 3600_000;
const browser = useBrowser();

async function addToCart(page: Page, productId: string, count: string) {
  await page.goto(`${baseUrl()}/product?id=${productId}`);
  await page.click("#add-to-cart");
  await expect.poll(() => page.textContent("#cart-count")).toBe(count);
}

async function applyCode(page: Page, code: string) {
  await page.goto(`${baseUrl()}/checkout`);
  await expect.poll(() => page.textContent("#order-total")).toMatch(/£/);
  await page.fill("#coupon-code", code);
  await page.click("#apply-coupon");
}

describe("personal offers in the demo store", () => {
  it("should mail a browse-abandonment code that discounts only the viewed product, and gives nothing on a cart without it", async () => {
    const email = `grace-offer-${Date.now()}@example.com`;
    const page = await browser().newPage();
    const errors = watchErrors(page);
    await signIn(page, email, "Grace");
    await page.click('a[data-product="E7247"]');
    await expect.poll(() => page.textContent("h1"), { timeout: 15_000 }).toContain("E7247 speaker");
    await flush(page);

    // The next day, in the shop's daytime (the template's quiet hours are 21–8).
    await advanceToLocal(DAY, 10);
    const [mail] = (await mailsTo(email)).filter((m) => m.campaign.startsWith("browse"));
    expect(mail?.subject).toBe("Still interested in E7247 speaker?");
    expect(mail?.text).toContain("Valid on E7247 speaker only.");
    const code = mail?.text.match(/Your code: (\S+)/)?.[1] ?? "";
    expect(code).toMatch(/^[2-9A-Z]{4}-/);

    // A cart without the speaker: the code is refused and says what it is for.
    await addToCart(page, "A1010", "1");
    await applyCode(page, code);
    await expect.poll(() => page.textContent("#coupon-message")).toBe(`${code}: This code is for E7247 speaker only.`);
    expect(await page.textContent("#order-total")).toBe("£16.95"); // £12 + £4.95 delivery, nothing off

    // With the speaker: 10% off the speaker (£7.90), the cable at full price.
    await addToCart(page, "E7247", "2");
    await applyCode(page, code);
    await expect
      .poll(() => page.textContent("#coupon-message"))
      .toBe(`Code ${code} applied: 10% off (E7247 speaker only).`);
    expect(await page.textContent("#applied-promotions")).toContain("−£7.90");
    expect(await page.textContent('[data-product-id="E7247"]')).toContain("£71.10");
    expect(await page.textContent('[data-product-id="A1010"]')).toBe("1 × Braided USB-C cable£12.00");
    expect(await page.textContent("#order-total")).toBe("£88.05"); // £91.00 − £7.90 + £4.95 delivery
    expect(errors).toEqual([]);
    await page.close();
  });
});

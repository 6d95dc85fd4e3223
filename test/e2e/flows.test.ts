import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { advance, advanceToLocal, api, baseUrl, flush, type Mail, useBrowser, watchErrors } from "./browser";

/**
 * Issue 18 in real Chromium on the demo store: a shopper leaves a cart; the reminder's one-tap
 * "why did you leave?" is recorded and counted in the campaign's results; the callback-offer SMS's
 * link opens a one-field form with the number filled in, and the callback it records is in the
 * merchant's list. Both pages are scanned by axe-core.
 */

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const browser = useBrowser();

interface AxeResult {
  violations: { id: string; impact: string }[];
}

/** Serious or critical accessibility violations on the whole page. */
async function axe(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: "node_modules/axe-core/axe.min.js" });
  const { violations } = await page.evaluate(() =>
    (window as unknown as { axe: { run(ctx: unknown): Promise<AxeResult> } }).axe.run(document),
  );
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id);
}

const outbox = async (to: string) =>
  (
    await api<{ messages: (Mail & { channel: string })[] }>(`/v1/admin/outbox?limit=200&to=${encodeURIComponent(to)}`)
  ).messages.filter((m) => m.campaign === "abandoned_cart");

type Results = {
  responses: { leaveReasons: Record<string, number>; callbacks: { link: number; reply: number } };
};

/**
 * A shopper browses the store; the merchant's server knows their email and phone (a number the
 * browser gave alone is never texted); they add the E7247 speaker and leave.
 */
async function leaveCart(email: string, phone: string) {
  await advanceToLocal(0, 10);
  const shop = await browser().newContext();
  const page = await shop.newPage();
  const errors = watchErrors(page);
  await page.goto(`${baseUrl()}/`);
  await expect.poll(() => page.evaluate(() => localStorage.getItem("nudge_aid"))).not.toBeNull();
  const anonymousId = await page.evaluate(() => localStorage.getItem("nudge_aid"));
  await api("/v1/batch", {
    batch: [{ type: "identify", messageId: `srv-${email}`, anonymousId, traits: { email, phone, name: "Ada" } }],
  });
  await page.click('a[data-product="E7247"]');
  await page.click("#add-to-cart");
  await expect.poll(() => page.textContent("#cart-count")).toBe("1");
  await flush(page);
  expect(errors).toEqual([]);
  await shop.close();
}

describe("Carts Guru's flows, end to end", () => {
  it("should record a one-tap 'why did you leave?' from the reminder and count it in the campaign's results", async () => {
    const email = `why-${Date.now()}@example.com`;
    await leaveCart(email, `+4477009${String(Date.now()).slice(-5)}`);
    await advance(2 * HOUR);
    const [reminder] = await outbox(email);
    expect(reminder?.subject).toBe("You left 1 item in your cart");
    const link = reminder?.text.match(/- Too expensive: (\S+)/)?.[1] ?? "";
    expect(link).toContain("/v1/links/reason?t=");
    const before = (await api<Results>("/v1/admin/campaigns/abandoned_cart/results")).responses.leaveReasons.price;

    const page = await browser().newPage();
    await page.goto(link);
    await expect.poll(() => page.textContent("[role=status]")).toContain("You told us: too expensive.");
    expect(await axe(page)).toEqual([]);
    await page.close();

    const after = (await api<Results>("/v1/admin/campaigns/abandoned_cart/results")).responses.leaveReasons.price;
    expect(after).toBe((before ?? 0) + 1);
  });

  it("should open the callback offer's one-field form from the SMS, number filled in, and list the callback for the merchant", async () => {
    const email = `offer-${Date.now()}@example.com`;
    const phone = `+4477008${String(Date.now()).slice(-5)}`;
    await leaveCart(email, phone);
    await advance(2 * HOUR);
    await advance(DAY);
    await advance(DAY);
    const [sms] = await outbox(phone);
    expect(sms?.channel).toBe("sms");
    expect(sms?.text).toContain("Reply CALL or tap to be called back:");
    const link = sms?.text.match(/(http\S+\/v1\/links\/callback\S+)$/)?.[1] ?? "";

    // On the shopper's phone: a tap opens the form, the number the SMS went to already in it.
    const mobile = await browser().newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await mobile.newPage();
    const errors = watchErrors(page);
    await page.goto(link);
    expect(await page.inputValue("#phone")).toBe(phone);
    expect(await page.locator("form input:not([type=hidden])").count()).toBe(1);
    expect(await axe(page)).toEqual([]);
    // A typo is caught on the same form, tied to the field.
    await page.fill("#phone", "0770");
    await page.click("button[type=submit]");
    await expect.poll(() => page.textContent("[role=alert]")).toContain("with its country code");
    expect(await page.getAttribute("#phone", "aria-invalid")).toBe("true");
    expect(await axe(page)).toEqual([]);
    await page.fill("#phone", phone);
    await page.click("button[type=submit]");
    await expect.poll(() => page.textContent("[role=status]")).toContain(`will call you at ${phone}`);
    expect(errors).toEqual([]);
    await mobile.close();

    // The merchant's callback list has it, from this SMS.
    const { callbacks } = await api<{ callbacks: { phone: string; via: string; email: string | null }[] }>(
      "/v1/admin/callbacks",
    );
    expect(callbacks.filter((c) => c.phone === phone)).toEqual([
      expect.objectContaining({ via: "link", email, status: "open" }),
    ]);
  });
});

import { readFileSync } from "node:fs";
import type { BrowserContext, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { advance, api, baseUrl, useBrowser } from "./browser";

const HOUR = 3600_000;
const SECRET = { authorization: "Bearer sk_demo" };
const AXE = readFileSync("node_modules/axe-core/axe.min.js", "utf8");

const browser = useBrowser();

/** Polls for up to 15 s: the shared 2-core machine can be slow to load a page. */
const poll = <T>(f: () => Promise<T> | T) => expect.poll(f, { timeout: 15_000, interval: 100 });

const gbp = (minor: number) =>
  new Intl.NumberFormat("en-GB", { style: "currency", currency: "GBP" }).format(minor / 100);

async function call<T>(path: string, method: string, body?: unknown): Promise<T> {
  const res = await fetch(`${baseUrl()}${path}`, {
    method,
    headers: { ...SECRET, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Events as the store's pages send them (public key). */
const track = (batch: Record<string, unknown>[]) =>
  api("/v1/batch", { writeKey: "pk_demo", batch: batch.map((m) => ({ messageId: crypto.randomUUID(), ...m })) });

/** An order as the merchant's server reports it (secret key). */
const order = (anonymousId: string, total: number) =>
  api("/v1/batch", {
    batch: [
      {
        type: "track",
        messageId: crypto.randomUUID(),
        anonymousId,
        event: "Order Completed",
        properties: {
          order_id: `o-${crypto.randomUUID()}`,
          total,
          currency: "GBP",
          products: [{ product_id: "E7247", price: total, quantity: 1 }],
        },
      },
    ],
  });

/**
 * Every axe-core violation on the page, whatever its impact. The page's CSP allows only its own
 * scripts, so axe is evaluated over the DevTools protocol (page.evaluate), not injected as a tag.
 */
async function axe(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const a = (
      window as unknown as {
        axe: { run: (c: unknown) => Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> };
      }
    ).axe;
    const { violations } = await a.run(document);
    return violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
}

/** Console errors (CSP refusals included) and uncaught exceptions. */
function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`${m.text()} ${m.location().url}`.trim());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

const heading = (page: Page) => page.locator("main h1").first().textContent();
const tile = (page: Page, name: string) =>
  page.locator(".tile", { has: page.locator(`dt:text-is("${name}")`) }).locator("dd");
/** The page has loaded its data: no "Loading…" left. */
const settled = (page: Page) => poll(() => page.locator(".loading").count()).toBe(0);

async function go(page: Page, hash: string, title: RegExp) {
  await page.goto(`${baseUrl()}/admin${hash}`);
  await poll(() => heading(page)).toMatch(title);
  await settled(page);
}

/** A new browser context signed in to the dashboard, watched for console errors. */
async function signedIn() {
  const context: BrowserContext = await browser().newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto(`${baseUrl()}/admin`);
  await poll(() => heading(page)).toBe("Sign in to Nudge");
  await page.fill("#key", "sk_demo");
  await page.press("#key", "Enter");
  await poll(() => heading(page)).toBe("Overview");
  return { context, page, errors };
}

interface Results {
  groups: { group: string; recipients: number; delivered: number; converted: number; revenue: number }[];
}

describe("merchant dashboard", () => {
  it("should sign in and walk every page, showing the figures in D1, axe-clean, at 1280 and 360 px and by keyboard", async () => {
    // ---- a scenario: abandoned carts reminded, two recovered; a campaign with a holdout ----------
    const run = Date.now();
    const shoppers = Array.from({ length: 5 }, (_, i) => ({
      anonymousId: `dash-a-${run}-${i}`,
      email: `dash-${run}-${i}@example.com`,
    }));
    for (const s of shoppers)
      await track([
        {
          type: "identify",
          anonymousId: s.anonymousId,
          traits: { email: s.email, name: `Shopper ${s.email.slice(5, 12)}` },
        },
        {
          type: "track",
          anonymousId: s.anonymousId,
          event: "Product Added",
          properties: {
            cart_id: `cart-${s.anonymousId}`,
            product_id: "E7247",
            name: "E7247 speaker",
            price: 79,
            quantity: 1,
          },
        },
      ]);
    await call("/v1/admin/campaigns/dash_lift", "PUT", {
      name: "Dashboard lift test",
      trigger: { type: "event", events: ["Dash Lift"] },
      steps: [
        { delay: "1h", template: "welcome" },
        { delay: "1d", template: "loyalty" },
      ],
      holdoutPercent: 50,
    });
    const lift = Array.from({ length: 12 }, (_, i) => ({
      anonymousId: `dash-l-${run}-${i}`,
      email: `lift-${run}-${i}@example.com`,
    }));
    for (const s of lift)
      await track([
        { type: "identify", anonymousId: s.anonymousId, traits: { email: s.email } },
        { type: "track", anonymousId: s.anonymousId, event: "Dash Lift", properties: {} },
      ]);
    await advance(2 * HOUR);
    for (const s of shoppers.slice(0, 2)) await order(s.anonymousId, 79);
    for (const s of lift.slice(0, 4)) await order(s.anonymousId, 25);
    // A callback to make, and a paused template to enable.
    await api("/v1/onsite/callback", {
      key: "pk_demo",
      anonymousId: shoppers[4]?.anonymousId,
      requestId: `r-${run}`,
      phone: "+44 20 7946 0958",
      window: "afternoon",
      name: "Grace",
      consent: true,
      consentText: "Call me about my request.",
    });
    const holiday = await call<{ campaign: Record<string, unknown> }>("/v1/admin/campaigns/holiday", "GET");
    await call("/v1/admin/campaigns/holiday", "PUT", { ...holiday.campaign, enabled: false });
    const { config: onsiteBefore } = await call<{ config: unknown }>("/v1/admin/onsite", "GET");

    const context: BrowserContext = await browser().newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = watch(page);
    try {
      // ---- sign in ---------------------------------------------------------------------------------
      await page.goto(`${baseUrl()}/admin`);
      await poll(() => heading(page)).toBe("Sign in to Nudge");
      expect(await axe(page)).toEqual([]);
      await page.fill("#key", "sk_wrong");
      await page.click("button[type=submit]");
      await poll(() => page.locator("#key-error").textContent()).toMatch(/secret key/);
      // Chromium logs the refused sign-in's 401 as a failed resource, and its console event may come
      // after the page has shown the error: wait for it, then start counting errors afresh.
      await poll(() => errors.some((e) => e.includes("401"))).toBe(true);
      errors.length = 0;
      await page.fill("#key", "sk_demo");
      await page.press("#key", "Enter");
      await poll(() => heading(page)).toBe("Overview");
      const cookies = await context.cookies();
      expect(cookies.find((c) => c.name === "nudge_admin")).toMatchObject({ httpOnly: true, sameSite: "Strict" });

      // ---- overview: the tiles are the API's figures ----------------------------------------------
      await settled(page);
      const ov = await call<{
        revenueRecovered: number;
        revenueInfluenced: number;
        orders: number;
        messagesSent: number;
      }>("/v1/admin/dashboard/overview?days=30", "GET");
      expect(ov.revenueRecovered).toBeGreaterThanOrEqual(2 * 7900);
      expect(await tile(page, "Revenue recovered").textContent()).toContain(gbp(ov.revenueRecovered));
      expect(await tile(page, "Revenue influenced").textContent()).toContain(gbp(ov.revenueInfluenced));
      expect(await tile(page, "Orders").textContent()).toBe(String(ov.orders));
      expect(await tile(page, "Messages sent").textContent()).toBe(
        new Intl.NumberFormat("en-GB").format(ov.messagesSent),
      );
      expect(await page.locator("svg[role=img] rect.bar").count()).toBeGreaterThan(0);
      expect(await axe(page)).toEqual([]);
      await page.screenshot({ path: "demo-store/screenshots/dashboard-overview.png", fullPage: true });

      // ---- by keyboard: skip link, then the navigation, focus lands on the new page's heading -------
      // After signing in, focus is on the new page's heading; on a fresh load, the skip link comes first.
      expect(await page.evaluate(() => document.activeElement?.tagName)).toBe("H1");
      await page.reload();
      await poll(() => heading(page)).toBe("Overview");
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
      let steps = 0;
      while ((await page.evaluate(() => document.activeElement?.textContent)) !== "Campaigns" && steps++ < 10)
        await page.keyboard.press("Tab");
      await page.keyboard.press("Enter");
      await poll(() => heading(page)).toBe("Campaigns");
      await poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe("H1");

      // ---- campaigns and a campaign's results --------------------------------------------------------
      await settled(page);
      expect(await page.locator("table a", { hasText: "Dashboard lift test" }).count()).toBe(1);
      expect(await axe(page)).toEqual([]);
      await page.click("text=Dashboard lift test");
      await poll(() => heading(page)).toBe("Dashboard lift test: results");
      await settled(page);
      const r = await call<Results>("/v1/admin/campaigns/dash_lift/results", "GET");
      const treated = r.groups.find((g) => g.group === "all");
      const control = r.groups.find((g) => g.group === "holdout");
      if (!treated || !control) throw new Error("expected a treated and a holdout group among 12 contacts");
      expect(treated.recipients + control.recipients).toBe(12);
      expect(treated.converted + control.converted).toBe(4);
      const row = async (name: string) =>
        await page
          .locator('[aria-label="Results per group"] tbody tr', { has: page.locator(`th:text-is("${name}")`) })
          .locator("td")
          .allTextContents();
      for (const [name, g] of [
        ["Treated", treated],
        ["Holdout (control)", control],
      ] as const) {
        const cells = await row(name);
        expect([cells[0], cells[1], cells[4], cells[5]]).toEqual([
          String(g.recipients),
          String(g.delivered),
          String(g.converted),
          gbp(g.revenue),
        ]);
      }
      expect(await page.textContent("#lift-h")).toBe("Lift over the holdout");
      expect(await axe(page)).toEqual([]);
      await page.screenshot({ path: "demo-store/screenshots/dashboard-campaign.png", fullPage: true });

      // ---- template gallery: one click enables a scenario -----------------------------------------------
      await go(page, "#/templates", /templates/);
      expect(await axe(page)).toEqual([]);
      await page.click('button[aria-label^="Enable Holiday"]');
      await poll(() => page.locator(".status").textContent()).toBe("holiday is live.");
      expect((await call<{ enabled: boolean }>("/v1/admin/campaigns/holiday", "GET")).enabled).toBe(true);

      // ---- callbacks ------------------------------------------------------------------------------------
      await go(page, "#/callbacks", /Callbacks/);
      expect(await axe(page)).toEqual([]);
      await page.click('button[aria-label="Mark done: the callback to +442079460958"]');
      await poll(() => page.locator(".status").textContent()).toMatch(/marked done/);
      const open = await call<{ callbacks: { phone: string }[] }>("/v1/admin/callbacks?status=open", "GET");
      expect(open.callbacks.filter((c) => c.phone === "+442079460958")).toEqual([]);

      // ---- contacts: search, profile, export, erase -----------------------------------------------------
      await go(page, "#/contacts", /Contacts/);
      const who = shoppers[0]?.email ?? "";
      await page.fill("#q", who);
      await page.click("form[role=search] button");
      await poll(() => page.locator("tbody th a").allTextContents()).toEqual([who]);
      expect(await axe(page)).toEqual([]);
      await page.click(`tbody a:text-is("${who}")`);
      await settled(page);
      await poll(() => tile(page, "Orders").textContent()).toBe("1");
      await page.click("text=Export their data");
      await poll(() => page.locator("a[download]").count()).toBe(1);
      expect(await axe(page)).toEqual([]);
      const gone = shoppers[3]?.email ?? "";
      const { contact } = await call<{ contact: { id: string } }>(
        `/v1/admin/contacts?email=${encodeURIComponent(gone)}`,
        "GET",
      );
      await go(page, `#/contacts/${encodeURIComponent(contact.id)}`, /Shopper/);
      await page.click("text=Erase this contact…");
      await page.click("text=Erase for good");
      await poll(() => heading(page)).toBe("Contacts");
      const erased = await fetch(`${baseUrl()}/v1/admin/contacts?email=${encodeURIComponent(gone)}`, {
        headers: SECRET,
      });
      expect(erased.status).toBe(404);

      // ---- promotions and the cart simulator --------------------------------------------------------------
      await go(page, "#/promotions", /Promotions/);
      await page.click("text=Price this cart");
      await poll(() => page.locator("[data-testid=priced]").count()).toBe(1);
      const priced = await call<{ totals: { total: number } }>("/v1/admin/dashboard/price", "POST", {
        lines: [
          { product_id: "E7247", price: 79, quantity: 2, categories: ["Speakers"] },
          { product_id: "H4100", price: 129, quantity: 1, categories: ["Headphones"] },
        ],
        coupons: [],
      });
      expect(await page.locator("[data-testid=priced] dd").nth(2).textContent()).toBe(gbp(priced.totals.total));
      expect(await axe(page)).toEqual([]);

      // ---- widgets editor: the preview follows the text; saving stores it ----------------------------------
      await go(page, "#/widgets", /widgets/);
      await page.fill("#text-coupon_title", "Wait! {offer} off for you");
      await poll(() => page.locator(".preview-title").textContent()).toBe("Wait! 10% off for you");
      // French: the built-in words until the merchant's own, in the preview at once.
      await page.selectOption("#locale", "fr");
      await poll(() => page.locator(".preview-title").textContent()).toBe("Avant de partir : 10% de réduction");
      await page.fill("#text-coupon_title", "Attendez ! {offer} pour vous");
      await poll(() => page.locator(".preview-title").textContent()).toBe("Attendez ! 10% pour vous");
      expect(await page.locator(".preview-box").getAttribute("lang")).toBe("fr");
      expect(await axe(page)).toEqual([]);
      await page.screenshot({ path: "demo-store/screenshots/dashboard-widgets.png", fullPage: true });
      await page.click("text=Save widgets");
      await poll(() => page.locator(".status").textContent()).toMatch(/^Saved/);
      const saved = await call<{ config: { text?: Record<string, Record<string, string>> } }>(
        "/v1/admin/onsite",
        "GET",
      );
      expect(saved.config.text?.en?.coupon_title).toBe("Wait! {offer} off for you");
      expect(saved.config.text?.fr?.coupon_title).toBe("Attendez ! {offer} pour vous");

      // ---- segments: build a rule, the live count is the API's ----------------------------------------------
      await go(page, "#/segments", /Segments/);
      await page.click("text=Has an open cart");
      await poll(() => page.locator("#audience").textContent()).toMatch(/contacts match/);
      const audience = async (segment: unknown) =>
        (await call<{ count: number }>("/v1/admin/campaigns/audience", "POST", { segment })).count;
      const openCarts = await audience({ all: [{ open_cart: true }] });
      expect(await page.locator("#audience").textContent()).toBe(`${openCarts} contacts match.`);
      // Five carts left, two of them ordered, one shopper erased: at least the other two are open.
      expect(openCarts).toBeGreaterThanOrEqual(2);
      // …and, excluded, those who ordered: a second condition, its kind and value changed, negated.
      await page.click("text=Add a condition");
      const second = page.locator(".builder .rule").nth(1);
      await second.locator("select").first().selectOption("metric");
      await second.locator("input[type=number]").fill("1");
      await second.locator("input[type=checkbox]").check();
      const rule = { all: [{ open_cart: true }, { not: { metric: "orders_count", op: "gte", value: 1 } }] };
      const expected = await audience(rule);
      await poll(() => page.locator("#audience").textContent()).toBe(`${expected} contacts match.`);
      await page.click("text=Edit as JSON (advanced)");
      expect(JSON.parse(await page.inputValue("#rule"))).toEqual(rule);
      expect(await axe(page)).toEqual([]);

      // ---- 360 px: nothing wider than the screen, every page axe-clean ---------------------------------------
      await page.setViewportSize({ width: 360, height: 740 });
      for (const [hash, title] of [
        ["#/", /Overview/],
        ["#/campaigns", /Campaigns/],
        ["#/campaigns/dash_lift", /results/],
        ["#/campaigns/dash_lift/edit", /Edit/],
        ["#/templates", /templates/],
        ["#/callbacks", /Callbacks/],
        ["#/contacts", /Contacts/],
        ["#/promotions", /Promotions/],
        ["#/widgets", /widgets/],
        ["#/segments", /Segments/],
        ["#/settings", /Settings/],
      ] as const) {
        await go(page, hash, title);
        expect(await page.evaluate(() => document.documentElement.scrollWidth), hash).toBeLessThanOrEqual(360);
        expect(await axe(page), hash).toEqual([]);
      }

      // ---- sign out: the cookie is worthless afterwards ------------------------------------------------------
      const cookie = (await context.cookies()).find((c) => c.name === "nudge_admin")?.value ?? "";
      // Sign out while the segment page's count is still pending (it waits 300 ms after typing):
      // nothing may reach the revoked session and come back 401.
      await go(page, "#/segments", /Segments/);
      await page.click("text=Edit as JSON (advanced)");
      await page.fill("#rule", '{ "all": [{ "attr": "email", "op": "exists" }] }');
      await page.click("text=Sign out");
      await poll(() => heading(page)).toBe("Sign in to Nudge");
      const after = await fetch(`${baseUrl()}/v1/admin/campaigns`, { headers: { cookie: `nudge_admin=${cookie}` } });
      expect(after.status).toBe(401);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      await call("/v1/admin/onsite", "PUT", { config: onsiteBefore });
    }
  });
  it("should edit a campaign's steps and the branding, each with a live preview, and send the branded mail", async () => {
    const run = Date.now();
    await call("/v1/admin/campaigns/dash_steps", "PUT", {
      name: "Dashboard steps test",
      trigger: { type: "event", events: ["Dash Steps"] },
      steps: [
        { delay: "1h", template: "welcome" },
        { delay: "1d", template: "loyalty" },
      ],
      holdoutPercent: 50,
    });
    const { context, page, errors } = await signedIn();
    try {
      // ---- the step editor: edit a step, the rendered preview follows; reorder, A/B, save -------------
      await go(page, "#/campaigns/dash_steps", /results/);
      await page.click("text=Edit steps");
      await poll(() => heading(page)).toBe("Edit Dashboard steps test");
      await settled(page);
      const subject = page.locator("[data-testid=preview-subject]");
      await poll(() => subject.textContent()).toBe("Welcome to Wavelength");
      const mail = page.frameLocator("iframe.mail");
      await poll(() => mail.locator("body").textContent()).toContain("Thank you for subscribing");
      await page.fill("#s0-subject", "A gift from {store}");
      await poll(() => subject.textContent()).toBe("A gift from Wavelength");
      // The French words of step 1, in the preview's French email.
      await page.selectOption("#c-locale", "fr");
      await page.fill("#s0-w-intro", "Un cadeau de {store} vous attend, {name}.");
      await poll(() => mail.locator("body").textContent()).toContain("Un cadeau de Wavelength vous attend, Alex.");
      // A misspelt placeholder is named before anything is asked of the API (which refuses it on save).
      await page.fill("#s0-w-cta", "Voir {produit}");
      await poll(() => page.locator(".preview [role=alert]").textContent()).toMatch(
        /Button: {produit} is not a placeholder/,
      );
      await page.fill("#s0-w-cta", "");
      // Step 2 as SMS: the preview shows the text and what it is billed as.
      await page.click("text=Preview step 2");
      await page.selectOption("#s1-channel", "sms");
      await poll(() => page.locator("[data-testid=preview-sms]").textContent()).toMatch(/^Vous faites partie/);
      await page.selectOption("#s1-channel", "email");
      await page.click("text=A/B test step 2");
      await page.fill("#s1-v1-subject", "Rien que pour vous");
      await page.click("text=Add a step");
      await page.click('button[aria-label="Move step 3 up"]');
      await page.click('button[aria-label="Remove step 2"]');
      await page.fill("#c-holdout", "20");
      expect(await axe(page)).toEqual([]);
      await page.screenshot({ path: "demo-store/screenshots/dashboard-steps.png", fullPage: true });
      await page.click("text=Save campaign");
      await poll(() => page.locator(".status").textContent()).toMatch(/^Saved/);
      const edited = await call<{ campaign: { holdoutPercent: number; steps: Record<string, unknown>[] } }>(
        "/v1/admin/campaigns/dash_steps",
        "GET",
      );
      expect(edited.campaign.holdoutPercent).toBe(20);
      expect(edited.campaign.steps).toEqual([
        expect.objectContaining({
          delayMs: HOUR,
          template: "welcome",
          subject: "A gift from {store}",
          content: { fr: { intro: "Un cadeau de {store} vous attend, {name}." } },
        }),
        expect.objectContaining({
          delayMs: 24 * HOUR,
          template: "loyalty",
          variants: [
            { id: "A", weight: 1 },
            { id: "B", weight: 1, subject: "Rien que pour vous" },
          ],
        }),
      ]);

      // ---- settings: branding, seen in the preview and in a mail the scheduler really sends ---------------
      const { branding: brandingBefore } = await call<{ branding: unknown }>("/v1/admin/branding", "GET");
      try {
        await go(page, "#/settings", /Settings/);
        await poll(() => page.frameLocator("iframe.mail").locator("body").textContent()).toContain("1 Example Street");
        await page.fill("#colour", "#8a2be2");
        await page.fill("#address", "Wavelength Audio Ltd\n42 Harbour Road\nBristol BS1 5TY");
        await page.fill("#footer", "You hear from {store} because you signed up.");
        const button = page.frameLocator("iframe.mail").locator("a", { hasText: "Start shopping" });
        await poll(() => button.getAttribute("style")).toMatch(/background:#8a2be2;color:#fff/);
        await poll(() => page.frameLocator("iframe.mail").locator("body").textContent()).toContain("42 Harbour Road");
        expect(await axe(page)).toEqual([]);
        await page.click("text=Save branding");
        await poll(() => page.locator(".status").textContent()).toMatch(/^Saved/);
        await call("/v1/admin/campaigns/dash_brand", "PUT", {
          trigger: { type: "event", events: ["Dash Brand"] },
          steps: [{ delay: "1h", template: "welcome" }],
        });
        const fan = `brand-${run}@example.com`;
        await track([
          { type: "identify", anonymousId: `dash-b-${run}`, traits: { email: fan } },
          { type: "track", anonymousId: `dash-b-${run}`, event: "Dash Brand", properties: {} },
        ]);
        await advance(2 * HOUR);
        const mailbox = await context.newPage();
        await mailbox.goto(`${baseUrl()}/mailbox`);
        const sent = mailbox.locator(".message", { hasText: fan });
        await poll(() => sent.count()).toBe(1);
        await sent.click();
        const part = mailbox.frameLocator("iframe.html-part");
        await poll(() => part.locator("body").textContent()).toContain("42 Harbour Road");
        expect(await part.locator("body").textContent()).toContain("You hear from Wavelength because you signed up.");
        expect(await part.locator("a", { hasText: "Start shopping" }).getAttribute("style")).toMatch(
          /background:#8a2be2/,
        );
        await mailbox.close();
      } finally {
        await call("/v1/admin/branding", "PUT", brandingBefore);
        await call("/v1/admin/campaigns/dash_brand", "DELETE");
      }

      expect(errors).toEqual([]);
    } finally {
      await context.close();
      await call("/v1/admin/campaigns/dash_steps", "DELETE");
    }
  });
});

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createHmac } from "node:crypto";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { advance, api, baseUrl, flush, mailsTo, useBrowser, watchErrors } from "./browser";

/**
 * The onsite widgets on the demo store, in real Chromium: desktop and mobile exit intent, send to
 * a friend, callback request and newsletter, each scanned by axe-core while open.
 */

const browser = useBrowser();

interface AxeResult {
  violations: { id: string; impact: string; nodes: { target: unknown }[] }[];
}

/** axe-core from node_modules, injected into the page, scanning only the open widget. */
async function axe(page: Page): Promise<AxeResult["violations"]> {
  await page.addScriptTag({ path: "node_modules/axe-core/axe.min.js" });
  const result = await page.evaluate(() =>
    (window as unknown as { axe: { run(ctx: unknown): Promise<AxeResult> } }).axe.run({ include: [["nudge-widget"]] }),
  );
  return result.violations;
}

/**
 * Every event the page sends to ingest, as the Worker receives it — and the orders it reports
 * through the demo shop's own backend, which passes them on as `Order Completed`.
 */
function batches(page: Page) {
  const events: { event?: string; properties?: Record<string, unknown> }[] = [];
  page.on("request", (req) => {
    if (req.method() !== "POST") return;
    if (req.url().endsWith("/v1/batch")) events.push(...(req.postDataJSON()?.batch ?? []));
    if (req.url().endsWith("/v1/demo-shop/orders"))
      events.push({ event: "Order Completed", properties: req.postDataJSON()?.order });
  });
  return events;
}

/** expect.poll with room for a busy machine (the default gives up after a second). */
const until = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000 });

/** Launchers work once the onsite chunk has armed them. */
const ready = (page: Page) => page.waitForSelector("html[data-nudge-onsite=ready]", { state: "attached" });

describe("exit-intent coupon", () => {
  it("should show a code when the pointer leaves through the top on desktop, and apply it at checkout", async () => {
    const context = await browser().newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = watchErrors(page);
    const sent = batches(page);
    await page.goto(`${baseUrl()}/product?id=E7247`);
    await page.click("#add-to-cart");
    await ready(page);
    await page.waitForTimeout(1200); // the demo arms exit intent a second after the triggers start

    // The pointer heads for the tabs: down into the page, then out through the top edge.
    await page.mouse.move(640, 300);
    await page.mouse.move(640, 5, { steps: 5 });
    await page.mouse.move(640, -20);
    const dialog = page.getByRole("dialog", { name: "Before you go: 10% off" });
    await until(() => dialog.isVisible()).toBe(true);
    const code = page.locator("nudge-widget output");
    await until(() => code.textContent()).toMatch(/^[2-9A-Z]{4}(-[2-9A-Z]{4}){3}$/);
    const minted = (await code.textContent()) ?? "";
    expect(await page.evaluate(() => localStorage.getItem("nudge:coupon"))).toBe(minted);
    expect(await axe(page)).toEqual([]);
    await page.screenshot({ path: "demo-store/screenshots/exit-intent.png" });

    // Escape closes it; leaving again in this session shows nothing (capped once per session).
    await page.keyboard.press("Escape");
    await until(() => page.locator("nudge-widget").count()).toBe(0);
    await page.mouse.move(640, 300);
    await page.mouse.move(640, -20, { steps: 3 });
    await page.waitForTimeout(500);
    expect(await page.locator("nudge-widget").count()).toBe(0);

    // The code is remembered for this visitor and already in the checkout form.
    const aid = await page.evaluate(() => localStorage.getItem("nudge_aid"));
    const again = await fetch(`${baseUrl()}/v1/onsite/coupon`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: "pk_demo", anonymousId: aid, requestId: "again", widget: "exit-coupon" }),
    });
    expect(await again.json()).toMatchObject({ code: minted, reused: true });
    await page.goto(`${baseUrl()}/checkout`);
    // Pre-filled or listed as applied, however the checkout presents codes.
    const shown = () =>
      page.evaluate(
        (c) =>
          [...document.querySelectorAll("input")].some((i) => i.value === c) ||
          !!document.body.textContent?.includes(c),
        minted,
      );
    await until(shown).toBe(true);
    // The promotions engine accepted it: only codes that priced stay in the applied list.
    await until(() => page.locator("#applied-codes").textContent()).toContain(minted);
    await page.fill("#checkout-form input[name=email]", `exit-${Date.now()}@example.com`);
    await page.click("#place-order");
    await until(() => page.isVisible("#order-confirmation")).toBe(true);
    await flush(page);
    const order = sent.find((e) => e.event === "Order Completed")?.properties ?? {};
    expect([order.coupon, ...((order.coupons as unknown[]) ?? [])]).toContain(minted);
    expect(order.discount).toBeCloseTo(7.9); // 10% off the £79 speaker
    expect(errors).toEqual([]);
    await context.close();
  });

  it("should show it on a phone when the shopper scrolls back up fast, usable at 320 px", async () => {
    const context = await browser().newContext({
      viewport: { width: 320, height: 640 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
      reducedMotion: "reduce",
    });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${baseUrl()}/`);
    await ready(page);
    await page.waitForTimeout(1200); // armed a second after the triggers start
    /** Scrolls through `ys`, one position per animation frame, as a finger flick does. */
    const scroll = (ys: number[]) =>
      page.evaluate(async (list) => {
        for (const y of list) {
          window.scrollTo(0, y);
          await new Promise((r) => requestAnimationFrame(r));
        }
      }, ys);
    // Read down the catalogue slowly: no popup.
    for (const y of [300, 600, 900, 1200]) {
      await scroll([y]);
      await page.waitForTimeout(100);
    }
    await page.waitForTimeout(400);
    expect(await page.locator("nudge-widget").count()).toBe(0);
    // Then flick back up towards the address bar.
    await scroll([1150, 1050, 950, 850]);
    const dialog = page.getByRole("dialog", { name: "Before you go: 10% off" });
    await until(() => dialog.isVisible()).toBe(true);
    await until(() => page.locator("nudge-widget output").textContent()).toMatch(/^[2-9A-Z]{4}-/);

    const box = await dialog.boundingBox();
    expect(box?.x).toBeGreaterThanOrEqual(0);
    expect((box?.x ?? 0) + (box?.width ?? 999)).toBeLessThanOrEqual(320);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(320);
    expect(await dialog.evaluate((el) => getComputedStyle(el).animationName)).toBe("none"); // reduced motion
    expect(await axe(page)).toEqual([]);
    await page.getByRole("button", { name: "Continue shopping" }).tap();
    await until(() => page.locator("nudge-widget").count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe("send to a friend", () => {
  it("should send the friend's address and the product as a Product Shared event", async () => {
    const context = await browser().newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${baseUrl()}/product?id=E7247`);
    await ready(page);
    await page.getByRole("button", { name: "Send to a friend" }).click();
    const dialog = page.getByRole("dialog", { name: "Send to a friend" });
    await until(() => dialog.isVisible()).toBe(true);
    expect(await axe(page)).toEqual([]);

    // A typo is caught before anything is sent, next to the field.
    await page.getByLabel("Your friend's email").fill("bob@");
    await page.getByLabel("Your name").fill("Ada");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await until(() => dialog.textContent()).toContain("Enter a valid email address");
    expect(await axe(page)).toEqual([]); // the error state too

    const friend = `bob-${Date.now()}@example.com`;
    await page.getByLabel("Your friend's email").fill(friend);
    await page.getByLabel("My friend knows me").check();
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/v1/onsite/friend")),
      page.getByRole("button", { name: "Send", exact: true }).click(),
    ]);
    expect(response.status()).toBe(200);
    expect(response.request().postDataJSON()).toMatchObject({
      productId: "E7247",
      friendEmail: friend,
      senderName: "Ada",
      consent: true,
    });
    await until(() => dialog.textContent()).toContain("Sent. Thanks for sharing!");

    // The campaign engine's referral campaign mails the friend on the next scheduler run.
    await advance(60_000);
    const [mail] = await mailsTo(friend);
    expect(mail).toMatchObject({ campaign: "referral", subject: "Ada thinks you'll like E7247 speaker" });
    expect(mail?.text).toContain("£79.00");
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe("callback request", () => {
  it("should create a task the merchant sees in the admin API and post it to their signed webhook", async () => {
    const received: { body: string; signature: string }[] = [];
    const hook = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        received.push({ body, signature: String(req.headers["x-nudge-signature"] ?? "") });
        res.end("ok");
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    const { config } = await api<{ config: unknown }>("/v1/admin/onsite");
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/nudge`;
    const admin = { authorization: "Bearer sk_demo", "content-type": "application/json" };
    await fetch(`${baseUrl()}/v1/admin/onsite`, {
      method: "PUT",
      headers: admin,
      body: JSON.stringify({ config, webhook: { url } }),
    });
    // Every webhook of the site is signed with its own secret, shown to the merchant when made.
    const { secret } = (await (
      await fetch(`${baseUrl()}/v1/admin/webhook-secret`, { method: "POST", headers: admin })
    ).json()) as { secret: string };

    const context = await browser().newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${baseUrl()}/`);
    await ready(page);
    await page.getByRole("button", { name: "Request a callback" }).click();
    const dialog = page.getByRole("dialog", { name: "Request a callback" });
    await until(() => dialog.isVisible()).toBe(true);
    expect(await axe(page)).toEqual([]);
    const phone = `+4479460${String(Date.now()).slice(-5)}`;
    await page.getByLabel("Your name (optional)").fill("Ada");
    await page.getByLabel("Phone number with country code").fill(phone);
    await page.getByLabel("Best time to call").selectOption("evening");
    await page.getByLabel("Call me about my request").check();
    await page.getByRole("button", { name: "Call me back" }).click();
    await until(() => dialog.textContent()).toContain("We'll call you back");
    expect(errors).toEqual([]);
    await context.close();

    // The campaign engine confirms by SMS (the outbox channel stands in for the SMS provider).
    await advance(60_000);
    const { messages } = await api<{ messages: Record<string, unknown>[] }>(
      `/v1/admin/outbox?to=${encodeURIComponent(phone)}`,
    );
    expect(messages).toContainEqual(
      expect.objectContaining({ campaign: "callback_confirmation", channel: "sms", to: phone, status: "sent" }),
    );
    const { callbacks } = await api<{ callbacks: Record<string, unknown>[] }>("/v1/admin/callbacks?status=open");
    const task = callbacks.find((c) => c.phone === phone);
    expect(task).toMatchObject({ name: "Ada", time_window: "evening", status: "open" });

    // Only this shopper's: a callback another test left un-notified goes to the new webhook too.
    const ours = () => received.filter((r) => r.body.includes(JSON.stringify(phone)));
    await until(() => ours().length).toBe(1);
    const [{ body, signature } = { body: "", signature: "" }] = ours();
    expect(JSON.parse(body)).toMatchObject({ type: "callback.requested", callback: { phone, time_window: "evening" } });
    const [, t, v1] = signature.match(/^t=(\d{10}),v1=([0-9a-f]+)$/) ?? []; // unix seconds
    expect(v1).toBe(createHmac("sha256", secret).update(`${t}.${body}`).digest("hex"));
    hook.close();
  });
});

describe("newsletter", () => {
  it("should subscribe with consent, in an accessible dialog, and send the welcome mail with a code", async () => {
    const context = await browser().newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${baseUrl()}/`);
    const launcher = page.getByRole("button", { name: "Get our newsletter" });
    await ready(page);
    await launcher.click();
    const dialog = page.getByRole("dialog", { name: "Join our newsletter" });
    await until(() => dialog.isVisible()).toBe(true);
    expect(await axe(page)).toEqual([]);
    // Tab and Shift+Tab never leave the dialog.
    for (const key of ["Tab", "Tab", "Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]) {
      await page.keyboard.press(key);
      expect(await page.evaluate(() => document.activeElement?.tagName)).toBe("NUDGE-WIDGET");
    }
    const email = `nina-${Date.now()}@example.com`;
    await dialog.getByLabel("Email", { exact: true }).fill(email);
    await page.getByRole("button", { name: "Subscribe" }).click();
    await until(() => dialog.textContent()).toContain("Please tick the box to continue.");
    await page.getByLabel("Send me marketing emails").check();
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/v1/onsite/newsletter")),
      page.getByRole("button", { name: "Subscribe" }).click(),
    ]);
    expect(response.status()).toBe(200);
    await until(() => dialog.textContent()).toContain("You're subscribed");
    await page.keyboard.press("Escape");
    await until(() => page.locator("nudge-widget").count()).toBe(0);
    // Focus returns to the launcher.
    expect(await launcher.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(errors).toEqual([]);
    await context.close();

    // The opt-in starts the welcome campaign: a thank-you with a first-order code, right away.
    await advance(60_000);
    const welcome = (await mailsTo(email)).filter((m) => m.campaign === "welcome");
    expect(welcome.map((m) => m.subject)).toEqual(["Welcome to Wavelength"]);
    expect(welcome[0]?.text).toMatch(/[2-9A-Z]{4}(-[2-9A-Z]{4}){3}/);
  });
});

describe("cart reminder", () => {
  it("should greet a returning visitor with items in the cart with a bar that links to it", async () => {
    const context = await browser().newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${baseUrl()}/product?id=E7247`);
    await page.click("#add-to-cart");
    await flush(page);
    await ready(page);
    expect(await page.locator("nudge-widget").count()).toBe(0); // first visit: nothing

    // Two days later, the same browser comes back.
    await page.evaluate(() => {
      const twoDaysAgo = Date.now() - 2 * 86_400_000;
      localStorage.setItem(
        "nudge_onsite",
        JSON.stringify({ first: twoDaysAgo, session: twoDaysAgo, last: twoDaysAgo, seen: {} }),
      );
    });
    await page.goto(`${baseUrl()}/`);
    const bar = page.getByRole("region", { name: "Welcome back! Your cart is waiting for you." });
    await until(() => bar.isVisible()).toBe(true);
    expect(await axe(page)).toEqual([]);
    await bar.getByRole("link", { name: "View cart" }).click();
    await page.waitForURL(/\/cart$/);
    expect(errors).toEqual([]);
    await context.close();
  });
});

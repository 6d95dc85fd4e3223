import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createSite } from "../../worker/src/model/sites";
import {
  advance,
  BASE,
  mailbox,
  messagesOf,
  post,
  product,
  SECRET,
  send,
  sendAsServer,
  shopperWithCart,
  uid,
} from "./helpers";

/**
 * Issue 13, items 7, 8 and two of 9: money state and consent from the browser. Orders, cancels,
 * refunds, redemptions, spend and rewards count from the merchant's server (secret key), or from
 * the browser only on a site that trusts browser orders; consent may only be reduced.
 */

const E7247 = { product_id: "E7247", name: "E7247 speaker", price: 7900, quantity: 1, categories: ["Speakers"] };

const contactOf = (anonymousId: string, siteId = "demo") =>
  env.DB.prepare(
    `SELECT c.id, c.orders_count, c.total_spent, c.unsubscribed FROM identities i
     JOIN contacts c ON c.site_id = i.site_id AND c.id = i.contact_id
     WHERE i.site_id = ? AND i.kind = 'anonymous' AND i.value = ?`,
  )
    .bind(siteId, anonymousId)
    .first<{ id: string; orders_count: number; total_spent: number; unsubscribed: number }>();

const orderStatus = (orderId: string, siteId = "demo") =>
  env.DB.prepare(`SELECT status FROM orders WHERE site_id = ? AND order_id = ?`)
    .bind(siteId, orderId)
    .first<{ status: string }>();

async function singleUseCode(): Promise<string> {
  const res = await SELF.fetch(`${BASE}/v1/admin/coupons`, {
    method: "POST",
    headers: { "content-type": "application/json", ...SECRET },
    body: JSON.stringify({ promotionId: "exit-intent-10", maxUses: 1 }),
  });
  expect(res.status).toBe(201);
  return (await res.json<{ coupons: { code: string }[] }>()).coupons[0]?.code ?? "";
}

const priceWith = async (code: string, anonymousId: string) =>
  (
    await post(
      "/v1/cart/price",
      { writeKey: "pk_demo", lines: [E7247], coupons: [code], anonymousId },
      { "cf-connecting-ip": uid("ip") },
    )
  ).json<{ promotions: { code?: string }[]; rejected: { code: string; reason: string }[] }>();

/** A site that trusts browser orders (the opt-in), with its own keys. */
async function trustingSite() {
  const id = uid("trusting");
  await createSite(
    env,
    {
      id,
      name: id,
      url: "https://shop.example",
      publicKey: `pk_${id}`,
      secretKey: `sk_${id}`,
      settings: { trustBrowserOrders: true },
    },
    Date.now(),
  );
  const browser = async (messages: Record<string, unknown>[]) => {
    const res = await post("/v1/batch", {
      writeKey: `pk_${id}`,
      batch: messages.map((m) => ({ messageId: crypto.randomUUID(), ...m })),
    });
    expect(res.status).toBe(200);
  };
  return { id, browser };
}

describe("cancel anyone's order (item 7)", () => {
  it("should not let a browser cancel another shopper's order, zero her spend or release her codes", async () => {
    const victim = uid("victim");
    const orderId = uid("order");
    const code = await singleUseCode();
    await send([{ type: "identify", anonymousId: victim, traits: { email: `${victim}@example.com` } }]);
    await sendAsServer([
      {
        type: "track",
        anonymousId: victim,
        event: "Order Completed",
        properties: { order_id: orderId, total: 79, coupon: code },
      },
    ]);
    expect(await contactOf(victim)).toMatchObject({ orders_count: 1, total_spent: 7900 });

    // Any browser, with her order id.
    const stranger = uid("stranger");
    await send([{ type: "track", anonymousId: stranger, event: "Order Cancelled", properties: { order_id: orderId } }]);
    await send([{ type: "track", anonymousId: stranger, event: "Order Refunded", properties: { order_id: orderId } }]);

    expect(await orderStatus(orderId)).toEqual({ status: "placed" });
    expect(await contactOf(victim)).toMatchObject({ orders_count: 1, total_spent: 7900 });
    expect((await priceWith(code, uid("other"))).rejected).toEqual([expect.objectContaining({ code, reason: "used" })]);
  });

  it("should not let a browser cancel another contact's order even where browser orders are trusted", async () => {
    const site = await trustingSite();
    const [her, him] = [uid("her"), uid("him")];
    const orderId = uid("order");
    await site.browser([
      { type: "identify", anonymousId: her, traits: { email: `${her}@example.com` } },
      { type: "track", anonymousId: her, event: "Order Completed", properties: { order_id: orderId, total: 50 } },
    ]);
    expect(await contactOf(her, site.id)).toMatchObject({ orders_count: 1, total_spent: 5000 });
    await site.browser([
      { type: "track", anonymousId: him, event: "Order Cancelled", properties: { order_id: orderId } },
    ]);
    expect(await orderStatus(orderId, site.id)).toEqual({ status: "placed" });
    // Her own browser may cancel her own order there: the site chose to trust it.
    await site.browser([
      { type: "track", anonymousId: her, event: "Order Cancelled", properties: { order_id: orderId } },
    ]);
    expect(await orderStatus(orderId, site.id)).toEqual({ status: "cancelled" });
    expect(await contactOf(her, site.id)).toMatchObject({ orders_count: 0, total_spent: 0 });
  });
});

describe("reward farming (item 8)", () => {
  it("should give a throwaway email with a browser Order Completed of 600 no spend, order or loyalty code", async () => {
    const anonymousId = uid("farmer");
    const email = `${uid("throwaway")}@example.com`;
    await send([
      { type: "identify", anonymousId, traits: { email } },
      {
        type: "track",
        anonymousId,
        event: "Order Completed",
        properties: { order_id: uid("fake"), total: 600, products: [product("E7247", 600)] },
      },
    ]);
    await advance(60_000);
    expect(await contactOf(anonymousId)).toMatchObject({ orders_count: 0, total_spent: 0 });
    expect(await mailbox(email, "loyalty")).toHaveLength(0);
    expect(await mailbox(email, "cross_sell")).toHaveLength(0); // no "payment confirmation" either
    const coupons = await env.DB.prepare(
      `SELECT count(*) AS n FROM coupons WHERE site_id = 'demo' AND contact_id = ? AND source != 'exit_intent'`,
    )
      .bind((await contactOf(anonymousId))?.id ?? "")
      .first<{ n: number }>();
    expect(coupons?.n).toBe(0);
    // The event itself is kept, with the source that sent it.
    const stored = await env.DB.prepare(
      `SELECT source FROM events WHERE site_id = 'demo' AND anonymous_id = ? AND event = 'Order Completed'`,
    )
      .bind(anonymousId)
      .first<{ source: string }>();
    expect(stored).toEqual({ source: "browser" });
  });

  it("should still stop the browser's own reminders when it says it ordered", async () => {
    const email = `${uid("buyer")}@example.com`;
    const anonymousId = await shopperWithCart(email);
    expect((await messagesOf("abandoned_cart")).filter((m) => m.email === email)).toMatchObject([
      { status: "pending" },
    ]);
    await send([
      { type: "track", anonymousId, event: "Order Completed", properties: { order_id: uid("o"), total: 79 } },
    ]);
    await advance(2 * 3600_000);
    expect(await mailbox(email, "abandoned_cart")).toHaveLength(0);
    expect((await messagesOf("abandoned_cart")).filter((m) => m.email === email)).toMatchObject([
      { status: "cancelled" },
    ]);
    expect(await contactOf(anonymousId)).toMatchObject({ orders_count: 0, total_spent: 0 });
  });
});

describe("a single-use code after a browser cancel (item 9)", () => {
  it("should keep the code used when the buyer cancels their own order from the browser", async () => {
    const buyer = uid("buyer");
    const orderId = uid("order");
    const code = await singleUseCode();
    await send([{ type: "identify", anonymousId: buyer, traits: { email: `${buyer}@example.com` } }]);
    await sendAsServer([
      {
        type: "track",
        anonymousId: buyer,
        event: "Order Completed",
        properties: { order_id: orderId, total: 71.1, coupon: code },
      },
    ]);
    await send([{ type: "track", anonymousId: buyer, event: "Order Cancelled", properties: { order_id: orderId } }]);
    expect((await priceWith(code, buyer)).rejected).toEqual([expect.objectContaining({ code, reason: "used" })]);
    // The merchant's cancellation is what gives it back.
    await sendAsServer([
      { type: "track", anonymousId: buyer, event: "Order Cancelled", properties: { order_id: orderId } },
    ]);
    expect((await priceWith(code, buyer)).promotions.map((p) => p.code)).toEqual([code]);
  });

  it("should not release coupons from the browser even on a site that trusts browser orders", async () => {
    const site = await trustingSite();
    const buyer = uid("buyer");
    const orderId = uid("order");
    const code = uid("CODE").toUpperCase();
    await env.DB.prepare(
      `INSERT INTO coupons (site_id, code, promotion_id, source, max_uses, uses, created_at)
       VALUES (?, ?, 'p', 'test', 1, 0, 0)`,
    )
      .bind(site.id, code)
      .run();
    await site.browser([
      {
        type: "track",
        anonymousId: buyer,
        event: "Order Completed",
        properties: { order_id: orderId, total: 9, coupon: code },
      },
      { type: "track", anonymousId: buyer, event: "Order Cancelled", properties: { order_id: orderId } },
    ]);
    expect(await orderStatus(orderId, site.id)).toEqual({ status: "cancelled" });
    const row = await env.DB.prepare(`SELECT uses FROM coupons WHERE site_id = ? AND code = ?`)
      .bind(site.id, code)
      .first<{ uses: number }>();
    expect(row).toEqual({ uses: 1 });
  });
});

describe("Consent Updated (item 9)", () => {
  it("should unsubscribe the browser's own contact from marketing and cancel what waits for them", async () => {
    const email = `${uid("optout")}@example.com`;
    const anonymousId = await shopperWithCart(email);
    await send([
      { type: "track", anonymousId, event: "Consent Updated", properties: { analytics: true, marketing: false } },
    ]);
    expect(await contactOf(anonymousId)).toMatchObject({ unsubscribed: 1 });
    expect((await messagesOf("abandoned_cart")).filter((m) => m.email === email)).toMatchObject([
      { status: "cancelled", reason: "unsubscribed" },
    ]);
    // The browser may only take consent back: marketing: true does not resubscribe.
    await send([{ type: "track", anonymousId, event: "Consent Updated", properties: { marketing: true } }]);
    await send([{ type: "track", anonymousId, event: "Product Added", properties: product("H4100") }]);
    await advance(3 * 3600_000);
    expect(await contactOf(anonymousId)).toMatchObject({ unsubscribed: 1 });
    expect(await mailbox(email, "abandoned_cart")).toHaveLength(0);
  });
});

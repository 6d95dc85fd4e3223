import { describe, expect, it } from "vitest";
import { advance, BASE, clock, post, SECRET, send, sendAsServer, uid } from "./helpers";
import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";

interface Priced {
  lines: { productId: string; quantity: number; discount: number; total: number; added: boolean }[];
  promotions: { id: string; label: string; code?: string; discount: number; shippingDiscount: number }[];
  rejected: { code: string; reason: string; message: string }[];
  totals: { subtotal: number; discount: number; shipping: number; shippingDiscount: number; total: number };
}

const E7247 = { product_id: "E7247", name: "E7247 speaker", price: 7900, quantity: 1, categories: ["Speakers"] };
const H4100 = { product_id: "H4100", name: "Arc over-ear", price: 12900, quantity: 1, categories: ["Headphones"] };
const H1050 = { product_id: "H1050", name: "Kids' headphones", price: 2900, quantity: 1, categories: ["Headphones"] };

/** Prices a cart as the demo store does; each call comes from its own address unless told. */
async function priceCart(body: Record<string, unknown>, ip = uid("ip")) {
  return post("/v1/cart/price", { writeKey: "pk_demo", ...body }, { "cf-connecting-ip": ip });
}

async function priced(body: Record<string, unknown>, ip?: string): Promise<Priced> {
  const res = await priceCart(body, ip);
  expect(res.status).toBe(200);
  return res.json<Priced>();
}

function admin(method: string, path: string, body?: unknown) {
  return SELF.fetch(`${BASE}/v1/admin${path}`, {
    method,
    headers: { ...SECRET, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function mint(body: Record<string, unknown>): Promise<string> {
  const res = await admin("POST", "/coupons", body);
  expect(res.status).toBe(201);
  const { coupons } = await res.json<{ coupons: { code: string }[] }>();
  return coupons[0]?.code ?? "";
}

/** A known shopper (identified browser) and their anonymous id. */
async function shopper() {
  const anonymousId = uid("anon");
  await send([{ type: "identify", anonymousId, traits: { email: `${anonymousId}@example.com` } }]);
  return anonymousId;
}

/** The store's server reports the order (or its cancellation, refund): that is what redeems and releases codes. */
async function order(anonymousId: string, orderId: string, coupon: string, event = "Order Completed") {
  await sendAsServer([
    {
      type: "track",
      anonymousId,
      event,
      properties: { order_id: orderId, total: 79, currency: "GBP", coupon, products: [{ ...E7247, price: 79 }] },
    },
  ]);
}

describe("POST /v1/cart/price", () => {
  it("should price the demo cart with the seeded promotions, labelled", async () => {
    const r = await priced({ lines: [H4100, H1050], shipping: 495 });
    expect(r.promotions).toEqual([
      expect.objectContaining({ label: "Buy any 2 headphones, get the cheapest free", discount: 2900 }),
      expect.objectContaining({ label: "Free delivery on orders of £100 or more", shippingDiscount: 495 }),
    ]);
    expect(r.lines.find((l) => l.productId === "H1050")).toMatchObject({ discount: 2900, total: 0 });
    expect(r.totals).toEqual({
      subtotal: 15800,
      discount: 2900,
      shipping: 495,
      shippingDiscount: 495,
      tax: 0,
      total: 12900,
    });
  });

  it("should apply a static code typed in any case and reject an unknown one with a reason", async () => {
    const r = await priced({ lines: [E7247], coupons: [" disc10 ", "NOPE-1234"] });
    expect(r.promotions).toEqual([expect.objectContaining({ id: "disc10", code: "DISC10", discount: 790 })]);
    expect(r.rejected).toEqual([
      { code: "NOPE-1234", reason: "unknown", message: "We don't recognise this code. Check it and try again." },
    ]);
    expect(r.totals.total).toBe(7110);
  });

  it("should refuse requests without a valid public key, and bad carts with a clear 400", async () => {
    const noKey = await post("/v1/cart/price", { lines: [E7247] });
    expect(noKey.status).toBe(401);
    const badPrice = await priceCart({ lines: [{ ...E7247, price: 79.0001 }] });
    expect(badPrice.status).toBe(400);
    expect(await badPrice.json()).toEqual({
      error: {
        code: "invalid_cart",
        message: "lines[0].price must be a whole number of minor units (pence), e.g. 7900.",
      },
    });
    const tooMany = await priceCart({ lines: [{ ...E7247, quantity: 5000 }] });
    expect(tooMany.status).toBe(400);
    const notJson = await post("/v1/cart/price", "{", {});
    expect(notJson.status).toBe(400);
  });

  it("should reject an expired code as expired", async () => {
    const code = await mint({
      promotionId: "exit-intent-10",
      expiresAt: new Date((await clock()) - 60_000).toISOString(),
    });
    const r = await priced({ lines: [E7247], coupons: [code] });
    expect(r.rejected).toEqual([{ code, reason: "expired", message: "This code has expired." }]);
    expect(r.totals.discount).toBe(0);
  });

  it("should reject the welcome code for a customer who has ordered before", async () => {
    const anonymousId = await shopper();
    const code = await mint({ promotionId: "welcome-10", maxUses: 5 });
    const first = await priced({ lines: [E7247], coupons: [code], anonymousId });
    expect(first.promotions.map((p) => p.id)).toEqual(["welcome-10"]);
    await order(anonymousId, uid("ord"), "");
    const again = await priced({ lines: [E7247], coupons: [code], anonymousId });
    expect(again.rejected).toEqual([
      { code, reason: "not_applicable", message: "This offer is for your first order only." },
    ]);
  });

  it("should keep a code bound to one visitor for that visitor", async () => {
    const owner = await shopper();
    const code = await mint({ promotionId: "exit-intent-10", anonymousId: owner });
    const stranger = await priced({ lines: [E7247], coupons: [code], anonymousId: uid("anon") });
    expect(stranger.rejected[0]).toMatchObject({ code, reason: "not_yours" });
    const mine = await priced({ lines: [E7247], coupons: [code], anonymousId: owner });
    expect(mine.promotions).toEqual([expect.objectContaining({ code, discount: 790 })]);
  });

  it("should let a contact's code work on a new device, but not for another known shopper", async () => {
    const ada = await shopper();
    const { results } = await env.DB.prepare(`SELECT contact_id FROM identities WHERE kind = 'anonymous' AND value = ?`)
      .bind(ada)
      .all<{ contact_id: string }>();
    const code = await mint({ promotionId: "exit-intent-10", contactId: results[0]?.contact_id });
    const newDevice = await priced({ lines: [E7247], coupons: [code], anonymousId: uid("anon") });
    expect(newDevice.promotions.map((p) => p.code)).toEqual([code]);
    // A new device that has browsed has an anonymous contact of its own: still not "someone else"
    // (the restore link in a reminder lands exactly there).
    const browsed = uid("anon");
    await send([{ type: "track", anonymousId: browsed, event: "Cart Viewed", properties: { products: [] } }]);
    const fromMail = await priced({ lines: [E7247], coupons: [code], anonymousId: browsed });
    expect(fromMail.promotions.map((p) => p.code)).toEqual([code]);
    const bob = await priced({ lines: [E7247], coupons: [code], anonymousId: await shopper() });
    expect(bob.rejected).toEqual([{ code, reason: "not_yours", message: "This code was issued to someone else." }]);
    const mine = await priced({ lines: [E7247], coupons: [code], anonymousId: ada });
    expect(mine.promotions.map((p) => p.code)).toEqual([code]);
  });

  it("should rate-limit code guessing per client, without blocking others", async () => {
    const ip = uid("ip");
    for (let i = 0; i < 2; i++) {
      const guesses = Array.from({ length: 5 }, (_, j) => `GUESS-${i}-${j}`);
      const r = await priced({ lines: [E7247], coupons: guesses }, ip);
      expect(r.rejected.map((x) => x.reason)).toEqual(Array(5).fill("unknown"));
    }
    // Ten wrong codes later even a valid code is refused from that address…
    const limited = await priced({ lines: [E7247], coupons: ["DISC10"] }, ip);
    expect(limited.rejected).toEqual([expect.objectContaining({ code: "DISC10", reason: "too_many_attempts" })]);
    expect(limited.totals.discount).toBe(0);
    // …while another shopper is unaffected.
    const other = await priced({ lines: [E7247], coupons: ["DISC10"] });
    expect(other.totals.discount).toBe(790);
    // Once the window has passed, the address may try again.
    await advance(11 * 60_000);
    const later = await priced({ lines: [E7247], coupons: ["DISC10"] }, ip);
    expect(later.totals.discount).toBe(790);
  });
});

describe("coupon redemption on orders", () => {
  it("should redeem a single-use code once per order id and release it on cancellation", async () => {
    const anonymousId = await shopper();
    const code = await mint({ promotionId: "exit-intent-10", anonymousId });
    const orderId = uid("ord");
    await order(anonymousId, orderId, code);
    // Sent again (a retry with a new messageId): still one use.
    await order(anonymousId, orderId, code);
    const used = await (await admin("GET", `/coupons/${code}`)).json<{ coupon: { uses: number } }>();
    expect(used.coupon.uses).toBe(1);
    const after = await priced({ lines: [E7247], coupons: [code], anonymousId });
    expect(after.rejected).toEqual([{ code, reason: "used", message: "This code has already been used." }]);

    await order(anonymousId, orderId, code, "Order Cancelled");
    const released = await (await admin("GET", `/coupons/${code}`)).json<{ coupon: { uses: number } }>();
    expect(released.coupon.uses).toBe(0);
    const again = await priced({ lines: [E7247], coupons: [code], anonymousId });
    expect(again.promotions).toEqual([expect.objectContaining({ code, discount: 790 })]);
  });

  it("should release a code when its order is refunded", async () => {
    const anonymousId = await shopper();
    const code = await mint({ promotionId: "exit-intent-10" });
    const orderId = uid("ord");
    await order(anonymousId, orderId, code);
    expect((await priced({ lines: [E7247], coupons: [code], anonymousId })).rejected[0]?.reason).toBe("used");
    await order(anonymousId, orderId, code, "Order Refunded");
    expect((await priced({ lines: [E7247], coupons: [code], anonymousId })).promotions[0]?.code).toBe(code);
  });

  it("should limit a shared code per contact", async () => {
    const code = `ONCE${Date.now().toString(36).toUpperCase()}`;
    const res = await admin("POST", "/coupons", { promotionId: "exit-intent-10", code, maxUsesPerContact: 1 });
    expect(res.status).toBe(201);
    const ada = await shopper();
    await order(ada, uid("ord"), code);
    const adaAgain = await priced({ lines: [E7247], coupons: [code.toLowerCase()], anonymousId: ada });
    expect(adaAgain.rejected).toEqual([{ code, reason: "used", message: "You have already used this code." }]);
    const bob = await priced({ lines: [E7247], coupons: [code], anonymousId: await shopper() });
    expect(bob.promotions.map((p) => p.code)).toEqual([code]);
  });
});

describe("admin: promotions and coupons", () => {
  it("should list the demo promotions the other features rely on", async () => {
    const res = await admin("GET", "/promotions");
    const { promotions } = await res.json<{ promotions: { id: string; couponRequired: boolean }[] }>();
    expect(promotions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: "exit-intent-10", couponRequired: true }),
        expect.objectContaining({ id: "welcome-10", couponRequired: true }),
      ]),
    );
  });

  it("should create, read, replace and delete a promotion, refusing bad definitions with a reason", async () => {
    const id = uid("promo");
    const bad = await admin("POST", "/promotions", { id, action: { type: "percent_off_order", percent: 120 } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: {
        code: "invalid_promotion",
        message: "promotion.action.percent must be a number above 0 and at most 100, with at most two decimals.",
        field: "promotion.action.percent",
      },
    });
    const unknownType = await admin("POST", "/promotions", { id, action: { type: "half_price_tuesdays" } });
    expect(((await unknownType.json()) as { error: { message: string } }).error.message).toContain("percent_off_order");

    const definition = {
      id,
      label: "£5 off cables",
      couponRequired: true,
      action: { type: "fixed_off_products", amount: 500, target: { products: ["A1010"] } },
    };
    expect((await admin("POST", "/promotions", definition)).status).toBe(201);
    expect((await admin("POST", "/promotions", definition)).status).toBe(409);
    const code = await mint({ promotionId: id, maxUses: 10 });
    const cable = { product_id: "A1010", price: 1200, quantity: 2, categories: ["Accessories"] };
    expect((await priced({ lines: [cable], coupons: [code] })).totals.discount).toBe(1000);

    const put = await admin("PUT", `/promotions/${id}`, {
      ...definition,
      action: { ...definition.action, amount: 200 },
    });
    expect(put.status).toBe(200);
    expect((await priced({ lines: [cable], coupons: [code] })).totals.discount).toBe(400);

    expect((await admin("DELETE", `/promotions/${id}`)).status).toBe(204);
    expect((await admin("GET", `/promotions/${id}`)).status).toBe(404);
    // Its codes went with it: the shopper is told the code is not recognised, not that it does not apply.
    const gone = await priced({ lines: [cable], coupons: [code] });
    expect(gone.rejected[0]).toMatchObject({ code, reason: "unknown" });
  });

  it.each([
    [
      "a misspelt field (conditions)",
      { condtions: { minSubtotal: 5000 } },
      "unknown_field",
      "promotion.condtions is not a known field.",
    ],
    [
      "a singular target.product, which would discount every line",
      { action: { type: "percent_off_products", percent: 10, target: { product: ["E7247"] } } },
      "unknown_field",
      "promotion.action.target.product is not a known field.",
    ],
    [
      "a window that starts after it ends",
      { conditions: { startsAt: "2027-02-01T00:00:00Z", endsAt: "2027-01-01T00:00:00Z" } },
      "invalid_promotion",
      "promotion.conditions.startsAt must be before conditions.endsAt.",
    ],
  ])("should refuse %s with a 400 naming the field", async (_, fields, code, message) => {
    const id = uid("strict");
    const res = await admin("POST", "/promotions", {
      id,
      action: { type: "percent_off_order", percent: 10 },
      ...fields,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code,
      message,
    });
    expect((await admin("GET", `/promotions/${id}`)).status).toBe(404);
  });

  it("should keep a switched-off promotion off when it is edited without saying active", async () => {
    const id = uid("off");
    const definition = { id, couponRequired: true, action: { type: "fixed_off_order", amount: 300 } };
    expect((await admin("POST", "/promotions", { ...definition, active: false })).status).toBe(201);
    const code = await mint({ promotionId: id, maxUses: 10 });
    const put = await admin("PUT", `/promotions/${id}`, { ...definition, label: "£3 off" });
    expect(await put.json()).toMatchObject({ promotion: { id, label: "£3 off", active: false } });
    const cable = { product_id: "A1010", price: 1200, quantity: 1, categories: ["Accessories"] };
    expect((await priced({ lines: [cable], coupons: [code] })).totals.discount).toBe(0);
    // Saying it switches it on.
    await admin("PUT", `/promotions/${id}`, { ...definition, active: true });
    expect((await priced({ lines: [cable], coupons: [code] })).totals.discount).toBe(300);
  });

  it("should remove a deleted promotion's codes, so they are neither listed nor accepted", async () => {
    const id = uid("gone");
    const definition = { id, couponRequired: true, action: { type: "fixed_off_order", amount: 300 } };
    expect((await admin("POST", "/promotions", definition)).status).toBe(201);
    const code = await mint({ promotionId: id, maxUses: 10 });
    const listed = async () =>
      ((await (await admin("GET", `/coupons?promotionId=${id}`)).json()) as { coupons: { code: string }[] }).coupons;
    expect(await listed()).toEqual([expect.objectContaining({ code, promotionId: id })]);
    expect((await admin("DELETE", `/promotions/${id}`)).status).toBe(204);
    expect(await listed()).toEqual([]);
    expect((await admin("GET", `/coupons/${code}`)).status).toBe(404);
    // A promotion created again under the same id does not bring the old code back to life.
    expect((await admin("POST", "/promotions", definition)).status).toBe(201);
    const cable = { product_id: "A1010", price: 1200, quantity: 1, categories: ["Accessories"] };
    expect((await priced({ lines: [cable], coupons: [code] })).totals.discount).toBe(0);
  });

  it("should mint unguessable unique codes and manage static ones", async () => {
    const res = await admin("POST", "/coupons", { promotionId: "exit-intent-10", count: 3 });
    const { coupons } = await res.json<{ coupons: { code: string; maxUses: number }[] }>();
    expect(coupons).toHaveLength(3);
    for (const c of coupons) {
      expect(c.code).toMatch(/^[2-9A-HJKMNP-Z]{4}(-[2-9A-HJKMNP-Z]{4}){3}$/);
      expect(c.maxUses).toBe(1);
    }
    expect(new Set(coupons.map((c) => c.code)).size).toBe(3);

    const code = `STATIC${Date.now().toString(36).toUpperCase()}`;
    expect((await admin("POST", "/coupons", { promotionId: "exit-intent-10", code })).status).toBe(201);
    expect((await admin("POST", "/coupons", { promotionId: "exit-intent-10", code })).status).toBe(409);
    expect((await admin("POST", "/coupons", { promotionId: "nope", code: "X1234" })).status).toBe(400);
    expect((await admin("DELETE", `/coupons/${code}`)).status).toBe(204);
    expect((await admin("GET", `/coupons/${code}`)).status).toBe(404);
    const noKey = await SELF.fetch(`${BASE}/v1/admin/coupons`);
    expect(noKey.status).toBe(401);
  });
});

describe("demo reset", () => {
  it("should bring the demo promotions and DISC10 back after a reset", async () => {
    expect((await post("/v1/dev/reset", {}, SECRET)).status).toBe(200);
    const r = await priced({ lines: [E7247, H4100, H1050], shipping: 495, coupons: ["DISC10"] });
    expect(r.promotions.map((p) => p.id)).toEqual(["headphones-2-cheapest-free", "disc10", "free-delivery-100"]);
  });
});

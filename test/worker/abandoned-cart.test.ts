import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  advance,
  clock,
  mailbox,
  post,
  product,
  putCampaign,
  SECRET,
  send,
  shopperWithCart,
  tick,
  uid,
  unwrap,
} from "./helpers";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe("abandoned cart", () => {
  it("should email an identified shopper their cart, then once more a day later, then stop", async () => {
    const email = `${uid("ada")}@example.com`;
    await shopperWithCart(email, [product("E7247", 79, 2), product("H100", 25.5)]);

    expect(await mailbox(email)).toHaveLength(0);
    await advance(DAY);
    const [mail, ...rest] = await mailbox(email);
    expect(rest).toHaveLength(0);
    expect(mail?.campaign).toBe("abandoned_cart");
    expect(mail?.subject).toBe("You left 2 items in your cart");
    expect(mail?.html).toContain("Product E7247 × 2");
    expect(mail?.html).toContain("£158.00");
    expect(mail?.text).toContain("Total: £183.50");
    // The button goes through click tracking to the signed restore link.
    const cta = mail?.text.match(/Return to your cart: (\S+)/)?.[1] ?? "";
    expect(cta).toMatch(/^http:\/\/127\.0\.0\.1:8787\/v1\/links\/click\?t=/);
    expect(await unwrap(cta)).toMatch(/^http:\/\/127\.0\.0\.1:8787\/v1\/links\/restore\?t=/);

    // The second reminder is due a day after the first was sent.
    await advance(DAY - HOUR);
    expect(await mailbox(email)).toHaveLength(1);
    await advance(2 * HOUR);
    const [second] = await mailbox(email);
    expect(second?.subject).toBe("Still thinking it over? Your cart is saved");

    await advance(30 * DAY);
    expect(await mailbox(email)).toHaveLength(2);
  });

  it("should cancel the second reminder when the shopper orders after the first", async () => {
    const email = `${uid("fi")}@example.com`;
    const anonymousId = await shopperWithCart(email);
    await advance(2 * HOUR);
    expect(await mailbox(email)).toHaveLength(1);
    await send([
      { type: "track", anonymousId, event: "Order Completed", properties: { order_id: uid("o"), total: 79 } },
    ]);
    await advance(7 * DAY);
    expect(await mailbox(email, "abandoned_cart")).toHaveLength(1);
  });

  it("should not remind a shopper who ordered", async () => {
    const email = `${uid("bo")}@example.com`;
    const anonymousId = await shopperWithCart(email);
    await send([
      { type: "track", anonymousId, event: "Order Completed", properties: { order_id: uid("o"), total: 79 } },
    ]);

    await advance(DAY);
    expect(await mailbox(email, "abandoned_cart")).toHaveLength(0);
    const row = await env.DB.prepare(
      `SELECT m.status, m.reason FROM messages m JOIN identities i ON i.contact_id = m.contact_id
       WHERE i.kind = 'email' AND i.value = ? AND m.campaign = 'abandoned_cart'`,
    )
      .bind(email)
      .first();
    expect(row).toEqual({ status: "cancelled", reason: "ordered" });
  });

  it("should keep a campaign named abandoned_cart going after an order when the merchant set exit.ordered to false", async () => {
    // An order used to cancel every pending message of the campaign with this id, whatever its
    // definition said; now only the definition's own exit decides.
    await putCampaign("abandoned_cart", {
      trigger: { type: "event", events: ["Quote Requested"] },
      steps: [{ delay: "1h", template: "welcome" }],
      exit: { ordered: false },
    });
    try {
      const email = `${uid("eo")}@example.com`;
      const anonymousId = uid("anon");
      await send([
        { type: "identify", anonymousId, traits: { email } },
        { type: "track", anonymousId, event: "Quote Requested", properties: {} },
      ]);
      await send([
        { type: "track", anonymousId, event: "Order Completed", properties: { order_id: uid("o"), total: 79 } },
      ]);
      await advance(2 * HOUR);
      expect(await mailbox(email, "abandoned_cart")).toHaveLength(1);
    } finally {
      const restored = await post("/v1/admin/campaigns/templates/abandoned_cart/enable", {}, SECRET);
      expect(restored.status).toBe(201);
    }
  });

  it("should remind again when the shopper empties the cart and later fills it again", async () => {
    const email = `${uid("em")}@example.com`;
    const anonymousId = await shopperWithCart(email);
    await send([{ type: "track", anonymousId, event: "Product Removed", properties: { product_id: "E7247" } }]);
    await advance(2 * HOUR);
    expect(await mailbox(email)).toHaveLength(0);

    await send([{ type: "track", anonymousId, event: "Product Added", properties: product("H100") }]);
    await advance(2 * HOUR);
    const mails = await mailbox(email, "abandoned_cart");
    expect(mails.map((m) => m.step)).toEqual([1]);
    expect(mails[0]?.html).toContain("Product H100");
  });

  it("should restart the timer when the shopper comes back to the cart", async () => {
    const email = `${uid("cy")}@example.com`;
    const anonymousId = await shopperWithCart(email);
    await advance(50 * 60_000);
    await send([{ type: "track", anonymousId, event: "Product Added", properties: product("C3") }]);
    await advance(20 * 60_000); // 70 min after the first add, 20 after the second
    expect(await mailbox(email)).toHaveLength(0);
    await advance(HOUR);
    const mails = await mailbox(email);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.html).toContain("Product C3");
    expect(mails[0]?.subject).toBe("You left 2 items in your cart");
  });

  it("should wait the full delay again when the shopper comes back without changing the cart", async () => {
    const email = `${uid("back")}@example.com`;
    const anonymousId = await shopperWithCart(email);
    await advance(2 * HOUR);
    expect(await mailbox(email, "abandoned_cart")).toHaveLength(1);
    // 23 hours later they look around the store again: the second reminder moves to a day after that.
    await advance(23 * HOUR);
    await send([{ type: "page", anonymousId, properties: { path: "/" } }]);
    await advance(2 * HOUR);
    expect(await mailbox(email, "abandoned_cart")).toHaveLength(1);
    await advance(DAY);
    expect(await mailbox(email, "abandoned_cart")).toHaveLength(2);
  });

  it("should not remind about a cart the shopper emptied", async () => {
    const email = `${uid("di")}@example.com`;
    const anonymousId = await shopperWithCart(email);
    await send([{ type: "track", anonymousId, event: "Product Removed", properties: { product_id: "E7247" } }]);
    await advance(DAY);
    expect(await mailbox(email)).toHaveLength(0);
  });

  it("should not email anonymous shoppers, and should once they sign in", async () => {
    const anonymousId = uid("anon");
    const email = `${uid("ev")}@example.com`;
    await send([{ type: "track", anonymousId, event: "Product Added", properties: product("E7247") }]);
    await advance(DAY);
    expect(await mailbox(email)).toHaveLength(0);

    // Signing in later attaches the anonymous cart to the known contact.
    await send([{ type: "identify", anonymousId, traits: { email } }]);
    await advance(2 * HOUR);
    expect(await mailbox(email)).toHaveLength(1);
  });

  it("should send each due message once when two sweeps overlap", async () => {
    const emails = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const email = `${uid("ov")}@example.com`;
        await shopperWithCart(email);
        return email;
      }),
    );
    const at = (await clock()) + 2 * HOUR;
    const runs = await Promise.all([tick(at), tick(at), tick(at)]);
    expect(runs.reduce((n, r) => n + r.sent, 0)).toBeGreaterThanOrEqual(5);
    for (const email of emails) expect(await mailbox(email)).toHaveLength(1);
  });
});

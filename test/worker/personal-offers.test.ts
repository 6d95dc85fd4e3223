import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { advance, advanceToLocal, BASE, listProduct, mailbox, post, SECRET, send, sendAsServer, uid } from "./helpers";

/**
 * Issue 18, personal offers on real D1: codes bound to the product a mail is about, priced on that
 * product only wherever the code is typed; the loyalty mail's top product and size showcase; and
 * cross-sell picks that say how they were picked.
 */

const DAY = 24 * 3600_000;

interface Priced {
  lines: { productId: string; discount: number }[];
  promotions: { id: string; label: string; code?: string; discount: number }[];
  rejected: { code: string; reason: string; message: string }[];
  totals: { discount: number; total: number };
}

const price = async (lines: unknown[], coupons: string[], anonymousId: string) => {
  const res = await post("/v1/cart/price", { writeKey: "pk_demo", lines, coupons, anonymousId });
  expect(res.status).toBe(200);
  return res.json<Priced>();
};
const codeIn = (text = "") => text.match(/Your code: (\S+)/)?.[1] ?? "";
const order = (anonymousId: string, products: { product_id: string; quantity: number; price: number }[]) => ({
  type: "track",
  anonymousId,
  event: "Order Completed",
  properties: { order_id: uid("o"), total: products.reduce((s, p) => s + p.price * p.quantity, 0), products },
});

describe("personal offers", () => {
  it("should bind a browse-abandonment code to the viewed product: it discounts only that product, and a cart without it is refused", async () => {
    await advanceToLocal(10);
    const speaker = uid("TRAIL");
    await listProduct(speaker, "Trail speaker", 8000, "Speakers");
    const email = `${uid("browse")}@example.com`;
    const anonymousId = uid("anon");
    await send([
      { type: "identify", anonymousId, traits: { email } },
      {
        type: "track",
        anonymousId,
        event: "Product Viewed",
        properties: { product_id: speaker, name: "Trail speaker", price: 80, category: "Speakers" },
      },
    ]);
    await advance(DAY);
    const [mail] = await mailbox(email, "browse_abandonment");
    expect(mail?.text).toContain("Valid on Trail speaker only.");
    const code = codeIn(mail?.text);
    const row = await env.DB.prepare(`SELECT promotion_id, product_id, category FROM coupons WHERE code = ?`)
      .bind(code)
      .first();
    expect(row).toEqual({ promotion_id: "browse-10", product_id: speaker, category: null });

    // In a cart with the speaker and a cable: 10% off the speaker (£8.00), nothing off the cable.
    const cable = { product_id: "A1010", price: 1200, quantity: 1, categories: ["Accessories"] };
    const both = await price([{ product_id: speaker, price: 8000, quantity: 1 }, cable], [code], anonymousId);
    expect(both.totals.discount).toBe(800);
    expect(both.lines.map((l) => [l.productId, l.discount])).toEqual([
      ["A1010", 0],
      [speaker, 800],
    ]);
    expect(both.promotions).toEqual([expect.objectContaining({ code, label: "10% off (Trail speaker only)" })]);
    // Without the speaker, the code gives nothing and says what it is for.
    const without = await price([cable], [code], anonymousId);
    expect(without.totals.discount).toBe(0);
    expect(without.rejected).toEqual([
      { code, reason: "not_applicable", message: "This code is for Trail speaker only." },
    ]);
  });

  it("should thank a loyal customer with a code for the best-seller and a showcase of products in their size", async () => {
    const top = uid("TOP");
    const [tee, hoodie, socks, mug] = [uid("TEE"), uid("HOOD"), uid("SOCK"), uid("MUG")];
    await listProduct(top, "Tour poster", 2500, "Gifts");
    await listProduct(tee, "Tour T-shirt", 2000, "Apparel", { sizes: ["S", "M", "L"] });
    await listProduct(hoodie, "Logo hoodie", 4500, "Apparel", { sizes: ["m", "L"] });
    await listProduct(socks, "Crew socks", 900, "Apparel", { sizes: ["S"] });
    await listProduct(mug, "Studio mug", 1200, "Gifts");
    // Other customers made the poster the best-seller by far (units in placed orders).
    await sendAsServer([order(uid("anon"), [{ product_id: top, quantity: 900, price: 25 }])]);

    const email = `${uid("vip")}@example.com`;
    const anonymousId = uid("anon");
    // The size is the shopper's own trait, set by identify like any other.
    await send([{ type: "identify", anonymousId, traits: { email, size: "M" } }]);
    await sendAsServer([order(anonymousId, [{ product_id: uid("GIFT"), quantity: 1, price: 600 }])]);
    await advance(60_000);

    const [mail] = await mailbox(email, "loyalty");
    expect(mail?.subject).toBe("A personal thank-you from Wavelength");
    expect(mail?.text).toContain("Our best-seller of the last 90 days:\n- Tour poster: £25.00");
    expect(mail?.text).toContain("Valid on Tour poster only.");
    // The showcase: the merchant's products in size M (any case), best-selling first; not the
    // socks (S only), not the unsized mug, not the top product again.
    const showcase = mail?.text.split("In your size (M):\n")[1]?.split("\n\n")[0];
    expect(showcase).toBe("- Logo hoodie: £45.00\n- Tour T-shirt: £20.00");
    expect(mail?.html).toContain("In your size (M):");
    const bound = await env.DB.prepare(`SELECT promotion_id, product_id FROM coupons WHERE code = ?`)
      .bind(codeIn(mail?.text))
      .first();
    expect(bound).toEqual({ promotion_id: "loyalty-15", product_id: top });

    // A "size" that is no size label (a browser sets its own traits) shows no showcase at all.
    const other = `${uid("vip")}@example.com`;
    const otherId = uid("anon");
    await send([{ type: "identify", anonymousId: otherId, traits: { email: other, size: "M: pay at https://x" } }]);
    await sendAsServer([order(otherId, [{ product_id: uid("GIFT"), quantity: 1, price: 600 }])]);
    await advance(60_000);
    const [plain] = await mailbox(other, "loyalty");
    expect(plain?.text).toContain("Valid on Tour poster only.");
    expect(plain?.text).not.toContain("In your size");
    expect(plain?.text).not.toContain("pay at");
  });

  it("should recommend what other customers bought together and say so, else the same category and say that", async () => {
    const [lamp, bulb, shade] = [uid("LAMP"), uid("BULB"), uid("SHADE")];
    await listProduct(lamp, "Desk lamp", 3000, "Lighting");
    await listProduct(bulb, "Warm bulb", 500, "Bulbs");
    await listProduct(shade, "Linen shade", 1500, "Lighting");
    // Another customer bought the lamp with a bulb.
    const other = uid("anon");
    const together = order(other, [
      { product_id: lamp, quantity: 1, price: 30 },
      { product_id: bulb, quantity: 2, price: 5 },
    ]);
    await sendAsServer([together]);
    const buyer = async (productId: string) => {
      const email = `${uid("buyer")}@example.com`;
      const anonymousId = uid("anon");
      await send([{ type: "identify", anonymousId, traits: { email } }]);
      await sendAsServer([order(anonymousId, [{ product_id: productId, quantity: 1, price: 30 }])]);
      await advance(60_000);
      return (await mailbox(email, "cross_sell"))[0]?.text ?? "";
    };
    // The lamp: bought together with the bulb, though the shade shares its category.
    const lampMail = await buyer(lamp);
    expect(lampMail).toContain("Customers who bought the same also bought:\n- Warm bulb: £5.00\n");
    expect(lampMail).not.toContain("Linen shade");
    // The shade: nobody bought it with anything, so the mail says the pick is its category.
    const shadeMail = await buyer(shade);
    expect(shadeMail).toContain("More from the same category:\n- Desk lamp: £30.00\n");
    expect(shadeMail).not.toContain("also bought");
    // Once that order is cancelled, nobody bought the lamp with anything: back to the category.
    await sendAsServer([
      { type: "track", anonymousId: other, event: "Order Cancelled", properties: together.properties },
    ]);
    expect(await buyer(lamp)).toContain("More from the same category:\n- Linen shade: £15.00\n");
  });

  it("should let the merchant mint codes bound to a category, priced on that category only, and refuse binding both", async () => {
    const res = await post("/v1/admin/coupons", { promotionId: "loyalty-15", category: "Headphones" }, SECRET);
    expect(res.status).toBe(201);
    const [coupon] = (await res.json<{ coupons: { code: string; category: string; productId: null }[] }>()).coupons;
    expect(coupon).toMatchObject({ category: "Headphones", productId: null });
    const phones = { product_id: "H4100", price: 12900, quantity: 1, categories: ["Headphones"] };
    const speaker = { product_id: "E3110", price: 3400, quantity: 1, categories: ["Speakers"] };
    const r = await price([phones, speaker], [coupon?.code ?? ""], uid("anon"));
    expect(r.totals.discount).toBe(1935); // 15% of £129.00; the £34.00 speaker untouched
    expect(r.promotions).toEqual([expect.objectContaining({ label: "Thank you: 15% off (Headphones products only)" })]);

    const both = await post("/v1/admin/coupons", { promotionId: "loyalty-15", category: "X", productId: "Y" }, SECRET);
    expect(both.status).toBe(400);
    expect(await both.text()).toContain("one product or one category");
  });

  it("should keep the sizes a merchant lists on the catalogue row, and refuse sizes that are not a list", async () => {
    const id = uid("SIZED");
    await listProduct(id, "Sized tee", 2000, "Apparel", { sizes: ["S", " M "] });
    const res = await SELF.fetch(`${BASE}/v1/admin/products/${id}`, { headers: SECRET });
    expect(await res.json()).toMatchObject({ product: { id, sizes: ["S", "M"] } });
    const bad = await SELF.fetch(`${BASE}/v1/admin/products/${id}`, {
      method: "PUT",
      headers: { ...SECRET, "content-type": "application/json" },
      body: JSON.stringify({ name: "Sized tee", price: 2000, sizes: "M" }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("sizes");
  });
});

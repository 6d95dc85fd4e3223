import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { linkUrl } from "../../worker/src/lib/links";
import { advance, advanceToLocal, BASE, mailbox, post, SECRET, send, uid, unwrap } from "./helpers";

/**
 * Issue 13, item 6: catalogue poisoning. The catalogue is the merchant's: their server (secret key)
 * and PUT /v1/admin/products/:id write it; a browser's product events only add unknown products
 * and fill empty fields, with url and image on the store's own hosts, in the order they arrive.
 */

const DAY = 86_400_000;
const HOUR = 3_600_000;
const EVIL = "https://evil.test";

const row = (id: string) =>
  env.DB.prepare(`SELECT name, price, url, image_url, merchant FROM products WHERE site_id = 'demo' AND product_id = ?`)
    .bind(id)
    .first<{ name: string; price: number; url: string | null; image_url: string | null; merchant: number }>();

/** A Product Viewed as the attacker sent it: a fake name, another host's url and image, dated 23 h ahead. */
const poisoned = (id: string) => ({
  type: "track",
  anonymousId: uid("attacker"),
  event: "Product Viewed",
  timestamp: new Date(Date.now() + 23 * HOUR).toISOString(),
  properties: {
    product_id: id,
    name: "FREE iPhone - claim now",
    price: 1,
    url: `${EVIL}/claim`,
    image_url: `${EVIL}/phish.png`,
  },
});

/** The store's own view of the product, as its pages send it (public key, the store's host). */
const storeView = (id: string, anonymousId = uid("anon")) => ({
  type: "track",
  anonymousId,
  event: "Product Viewed",
  properties: {
    product_id: id,
    name: `Wavelength ${id}`,
    price: 79,
    url: `${BASE}/product?id=${id}`,
    image_url: `${BASE}/img/${id}.svg`,
  },
});

/** The merchant's server says what the product is (secret key). */
async function serverView(id: string) {
  const res = await post("/v1/batch", { batch: [{ ...storeView(id), messageId: uid("m") }] }, SECRET);
  expect(res.status).toBe(200);
}

/** A shopper who looks at `id` and leaves: the browse-abandonment mail goes the next day. */
async function browseMail(id: string) {
  await advanceToLocal(10);
  const email = `${uid("browser")}@example.com`;
  const anonymousId = uid("anon");
  await send([{ type: "identify", anonymousId, traits: { email } }, { ...storeView(id, anonymousId) }]);
  await advance(DAY + HOUR);
  const [mail] = await mailbox(email, "browse_abandonment");
  if (!mail) throw new Error("no browse-abandonment mail");
  return mail;
}

describe("catalogue poisoning (issue 13, item 6)", () => {
  it("should keep a known product's name, url and image against a poisoned view dated 23 h ahead", async () => {
    const id = uid("SPK").toUpperCase();
    await send([storeView(id)]);
    await send([poisoned(id)]);
    expect(await row(id)).toEqual({
      name: `Wavelength ${id}`,
      price: 7900,
      url: `${BASE}/product?id=${id}`,
      image_url: `${BASE}/img/${id}.svg`,
      merchant: 0,
    });
    const mail = await browseMail(id);
    expect(mail.subject).toBe(`Still interested in Wavelength ${id}?`);
    expect(mail.html).toContain(`src="${BASE}/img/${id}.svg"`);
    expect(mail.html).not.toContain("evil.test");
    expect(await unwrap(mail.text.match(/Take another look: (\S+)/)?.[1] ?? "")).toBe(`${BASE}/product?id=${id}`);
  });

  it("should let the store's later view fix a product the attacker named first, whatever its timestamp", async () => {
    const id = uid("HP").toUpperCase();
    await send([poisoned(id)]);
    // First to name it, the attacker's name stands for now — but no foreign url or image got in.
    expect(await row(id)).toMatchObject({ name: "FREE iPhone - claim now", url: null, image_url: null, merchant: 0 });
    await serverView(id); // later by the server's clock, earlier by the attacker's
    expect(await row(id)).toMatchObject({ name: `Wavelength ${id}`, price: 7900, merchant: 1 });
    await send([poisoned(id)]); // and it cannot take it back
    const mail = await browseMail(id);
    expect(mail.subject).toBe(`Still interested in Wavelength ${id}?`);
    expect(mail.html).toContain(`src="${BASE}/img/${id}.svg"`);
    expect(mail.text).not.toContain("FREE iPhone");
    expect(new URL(await unwrap(mail.text.match(/Take another look: (\S+)/)?.[1] ?? "")).origin).toBe(BASE);
  });

  it("should not show or link a foreign image or url a row learned before these rules", async () => {
    const id = uid("OLD").toUpperCase();
    await env.DB.prepare(
      `INSERT INTO products (site_id, product_id, name, price, currency, url, image_url, updated_at)
       VALUES ('demo', ?, 'Old speaker', 5000, 'GBP', ?, ?, ?)`,
    )
      .bind(id, `${EVIL}/claim`, `${EVIL}/phish.png`, Date.now() + 23 * HOUR)
      .run();
    const mail = await browseMail(id);
    expect(mail.html).not.toContain("evil.test");
    expect(new URL(await unwrap(mail.text.match(/Take another look: (\S+)/)?.[1] ?? "")).href).toBe(`${BASE}/`);
    // A browser may fill what is empty, on the store's host only.
    await send([storeView(id)]);
    expect(await row(id)).toMatchObject({ name: "Old speaker", url: `${EVIL}/claim` });
  });

  it("should take the merchant's catalogue from the admin API, off-site links included", async () => {
    const id = uid("ADM").toUpperCase();
    const put = (body: unknown) =>
      SELF.fetch(`${BASE}/v1/admin/products/${id}`, {
        method: "PUT",
        headers: { ...SECRET, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await put({ name: "Bad", price: 12.5 })).status).toBe(400);
    expect((await put({ name: "Bad", price: 100, url: "javascript:alert(1)" })).status).toBe(400);
    const res = await put({
      name: "Partner speaker",
      price: 12900,
      url: "https://partner.example/speaker",
      imageUrl: "https://cdn.partner.example/speaker.png",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ product: { id, name: "Partner speaker", price: 12900, merchant: 1 } });
    await send([poisoned(id)]);
    expect(await row(id)).toMatchObject({ name: "Partner speaker", url: "https://partner.example/speaker" });
    const mail = await browseMail(id);
    expect(mail.html).toContain("https://cdn.partner.example/speaker.png");
    // The merchant wrote this link: it may leave the store.
    expect(await unwrap(mail.text.match(/Take another look: (\S+)/)?.[1] ?? "")).toBe(
      "https://partner.example/speaker",
    );
  });

  it("should not redirect a signed click link off the store unless the merchant wrote it", async () => {
    const at = Date.now();
    const offSite = await linkUrl(env, BASE, "click", "demo", "nobody", at, { m: 1, u: `${EVIL}/claim` });
    expect(await unwrap(offSite)).toBe(BASE);
    const onSite = await linkUrl(env, BASE, "click", "demo", "nobody", at, { m: 1, u: `${BASE}/cart` });
    expect(await unwrap(onSite)).toBe(`${BASE}/cart`);
    const merchant = await linkUrl(env, BASE, "click", "demo", "nobody", at, {
      m: 1,
      u: "https://partner.example/x",
      x: 1,
    });
    expect(await unwrap(merchant)).toBe("https://partner.example/x");
  });
});

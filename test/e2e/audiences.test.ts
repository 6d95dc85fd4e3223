import { describe, expect, it } from "vitest";
import { baseUrl, flush, signIn, useBrowser, watchErrors } from "./browser";

const browser = useBrowser();
const SECRET = { authorization: "Bearer sk_demo", "content-type": "application/json" };

/** The audience file an ad platform's scheduled pull would fetch: no key, just the pull URL. */
async function pulled(url: string, format = "csv"): Promise<string[]> {
  const res = await fetch(`${url}?format=${format}`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
  return (await res.text()).trimEnd().split("\n").slice(1);
}

describe("audiences, end to end", () => {
  it("should list a shopper who left a cart in the demo store, and drop her from the pulled file once she orders", async () => {
    // The merchant names a segment — open carts, narrowed to this run's shoppers — and makes a pull URL.
    const tag = `aud${Date.now().toString(36)}`;
    const [ada, ben] = [`ada.${tag}@example.com`, `ben.${tag}@example.com`];
    const id = `open-carts-${tag}`;
    const rule = { all: [{ open_cart: true }, { attr: "email", op: "contains", value: tag }] };
    const saved = await fetch(`${baseUrl()}/v1/admin/segments/${id}`, {
      method: "PUT",
      headers: SECRET,
      body: JSON.stringify({ name: "Open carts", rule }),
    });
    expect(saved.status).toBe(200);
    const feed = await fetch(`${baseUrl()}/v1/admin/segments/${id}/feed`, { method: "POST", headers: SECRET });
    expect(feed.status).toBe(201);
    const { url } = (await feed.json()) as { url: string };

    // Ada and Ben each sign in and leave the E7247 speaker in their cart.
    const shops = await Promise.all(
      [ada, ben].map(async (email) => {
        const context = await browser().newContext();
        const page = await context.newPage();
        const errors = watchErrors(page);
        await signIn(page, email, email.split(".")[0]);
        await page.goto(`${baseUrl()}/product?id=E7247`);
        await page.click("#add-to-cart");
        await expect.poll(() => page.textContent("#cart-count")).toBe("1");
        await flush(page);
        return { context, page, errors };
      }),
    );
    await expect.poll(async () => (await pulled(url)).map((l) => l.split(",")[0]).sort()).toEqual([ada, ben]);

    // Ada orders through the store's checkout.
    const shop = shops[0];
    if (!shop) throw new Error("no shop");
    await shop.page.goto(`${baseUrl()}/cart`);
    await shop.page.click("#checkout");
    await shop.page.fill("#checkout-form input[name=email]", ada);
    await shop.page.click("#place-order");
    await expect.poll(() => shop.page.isVisible("#order-confirmation")).toBe(true);
    await flush(shop.page);

    // The next pull has only Ben, in every format: the CSV, and Google's hashed customer list.
    await expect.poll(async () => (await pulled(url)).map((l) => l.split(",")[0])).toEqual([ben]);
    const hashed = await pulled(url, "google");
    expect(hashed).toHaveLength(1);
    expect(hashed.join("\n")).not.toContain("@");
    for (const s of shops) {
      expect(s.errors).toEqual([]);
      await s.context.close();
    }
  });
});

import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/src/index";
import { advance, BASE, mailbox, post, SECRET, shopperWithCart, uid, unwrap } from "./helpers";
import { env } from "cloudflare:workers";

const DAY = 24 * 3600_000;
const linkIn = (text: string, name: string) => text.match(new RegExp(`${name}: (\\S+)`))?.[1] ?? "";

async function reminded() {
  const email = `${uid("l")}@example.com`;
  await shopperWithCart(email);
  await advance(DAY);
  const [mail] = await mailbox(email);
  if (!mail) throw new Error("no reminder");
  return { email, mail };
}

describe("links in messages", () => {
  it("should send the restore link to the store's cart with the items", async () => {
    const { mail } = await reminded();
    const res = await SELF.fetch(await unwrap(linkIn(mail.text, "Return to your cart")), { redirect: "manual" });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location") ?? "");
    expect(location.pathname).toBe("/cart");
    const restore = location.searchParams.get("restore") ?? "";
    expect(JSON.parse(atob(restore.replace(/-/g, "+").replace(/_/g, "/")))).toEqual([
      { product_id: "E7247", quantity: 1 },
    ]);
  });

  it("should refuse a link whose token was edited", async () => {
    const { mail } = await reminded();
    const url = new URL(await unwrap(linkIn(mail.text, "Return to your cart")));
    const token = url.searchParams.get("t") ?? "";
    url.searchParams.set("t", `${token.slice(0, 10)}A${token.slice(11)}`);
    expect((await SELF.fetch(url, { redirect: "manual" })).status).toBe(400);
  });

  it("should unsubscribe in one POST (RFC 8058) and never on a GET", async () => {
    const { email, mail } = await reminded();
    const link = linkIn(mail.text, "Unsubscribe");
    const get = await SELF.fetch(link);
    expect(get.status).toBe(200);
    expect(await get.text()).toContain('<form method="post"');

    const res = await SELF.fetch(link, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    expect(res.status).toBe(200);
    const row = await env.DB.prepare(
      `SELECT unsubscribed FROM contacts c JOIN identities i ON i.contact_id = c.id WHERE i.kind = 'email' AND i.value = ?`,
    )
      .bind(email)
      .first();
    expect(row).toEqual({ unsubscribed: 1 });
  });
});

describe("dev routes", () => {
  it("should need the secret key", async () => {
    expect((await post("/v1/dev/tick", {})).status).toBe(401);
    expect((await post("/v1/dev/tick", {}, { authorization: "Bearer sk_wrong" })).status).toBe(401);
  });

  it("should reject a time that is not ISO 8601", async () => {
    const res = await post("/v1/dev/tick", { at: "tomorrow" }, SECRET);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_at" } });
  });

  it("should not exist outside development", async () => {
    const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
    const req = new Request(`${BASE}/v1/dev/tick`, { method: "POST", headers: SECRET, body: "{}" });
    const res = await worker.fetch(req, { ...env, NUDGE_ENV: "production" }, ctx);
    expect(res.status).toBe(404);
  });
});

describe("demo reset", () => {
  it("should delete the site's shoppers and messages but keep the site", async () => {
    const email = `${uid("r")}@example.com`;
    await shopperWithCart(email);
    const res = await post("/v1/dev/reset", {}, SECRET);
    expect(res.status).toBe(200);
    const body = await res.json<{ cleared: string[] }>();
    expect(body.cleared).toEqual(expect.arrayContaining(["events", "contacts", "identities", "messages", "outbox"]));
    const left = await env.DB.prepare(`SELECT count(*) AS n FROM identities WHERE value = ?`).bind(email).first();
    expect(left).toEqual({ n: 0 });
    expect((await post("/v1/batch", { writeKey: "pk_demo", batch: [] })).status).toBe(400); // site still there
  });
});

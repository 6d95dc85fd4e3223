import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../worker/src/lib/crypto";
import { suppress } from "../../worker/src/model/suppressions";
import { BASE, post, SECRET, sendAsServer, shopperWithCart, uid } from "./helpers";

/**
 * Audiences for ad platforms (issue 18): a named segment's reachable members as a CSV and as the
 * hashed customer lists of Google, Meta and TikTok, current at every pull — a shopper who orders
 * leaves "open cart" — and a pull URL that needs no key but can be replaced or removed.
 */

const admin = (path: string, init: { method?: string; body?: unknown } = {}) =>
  SELF.fetch(`${BASE}/v1/admin/segments${path}`, {
    method: init.method ?? "GET",
    headers: { ...SECRET, "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });

const rows = async (res: Response) => {
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
  return (await res.text()).trimEnd().split("\n");
};

/** Four shoppers with open carts (one unsubscribed, one suppressed), tagged so only this test's people match. */
async function shoppers() {
  const tag = uid("aud").replace(/-/g, "");
  const ann = `A.Nn.${tag}@gmail.com`;
  const bob = `bob.${tag}@shop.example`;
  const cy = `cy.${tag}@shop.example`;
  const annBrowser = await shopperWithCart(ann);
  const bobBrowser = await shopperWithCart(bob);
  await sendAsServer([
    {
      type: "identify",
      anonymousId: bobBrowser,
      traits: { email: bob, phone: "+44 7700 900123", name: "=HYPERLINK(1)" },
    },
  ]);
  await shopperWithCart(cy);
  // Dee's address bounced: suppressed, never in a file.
  const dee = `dee.${tag}@shop.example`;
  await shopperWithCart(dee);
  await suppress(env.DB, "demo", [dee], "bounced", Date.now());
  await env.DB.prepare(`UPDATE contacts SET unsubscribed = 1 WHERE site_id = 'demo' AND email = ?`)
    .bind(cy.toLowerCase())
    .run();
  const id = `open-${tag}`.slice(0, 60);
  const rule = { all: [{ open_cart: true }, { attr: "email", op: "contains", value: tag }] };
  expect((await admin(`/${id}`, { method: "PUT", body: { name: "Open carts", rule } })).status).toBe(200);
  return { tag, id, ann: ann.toLowerCase(), bob: bob.toLowerCase(), annBrowser };
}

describe("audiences", () => {
  it("should list a segment's reachable members, and drop a shopper the moment she orders", async () => {
    const s = await shoppers();
    const before = await rows(await admin(`/${s.id}/members`));
    expect(before[0]).toBe("email,phone,name,user_id,orders_count,total_spent_minor,first_seen,last_seen");
    expect(
      before
        .slice(1)
        .map((l) => l.split(",")[0])
        .sort(),
    ).toEqual([s.ann, s.bob].sort());
    // A name a spreadsheet would run as a formula is defused.
    expect(before.find((l) => l.startsWith(s.bob))).toContain(",+447700900123,'=HYPERLINK(1),");

    await sendAsServer([
      {
        type: "track",
        anonymousId: s.annBrowser,
        event: "Order Completed",
        properties: { order_id: uid("o"), total: 79 },
      },
    ]);
    const after = await rows(await admin(`/${s.id}/members`));
    expect(after.slice(1).map((l) => l.split(",")[0])).toEqual([s.bob]);
  });

  it("should hash normalised addresses the way each ad platform asks", async () => {
    const s = await shoppers();
    // Google: a Gmail address loses the dots of its local part.
    const annGoogle = await sha256Hex(`${s.ann.split("@")[0]?.replace(/\./g, "")}@gmail.com`);
    const google = await rows(await admin(`/${s.id}/members?format=google`));
    expect(google[0]).toBe("Email,Phone");
    expect(google.slice(1).sort()).toEqual(
      [`${annGoogle},`, `${await sha256Hex(s.bob)},${await sha256Hex("+447700900123")}`].sort(),
    );
    const meta = await rows(await admin(`/${s.id}/members?format=meta`));
    expect(meta[0]).toBe("email,phone");
    expect(meta).toContain(`${await sha256Hex(s.bob)},${await sha256Hex("447700900123")}`);
    expect(meta).toContain(`${await sha256Hex(s.ann)},`);
    const tiktok = await rows(await admin(`/${s.id}/members?format=tiktok`));
    expect(tiktok[0]).toBe("Email_SHA256,Phone_SHA256");
    expect(tiktok).toContain(`${await sha256Hex(s.bob)},${await sha256Hex("+447700900123")}`);
    // No address in the clear anywhere in a hashed file.
    for (const file of [google, meta, tiktok]) expect(file.join("\n")).not.toMatch(/@|\+44/);
  });

  it("should serve a pull URL without a key, replace it on demand, and remove it", async () => {
    const s = await shoppers();
    const made = await admin(`/${s.id}/feed`, { method: "POST" });
    expect(made.status).toBe(201);
    const { url, formats } = await made.json<{ url: string; formats: Record<string, string> }>();
    expect(url).toMatch(/\/v1\/audiences\/aud_[A-Za-z0-9_-]{43}$/);
    const path = new URL(url).pathname;
    const pulled = await SELF.fetch(`${BASE}${path}?format=google`, { headers: { origin: "https://evil.example" } });
    expect((await rows(pulled)).length).toBe(3);
    expect(pulled.headers.get("access-control-allow-origin")).toBeNull();
    expect(new URL(formats.meta ?? "").searchParams.get("format")).toBe("meta");
    // The token is not stored, only its hash.
    const stored = await env.DB.prepare(`SELECT feed_token_hash FROM segments WHERE id = ?`).bind(s.id).first();
    expect(JSON.stringify(stored)).not.toContain(path.split("/").pop());

    const replaced = await (await admin(`/${s.id}/feed`, { method: "POST" })).json<{ url: string }>();
    expect((await SELF.fetch(`${BASE}${path}`)).status).toBe(404);
    const newPath = new URL(replaced.url).pathname;
    expect((await SELF.fetch(`${BASE}${newPath}`)).status).toBe(200);
    expect((await admin(`/${s.id}/feed`, { method: "DELETE" })).status).toBe(200);
    expect((await SELF.fetch(`${BASE}${newPath}`)).status).toBe(404);
    expect((await SELF.fetch(`${BASE}/v1/audiences/aud_${"x".repeat(43)}`)).status).toBe(404);
  });

  it("should refuse unknown fields, bad rules and formats, and the public key", async () => {
    const id = uid("seg").toLowerCase();
    const put = (body: unknown) => admin(`/${id}`, { method: "PUT", body });
    const misspelt = await put({ name: "x", rule: { open_cart: true }, rulez: 1 });
    expect(misspelt.status).toBe(400);
    expect(await misspelt.json()).toMatchObject({ error: { message: /rulez/ } });
    const badRule = await put({ name: "x", rule: { open_cart: "yes" } });
    expect(badRule.status).toBe(400);
    expect(await badRule.json()).toMatchObject({ error: { message: /^rule\.open_cart/ } });
    expect((await put({ name: "x", rule: { open_cart: true } })).status).toBe(200);
    expect((await admin(`/${id}/members?format=xls`)).status).toBe(400);
    expect((await admin("/Bad%20Id", { method: "PUT", body: { name: "x", rule: { open_cart: true } } })).status).toBe(
      400,
    );
    const stranger = await SELF.fetch(`${BASE}/v1/admin/segments`, { headers: { authorization: "Bearer pk_demo" } });
    expect(stranger.status).toBe(401);
    const listed = await (await admin("")).json<{ segments: { id: string; feed: boolean }[] }>();
    expect(listed.segments).toContainEqual(expect.objectContaining({ id, feed: false }));
    expect((await admin(`/${id}`, { method: "DELETE" })).status).toBe(200);
    expect((await admin(`/${id}/members`)).status).toBe(404);
    expect((await post(`/v1/admin/segments/${id}/feed`, {}, SECRET)).status).toBe(404);
  });
});
